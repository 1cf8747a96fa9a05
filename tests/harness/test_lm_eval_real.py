"""Side by side on the real default model: `--model egcfg` with gamma=0 and `--model hf` (greedy)
give identical generations on egcfg_humaneval --limit 5 (same model, same prompts)."""
from __future__ import annotations

import pytest

pytest.importorskip("lm_eval")

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def lms():
    from lm_eval.models.huggingface import HFLM

    from egcfg_plugin.harness.lm_eval_model import EGCFGLM
    from egcfg_plugin.core.models import resolve_model_path

    hf = HFLM(pretrained=resolve_model_path("default"), device="cpu", batch_size=1)
    eg = EGCFGLM(pretrained=hf.model, tokenizer=hf.tokenizer, device="cpu", batch_size=1, gamma=0.0)
    return eg, hf


def run(lm, task: str, limit: int):
    from lm_eval import simple_evaluate

    out = simple_evaluate(model=lm, tasks=[task], limit=limit, confirm_run_unsafe_code=True, log_samples=True)
    samples = sorted(out["samples"][task], key=lambda s: s["doc_id"])
    return out["results"][task], [s["resps"][0][0] for s in samples], samples


def test_gamma0_equals_hf_greedy_on_humaneval(lms):
    eg, hf = lms
    eg_results, eg_texts, eg_samples = run(eg, "egcfg_humaneval", 5)
    hf_results, hf_texts, _ = run(hf, "egcfg_humaneval", 5)
    assert len(eg_texts) == 5
    assert eg_texts == hf_texts
    assert eg_results["pass@1,none"] == hf_results["pass@1,none"]
    assert all(s["egcfg"]["config"] == "baseline" and s["egcfg"]["counters"]["refreshes"] == 0 for s in eg_samples)
