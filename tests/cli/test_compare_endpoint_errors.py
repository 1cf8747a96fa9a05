"""`egcfg compare` when a served model fails on some tasks (the endpoint backend's classified
errors): the other tasks go on, the failed ones get no record, and a rerun resumes only them."""
from __future__ import annotations

import egcfg_plugin.core.decoding as decoding
from egcfg_plugin.core.endpoint_client import EndpointError
from tests.cli.test_compare import G1, _records, _run, env  # noqa: F401  (env is a fixture)


def test_an_endpoint_error_on_one_task_leaves_the_others_and_a_rerun_resumes_it(env, monkeypatch, caplog):
    working = decoding.generate

    def flaky(model, tokenizer, problem, config, *, backend=None):
        if problem.task_id == "1":
            raise EndpointError("down", "http://127.0.0.1:9/v1/completions: server unreachable (refused)")
        return working(model, tokenizer, problem, config, backend=backend)

    monkeypatch.setattr(decoding, "generate", flaky)
    _run(env, "--no-plot")
    first = {(r["task_id"], r["method"]) for r in _records(env.out)}
    assert {t for t, _ in first} == {"0", "2", "3"}
    assert "1 (baseline: down)" in caplog.text and "rerun the same command" in caplog.text

    monkeypatch.setattr(decoding, "generate", working)
    env.calls.clear()
    _run(env, "--no-plot")
    assert {t for t, _ in env.calls} == {"1"}
    assert {r["task_id"] for r in _records(env.out)} == {"0", "1", "2", "3"}
