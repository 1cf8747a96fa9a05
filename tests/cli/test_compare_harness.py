"""The same numbers from both paths: `egcfg compare` and `lm_eval --model egcfg` (with the chat
template, as the egcfg_* tasks are meant for instruct models) agree task by task on the real
default model, for greedy and for one EG-CFG config, on the first MBPP test tasks."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("lm_eval")

pytestmark = pytest.mark.real_model

LIMIT = 2
CONFIG = {"gamma": 1.0, "s": 3, "t": 0.7, "d": 2, "k": 1}
COMPACT = "s3t0.7d2k1g1.0"


@pytest.fixture(scope="module")
def compare_records(tmp_path_factory):
    from egcfg_plugin.cli import compare as cli_compare

    out = tmp_path_factory.mktemp("compare")
    cli_compare.main(["--task", "mbpp", "--egcfg", COMPACT, "--limit", str(LIMIT), "--out", str(out / "run"),
                      "--cache", str(out / "cache"), "--no-plot"])
    recs = [json.loads(line) for line in (out / "run" / "tasks.jsonl").read_text().splitlines()]
    return {(r["method"], str(r["task_id"])): r for r in recs}


def lm_eval_samples(gamma_config: dict):
    from lm_eval import simple_evaluate

    from egcfg_plugin.harness.lm_eval_model import EGCFGLM

    # cache=False: the lm-eval path must generate the same code itself, not read compare's
    lm = EGCFGLM(pretrained="default", device="cpu", batch_size=1, cache=False, **gamma_config)
    out = simple_evaluate(model=lm, tasks=["egcfg_mbpp"], limit=LIMIT, confirm_run_unsafe_code=True,
                          log_samples=True, apply_chat_template=True)
    return {str(s["doc"]["task_id"]): s for s in out["samples"]["egcfg_mbpp"]}


@pytest.mark.parametrize("method, config", [("baseline", {"gamma": 0.0}), ("egcfg", CONFIG)])
def test_compare_and_lm_eval_agree(compare_records, method, config):
    from egcfg_plugin.harness.lm_eval_tasks import program_of

    samples = lm_eval_samples(config)
    assert len(samples) == LIMIT
    for task_id, sample in samples.items():
        rec = compare_records[(method, task_id)]
        program = program_of(sample["doc"], sample["resps"][0][0])
        assert program.strip() == rec["code"].strip(), f"task {task_id}: different code"
        assert bool(sample["pass@1"]) == rec["solved"], f"task {task_id}: different pass@1"
        assert bool(sample["visible_pass@1"]) == rec["visible_pass"], f"task {task_id}: different visible pass"
