"""`egcfg evalplus codegen` when a served model fails on a task (the endpoint backend's classified
errors): the other tasks are written, the run exits naming the failed ones, and a rerun resumes them."""
import re

import egcfg_plugin.core.decoding as decoding
from egcfg_plugin.core.endpoint_client import EndpointError
from tests.harness.test_evalplus import _codegen, _lines, all_tasks, canonical_stub, he2, tok  # noqa: F401


def test_an_endpoint_error_on_one_task_leaves_the_other_and_a_rerun_resumes_it(canonical_stub, tmp_path,
                                                                                 monkeypatch, capsys):
    working = decoding.generate

    def flaky(model, tokenizer, problem, config, **kw):
        if problem.task_id == "HumanEval/0":
            raise EndpointError("timeout", "http://127.0.0.1:9/v1/completions: no answer within 60 s")
        return working(model, tokenizer, problem, config, **kw)

    monkeypatch.setattr(decoding, "generate", flaky)
    assert _codegen(tmp_path) == 1       # a partial run, not a usage error (2)
    assert re.search(r"1 task\(s\) failed on the endpoint.*HumanEval/0 \(timeout\).*rerun", capsys.readouterr().err)
    samples = next((tmp_path / "humaneval").glob("*_egcfg-*-limit2.jsonl"))
    assert [r["task_id"] for r in _lines(samples)] == ["HumanEval/1"]
    monkeypatch.setattr(decoding, "generate", working)
    assert _codegen(tmp_path) == 0
    assert sorted(r["task_id"] for r in _lines(samples)) == ["HumanEval/0", "HumanEval/1"]
