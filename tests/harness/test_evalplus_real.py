"""EvalPlus flow on the real default model, 2 HumanEval+ tasks: baseline and EG-CFG codegen, then
EvalPlus's scorer; and our baseline against EvalPlus's own `--backend hf` greedy decoder."""
import json
import re

import pytest

from egcfg_plugin.cli import evalplus as cli_evalplus
from egcfg_plugin.harness import evalplus_decoder as ed

pytestmark = pytest.mark.real_model

TASKS = ("HumanEval/0", "HumanEval/2")


def _pass_at_1(out: str) -> tuple[float, float]:
    base = re.search(r"humaneval \(base tests\)\npass@1:\t([0-9.]+)", out)
    plus = re.search(r"humaneval\+ \(base \+ extra tests\)\npass@1:\t([0-9.]+)", out)
    assert base and plus, out[-2000:]
    return float(base.group(1)), float(plus.group(1))


@pytest.mark.parametrize("config", ["baseline", "s3t0.7d2k1g1.0"])
def test_codegen_then_evalplus_evaluate_on_two_tasks(config, tmp_path, capfd):
    root = tmp_path / "results"
    argv = ["codegen", "--dataset", "humaneval", "--model", "default", "--config", config, "--limit", "2",
            "--root", str(root)]
    assert cli_evalplus.main(argv) == 0
    samples = next((root / "humaneval").glob(f"*_egcfg-{config}_temp_0.0-limit2.jsonl"))
    rows = [json.loads(x) for x in samples.read_text().splitlines()]
    assert [r["task_id"] for r in rows] == ["HumanEval/0", "HumanEval/1"]
    capfd.readouterr()
    assert cli_evalplus.main(["evaluate", "--dataset", "humaneval", "--samples", str(samples)]) == 0
    base, plus = _pass_at_1(capfd.readouterr().out)
    assert 0.0 <= plus <= base <= 1.0


def test_baseline_matches_evalplus_hf_greedy(tmp_path):
    """Our gamma=0 path and EvalPlus's HuggingFaceDecoder decode the same prompt greedily, so after
    EvalPlus's sanitizer the solutions are the same."""
    from evalplus.provider.hf import HuggingFaceDecoder
    from evalplus.sanitize import sanitize

    from egcfg_plugin.core.config import EGCFGConfig
    from egcfg_plugin.core.models import resolve_model_path
    from tests.tiny import real_model

    tasks = ed.load_tasks("humaneval")
    model, tok = real_model()
    ours = ed.EGCFGDecoder("ours", "humaneval", tasks, model, tok, 
                           configs=[EGCFGConfig.parse("baseline+max_new_tokens=768")])
    theirs = HuggingFaceDecoder(name=resolve_model_path("default"), dataset="humaneval", batch_size=1,
                                temperature=0.0, instruction_prefix=ed.INSTRUCTION_PREFIX,
                                response_prefix=ed.RESPONSE_PREFIX, attn_implementation="sdpa", dtype="bfloat16")
    assert not theirs.is_direct_completion() and not ours.is_direct_completion()
    for task_id in TASKS:
        task = tasks[task_id]
        prompt = ed.evalplus_prompt(task)
        a = sanitize(ours.codegen(prompt, do_sample=False, num_samples=1)[0], entrypoint=task["entry_point"])
        b = sanitize(theirs.codegen(prompt, do_sample=False, num_samples=1)[0], entrypoint=task["entry_point"])
        assert a == b, (task_id, a, b)
