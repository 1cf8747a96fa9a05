import pytest

from egcfg_plugin.core.config import EGCFGConfig


@pytest.mark.parametrize("text, expected", [
    ("s3t0.75d2k1g1.0", dict(s=3, t=0.75, d=2, k=1, gamma=1.0)),
    ("g3.0d8t1.5", dict(gamma=3.0, d=8, t=1.5, s=3)),
    ("s5t0.7d6k2g0.5p0.9", dict(s=5, d=6, k=2, gamma=0.5, top_p=0.9)),
    ("baseline", dict(gamma=0.0)),
    ("s3t0.7d2k1g1.0+accept_visible_pass=true+prompt_style=brief",
     dict(accept_visible_pass=True, prompt_style="brief")),
])
def test_parse(text, expected):
    cfg = EGCFGConfig.parse(text)
    for key, value in expected.items():
        assert getattr(cfg, key) == value


@pytest.mark.parametrize("text", ["s3t0.75d2k1g1.0", "baseline", "s3t0.7d2k1g1.0+accept_visible_pass=True",
                                  "s5t1.2d8k2g3.0p0.9", "baseline+max_new_tokens=300"])
def test_compact_round_trip(text):
    cfg = EGCFGConfig.parse(text)
    assert cfg.compact == text
    assert EGCFGConfig.parse(cfg.compact) == cfg


def test_distinct_configs_have_distinct_names():
    a = EGCFGConfig.parse("s3t0.7d2k1g1.0")
    b = a.replace(early_stop_repeats=5)
    assert a.compact != b.compact


@pytest.mark.parametrize("text, needle", [
    ("s0", "s=0"), ("g-1", "gamma"), ("t0", "t=0.0"), ("p1.5", "top_p"), ("d0", "d=0"),
    ("x3", "'x3'"), ("s3t0.7+foo=1", "foo"), ("s3+max_new_tokens=abc", "max_new_tokens"),
    ("s3+prompt_style=fancy", "prompt_style"), ("s3+accept_visible_pass=maybe", "accept_visible_pass"),
    ("s2.5", "s='2.5' is not a valid int"),
])
def test_bad_values_name_the_value(text, needle):
    with pytest.raises(ValueError) as err:
        EGCFGConfig.parse(text)
    assert needle in str(err.value)


def test_from_dict_coerces_strings():
    cfg = EGCFGConfig.from_dict({"s": "3", "t": "0.85", "gamma": "0.5", "d": "3"})
    assert (cfg.s, cfg.t, cfg.gamma, cfg.d) == (3, 0.85, 0.5, 3)
    assert not cfg.is_baseline and EGCFGConfig(gamma=0).is_baseline
