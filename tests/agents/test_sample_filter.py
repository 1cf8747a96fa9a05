"""The matched-compute control (egcfg_plugin.agents.sample_filter): how many samples it draws,
which one it picks (the agents' selection rule), what it counts, and that only the visible tests
reach its selection."""
from __future__ import annotations

import pytest

from egcfg_plugin.agents import sample_filter as sf
from egcfg_plugin.agents.cache import MemoryCache
from egcfg_plugin.core.decoding import Result
from sandbox.types import TestCase
from task_adapters.base import Problem

PROBLEM = Problem(task_id="t", prompt="write f", entry_point="f",
                  visible_tests=(TestCase.call("f(1)", "2"), TestCase.call("f(2)", "3")))


def _fake(plan):
    """plan: per sample index, (visible passed of 2, tokens); records the calls."""
    calls = []

    def sampler(problem, cfg):
        calls.append(cfg.seed)
        passed, tokens = plan[cfg.seed]
        return Result(task_id=problem.task_id, code=f"# sample {cfg.seed}", text="", config=cfg.compact,
                      seed=cfg.seed, stop_reason="eos", counters={"generated_tokens": tokens},
                      visible_passed=passed, visible_total=2)
    return sampler, calls


def _greedy(passed, tokens=50):
    def greedy(problem, cfg):
        assert cfg.is_baseline
        return Result(task_id=problem.task_id, code="# greedy", text="", config=cfg.compact, seed=0,
                      stop_reason="eos", counters={"generated_tokens": tokens}, visible_passed=passed,
                      visible_total=2)
    return greedy


def test_fixed_n_stops_at_the_first_visible_pass():
    sampler, calls = _fake({0: (1, 40), 1: (0, 40), 2: (2, 40), 3: (2, 40)})
    sel = sf.solve_control(None, None, PROBLEM, sf.SampleFilter(n=4), sampler=sampler, greedy=_greedy(0))
    assert calls == [0, 1, 2] and sel.agent == 2 and sel.rule == "first_visible_pass"
    assert sel.configs == ["sample-t0.8p0.95#0", "sample-t0.8p0.95#1", "sample-t0.8p0.95#2"]


def test_fixed_n_without_a_pass_takes_the_most_visible_ties_to_the_earlier():
    sampler, calls = _fake({0: (0, 10), 1: (1, 10), 2: (1, 10)})
    sel = sf.solve_control(None, None, PROBLEM, sf.SampleFilter(n=3), sampler=sampler, greedy=_greedy(0))
    assert calls == [0, 1, 2] and sel.agent == 1 and sel.rule == "most_visible"


def test_auto_spends_the_budget_then_stops():
    sampler, calls = _fake({i: (0, 30) for i in range(10)})
    sel = sf.solve_control(None, None, PROBLEM, sf.SampleFilter(n="auto"), budget_tokens=100, sampler=sampler,
                           greedy=_greedy(0))
    assert calls == [0, 1, 2, 3]          # 30, 60, 90 < 100, then 120: the budget is spent
    assert sum(sf.tokens_of(r) for r in sel.results) == 120
    with pytest.raises(ValueError, match="mean tokens per task"):
        sf.solve_control(None, None, PROBLEM, sf.SampleFilter(n="auto"), sampler=sampler, greedy=_greedy(0))


def test_greedy_first_settles_or_counts_toward_the_budget():
    sampler, calls = _fake({i: (0, 30) for i in range(10)})
    ctl = sf.SampleFilter(n="auto", greedy_first=True)
    sel = sf.solve_control(None, None, PROBLEM, ctl, budget_tokens=100, sampler=sampler, greedy=_greedy(2))
    assert calls == [] and sel.agent == 0 and sel.configs == ["baseline"]
    sel = sf.solve_control(None, None, PROBLEM, ctl, budget_tokens=100, sampler=sampler, greedy=_greedy(1, 50))
    assert calls == [0, 1] and sel.agent == 0 and sel.rule == "most_visible"   # 50 + 30 + 30 >= 100


def test_samples_are_cached_per_seed():
    cache = MemoryCache()

    class Tok:   # what cache.key needs from a tokenizer: a chat template is not used for text prompts
        pass

    sampler, calls = _fake({0: (0, 10), 1: (0, 10)})
    for _ in range(2):
        sf.solve_control(None, Tok(), PROBLEM, sf.SampleFilter(n=2), sampler=sampler, greedy=_greedy(0),
                         cache=cache, model_id="m")
    assert calls == [0, 1] and cache.hits == 2


@pytest.mark.parametrize("kw, message", [({"n": 0}, "positive integer"), ({"n": "many"}, "positive integer"),
                                         ({"t": 0}, "temperature"), ({"top_p": 1.5}, "top_p")])
def test_bad_settings_are_refused(kw, message):
    with pytest.raises(ValueError, match=message):
        sf.SampleFilter(**kw)
    assert sf.parse_n("auto") == "auto" and sf.parse_n("8") == 8


def test_the_selection_input_is_the_visible_tests_only(monkeypatch):
    """visible_score (what the control's selection reads, core.visible, the same check every face
    uses) runs exactly the problem's visible tests that state a value, nothing else."""
    import sandbox
    from egcfg_plugin.core.visible import visible_score

    ran = []

    class R:
        passed = True

    def run_many(pairs, **kw):
        ran.extend(t for _, t in pairs)
        return [R() for _ in pairs]

    monkeypatch.setattr(sandbox, "run_many", run_many)
    problem = Problem(task_id="t", prompt="p", entry_point="f",
                      visible_tests=PROBLEM.visible_tests + (TestCase.call("f(3)"),))
    assert visible_score(problem.visible_tests, "def f(x): return x + 1") == (2, 2)
    assert ran == list(PROBLEM.visible_tests)


def test_sample_program_on_the_tiny_model(tiny):
    """A real sample through the HF backend: cut at the code's end, counted, and reproducible."""
    model, tok = tiny
    problem = Problem(task_id="t", prompt=({"role": "user", "content": "write f"},), entry_point="f",
                      visible_tests=(TestCase.call("f(1)", "2"),))
    cfg = sf.SampleConfig(t=1.0, top_p=0.9, seed=3, max_new_tokens=24)
    a = sf.sample_program(model, tok, problem, cfg)
    b = sf.sample_program(model, tok, problem, cfg)
    assert a.code == b.code and a.tokens == b.tokens and 0 < len(a.tokens) <= 24
    assert a.counters["generated_tokens"] == len(a.tokens) and a.visible_total == 1
    assert a.config == "sample-t1p0.9+max_new_tokens=24" and a.seed == 3
