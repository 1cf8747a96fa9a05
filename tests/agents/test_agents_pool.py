"""The worker pool: agents of a task in parallel, early settling with cancellation, caching.

Workers are real spawned processes; the model, backend and decoding loop are the stand-ins of
tests/fake_agents.py (each fake generation calls backend.forward every 10 ms, so cancellation
goes through the same check as a real one)."""
from __future__ import annotations

import time

import pytest

from egcfg_plugin.agents.solve import solve, solve_groups
from egcfg_plugin.agents.cache import MemoryCache
from egcfg_plugin.agents.pool import AgentPool
from egcfg_plugin.core.config import EGCFGConfig
from task_adapters.base import Problem

A, B, C = (EGCFGConfig.parse(c) for c in ("baseline", "s3t0.7d2k1g1.0", "s3t0.7d2k1g3.0"))
PROBLEM = Problem(task_id="t1", prompt="def f(x):\n", entry_point="f", code_prefix="def f(x):\n")


def _pool(plan, workers=2):
    return AgentPool("fake", workers, loader="tests.fake_agents:fake_loader", loader_kwargs={"plan": plan},
                     backend="tests.fake_agents:FakeBackend", generate="tests.fake_agents:fake_generate",
                     start_timeout_s=120)


@pytest.fixture(scope="module")
def pool():
    # A fails fast, B passes after 0.5 s, C would take 8 s (and also pass)
    plan = {A.compact: (0.1, 0, 1), B.compact: (0.5, 1, 1), C.compact: (8.0, 1, 1)}
    with _pool(plan) as p:
        yield p


def test_a_settled_task_cancels_the_running_agents(pool):
    t0 = time.monotonic()
    sel = solve(None, None, PROBLEM, [A, B, C], pool=pool, model_id="fake")
    took = time.monotonic() - t0
    assert (sel.agent, sel.rule) == (1, "first_visible_pass")
    assert sel.results[2] is None
    assert took < 5, f"the 8 s agent was not cancelled (took {took:.1f}s)"
    assert pool.jobs_cancelled >= 1


def test_a_later_agent_passing_first_does_not_settle_the_task(pool):
    plan_order = [C, B]   # C is slow but comes first, so B's pass must wait for C
    t0 = time.monotonic()
    sel = solve(None, None, PROBLEM, plan_order, pool=pool, model_id="fake")
    assert sel.agent == 0 and sel.rule == "first_visible_pass"
    assert time.monotonic() - t0 >= 7.5


def test_groups_share_workers_and_a_shared_config_runs_once(pool):
    cache = MemoryCache()
    out = solve_groups(None, None, PROBLEM, {"baseline": [A], "egcfg": [A, B]}, pool=pool, cache=cache,
                       model_id="fake")
    assert out["baseline"].agent == 0 and out["egcfg"].agent == 1
    assert cache.misses == 2 and len(cache) == 2           # A once, B once
    again = solve(None, None, PROBLEM, [A, B], pool=pool, cache=cache, model_id="fake")
    assert again.cached == [True, True]


def test_worker_errors_surface_with_the_workers_traceback():
    with pytest.raises(RuntimeError, match="could not load"):
        AgentPool("fake", 1, loader="tests.fake_agents:no_such_loader", start_timeout_s=60)


@pytest.mark.slow
def test_workers_with_a_real_model_give_the_sequential_results(tiny, tmp_path):
    """The tiny random model, saved and loaded by two workers: each agent's generation is the one
    the in-process path makes (greedy and EG-CFG alike)."""
    model, tokenizer = tiny
    model.save_pretrained(tmp_path / "tiny")
    tokenizer.save_pretrained(tmp_path / "tiny")
    from task_adapters.registry import get_adapter

    adapter = get_adapter("egcfg_mbpp")
    problem = adapter.problem(adapter.load(1)[0], style="chat")
    configs = [EGCFGConfig.parse(c, max_new_tokens=16) for c in ("baseline", "s2t0.7d1k1g1.0")]
    from egcfg_plugin.core.models import load_model

    local_model, local_tok = load_model(str(tmp_path / "tiny"))
    seq = solve(local_model, local_tok, problem, configs, all_agents=True)
    with AgentPool(str(tmp_path / "tiny"), 2, start_timeout_s=300) as pool:
        par = solve(None, local_tok, problem, configs, pool=pool, all_agents=True)
    assert [r.tokens for r in par.results] == [r.tokens for r in seq.results]
    assert [r.code for r in par.results] == [r.code for r in seq.results]
    assert par.agent == seq.agent and par.rule == seq.rule
