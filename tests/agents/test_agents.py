"""Agent grids, the selection rule, sequential solving with early settling, and the cache."""
from __future__ import annotations

import pytest

import egcfg_plugin.core.decoding as decoding
from egcfg_plugin.agents.grid import expand_grid, grid_from_settings, load_grid, shipped_grids
from egcfg_plugin.agents.selection import needed, select, settled_at
from egcfg_plugin.agents.solve import solve
from egcfg_plugin.agents.cache import GenerationCache, MemoryCache
from egcfg_plugin.core.config import EGCFGConfig
from egcfg_plugin.core.decoding import Result
from task_adapters.base import Problem
from sandbox.types import TestCase

from tests.fake_agents import fake_generate


def _res(passed, total, config="x"):
    return Result(task_id="t", code=f"# {config}\n", text="", config=config, seed=0, stop_reason="eos",
                  counters={"wall_s": 1.0}, visible_passed=passed, visible_total=total)


def _problem(task_id="t1", prompt="def f(x):\n"):
    return Problem(task_id=task_id, prompt=prompt, entry_point="f", code_prefix="def f(x):\n",
                   visible_tests=(TestCase.call("assert f(1) == 2"),))


# -- grids -------------------------------------------------------------------------------------
def test_grid_expands_in_documented_order_and_collapses_greedy():
    configs = expand_grid({"grid": {"t": [0.7, 1.2], "gamma": [0, 1, 3], "d": [2, 6], "s": 3, "k": [1]}})
    names = [c.compact for c in configs]
    # gamma outermost, then d, then t; every gamma=0 point is the same greedy agent
    assert names == ["baseline",
                     "s3t0.7d2k1g1.0", "s3t1.2d2k1g1.0", "s3t0.7d6k1g1.0", "s3t1.2d6k1g1.0",
                     "s3t0.7d2k1g3.0", "s3t1.2d2k1g3.0", "s3t0.7d6k1g3.0", "s3t1.2d6k1g3.0"]


def test_explicit_agents_come_first_and_fixed_applies_to_all():
    configs = expand_grid({"agents": ["s3t0.7d2k1g1.0"], "grid": {"gamma": [3]}, "fixed": {"max_new_tokens": 64}})
    assert [c.gamma for c in configs] == [1.0, 3.0]
    assert all(c.max_new_tokens == 64 for c in configs)


def test_paper_grid_has_the_papers_73_agents():
    configs = load_grid("paper_grid")
    assert len(configs) == 1 + 3 * 4 * 6
    assert {c.t for c in configs if c.gamma} == {0.7, 0.75, 0.85, 0.95, 1.2, 1.5}
    assert {c.d for c in configs if c.gamma} == {2, 3, 6, 8}
    assert {c.gamma for c in configs} == {0, 0.5, 1, 3}
    assert {(c.s, c.k) for c in configs} == {(3, 1)}


def test_grid_from_settings_one_config_list_axes_or_a_named_grid():
    """The one owner of grid parsing for harness settings (lm-eval's --model_args)."""
    (one,) = grid_from_settings({"gamma": 1.0, "s": 3, "t": 0.7, "d": 2})
    assert one.compact == "s3t0.7d2k1g1.0"
    axes = grid_from_settings({"gamma": [0.0, 1.0], "d": [2, 6], "s": 2})
    assert [c.compact for c in axes] == ["baseline", "s2t0.7d2k1g1.0", "s2t0.7d6k1g1.0"]
    assert [c.compact for c in axes] == [c.compact for c in expand_grid({"grid": {"gamma": [0.0, 1.0], "d": [2, 6]},
                                                                        "fixed": {"s": 2}})]
    named = grid_from_settings({"grid": "quick", "seed": 5})
    assert [c.replace(seed=0).compact for c in named] == [c.compact for c in load_grid("quick")]
    assert {c.seed for c in named} == {5}
    with pytest.raises(ValueError, match="either grid= or list values"):
        grid_from_settings({"grid": "quick", "gamma": [0.0, 1.0]})
    with pytest.raises(ValueError, match="gamma is an empty list"):
        grid_from_settings({"gamma": []})


def test_shipped_grids_load_by_name_and_path():
    assert {"quick", "paper_grid"} <= set(shipped_grids())
    quick = load_grid("quick")
    assert quick and quick[0].is_baseline
    from egcfg_plugin.agents.grid import SHIPPED_DIRS

    assert [c.compact for c in load_grid(str(SHIPPED_DIRS[0] / "quick.yaml"))] == [c.compact for c in quick]


def test_compact_lists_are_grids():
    assert [c.compact for c in load_grid(["baseline", "s3t0.7d2k1g3.0"])] == ["baseline", "s3t0.7d2k1g3.0"]
    assert [c.compact for c in load_grid("s3t0.7d2k1g1.0, s2t1.2d3k1g3.0")] == ["s3t0.7d2k1g1.0", "s2t1.2d3k1g3.0"]


@pytest.mark.parametrize("data, words", [
    ({"grid": {"temp": [0.7]}}, ["temp", "'t'"]),
    ({"agent": ["baseline"]}, ["agent", "'agents'"]),
    ({"grid": {"t": [0.7]}, "fixed": {"sead": 1}}, ["sead", "'seed'"]),
])
def test_unknown_keys_are_named_with_a_suggestion(data, words):
    with pytest.raises(ValueError) as e:
        expand_grid(data)
    for w in words:
        assert w in str(e.value)


@pytest.mark.parametrize("text", ["", "description: nothing\n", "grid: {}\n", "agents: []\n", "grid:\n  t: []\n"])
def test_empty_grids_are_errors(tmp_path, text):
    path = tmp_path / "g.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match="empty|no values"):
        load_grid(str(path))


def test_bad_specs_are_errors():
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_grid("nope.yaml")
    with pytest.raises(ValueError, match="unknown grid 'quik'. Did you mean 'quick'"):
        load_grid("quik")
    for spec, says in [("quik", "Did you mean 'quick'"), ("s3t0.7d2k1g1.0+gama=1", "did you mean 'gamma'"),
                       ("gama=1", "'+key=value'"), ("s3t0.7d2k1g-1", "gamma=-1.0 is out of range")]:
        with pytest.raises(ValueError) as e:
            load_grid(spec)
        assert says in str(e.value) and len(str(e.value)) < 200, str(e.value)


# -- selection ---------------------------------------------------------------------------------
def test_first_agent_passing_every_visible_test_wins():
    sel = select([_res(1, 2), _res(2, 2), _res(2, 2)])
    assert (sel.agent, sel.rule, sel.any_visible_pass) == (1, "first_visible_pass", True)


def test_otherwise_most_visible_tests_ties_to_agent_order():
    sel = select([_res(0, 3), _res(2, 3), None, _res(2, 3)])
    assert (sel.agent, sel.rule, sel.any_visible_pass) == (1, "most_visible", False)


def test_no_visible_tests_takes_the_first_agent_that_ran():
    sel = select([None, _res(0, 0), _res(0, 0)])
    assert (sel.agent, sel.rule) == (1, "no_visible_tests")


def test_settled_only_when_every_earlier_agent_is_done():
    assert settled_at([None, _res(1, 1)]) is None
    assert settled_at([_res(0, 1), _res(1, 1), None]) == 1
    assert settled_at([_res(0, 1), _res(0, 1)]) is None


def test_an_agent_is_needed_until_an_earlier_one_passes_even_if_others_still_run():
    """The worker pool's cancel rule (agents.pool) and settled_at read the same rule."""
    results = [None, _res(1, 1), None, None]
    assert needed(results, 0) and needed(results, 1)
    assert not needed(results, 2) and not needed(results, 3)   # agent 1 passes: later ones cannot win
    assert settled_at(results) is None                           # ...but agent 0 may still pass first
    assert needed([_res(0, 1), _res(0, 1)], 1)


# -- sequential solving ------------------------------------------------------------------------
@pytest.fixture
def counting_generate(monkeypatch):
    calls = []
    plan = {"baseline": (0, 0, 1), "s3t0.7d2k1g1.0": (0, 1, 1), "s3t0.7d2k1g3.0": (0, 1, 1)}

    def gen(model, tokenizer, problem, config, *, backend=None):
        calls.append(config.compact)
        return fake_generate({"plan": plan}, tokenizer, problem, config)

    monkeypatch.setattr(decoding, "generate", gen)
    return calls


CONFIGS = [EGCFGConfig.parse(c) for c in ("baseline", "s3t0.7d2k1g1.0", "s3t0.7d2k1g3.0")]


def test_sequential_agents_stop_once_the_task_is_settled(counting_generate):
    sel = solve(None, None, _problem(), CONFIGS, model_id="m")
    assert counting_generate == ["baseline", "s3t0.7d2k1g1.0"]
    assert (sel.agent, sel.rule, sel.agents_run) == (1, "first_visible_pass", 2)
    assert sel.results[2] is None


def test_all_agents_runs_every_agent(counting_generate):
    sel = solve(None, None, _problem(), CONFIGS, all_agents=True, model_id="m")
    assert counting_generate == [c.compact for c in CONFIGS]
    assert sel.agent == 1 and sel.agents_run == 3


def test_cache_serves_repeats_and_never_changes_the_selection(counting_generate, tmp_path):
    cache = GenerationCache(tmp_path)
    solve(None, None, _problem(), CONFIGS, all_agents=True, cache=cache, model_id="m")
    assert len(counting_generate) == 3
    sel = solve(None, None, _problem(), CONFIGS, cache=GenerationCache(tmp_path), model_id="m")  # a new run
    assert len(counting_generate) == 3                      # nothing generated again
    assert sel.agent == 1 and sel.results[2] is None        # the cached third agent is not part of the answer
    assert sel.cached == [True, True, False]
    solve(None, None, _problem(), CONFIGS[:1], cache=cache, model_id="another-model")
    solve(None, None, _problem(prompt="def f(x):\n  # other\n"), CONFIGS[:1], cache=cache, model_id="m")
    assert counting_generate[3:] == ["baseline", "baseline"]


def test_cache_key_covers_config_seed_model_prompt_and_tests():
    base = EGCFGConfig()
    p = _problem()
    key = GenerationCache.key("m", None, p, base)
    others = [GenerationCache.key("m2", None, p, base), GenerationCache.key("m", None, p, base.replace(seed=1)),
              GenerationCache.key("m", None, p, base.replace(t=0.8)),
              GenerationCache.key("m", None, _problem(prompt="def f(x):\n#\n"), base),
              GenerationCache.key("m", None, Problem(task_id="t1", prompt="def f(x):\n", entry_point="f",
                                                     code_prefix="def f(x):\n"), base)]
    assert key == GenerationCache.key("m", None, p, base)
    assert len({key, *others}) == 1 + len(others)


def test_cached_results_round_trip(tmp_path):
    r = _res(2, 3, "s3t0.7d2k1g1.0")
    r.lines = [{"n": 0, "text": "x = 1", "guided": True}]
    cache = GenerationCache(tmp_path)
    cache.put("k", r, model_id="m")
    back = GenerationCache(tmp_path).get("k")
    assert back.to_dict() == r.to_dict()
    mem = MemoryCache()
    mem.put("k", r)
    assert mem.get("k").to_dict() == r.to_dict() and mem.get("other") is None


def test_generation_cache_location_follows_the_environment(tmp_path, monkeypatch):
    from egcfg_plugin.agents.cache import GenerationCache

    # the test session's own cache (tests/conftest.py), never the user's ~/.cache/egcfg
    assert "egcfg-test-generations-" in str(GenerationCache().root)
    monkeypatch.setenv("EGCFG_GENERATION_CACHE", str(tmp_path / "gen"))
    assert GenerationCache().root == tmp_path / "gen"
    monkeypatch.delenv("EGCFG_GENERATION_CACHE")
    monkeypatch.setenv("EGCFG_CACHE_DIR", str(tmp_path / "all"))
    assert GenerationCache().root == tmp_path / "all" / "generations"
