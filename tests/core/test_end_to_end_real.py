"""End to end on the real default model: EG-CFG on solves HumanEval tasks (hidden check() passes)."""
import pytest

from egcfg_plugin.core.config import EGCFGConfig
from egcfg_plugin.core.decoding import generate

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def humaneval():
    from task_adapters.registry import get_adapter

    adapter = get_adapter("humaneval")
    return adapter, {row["task_id"]: row for row in adapter.load()}


@pytest.mark.parametrize("task_id", ["HumanEval/23", "HumanEval/7"])
def test_egcfg_solves_humaneval_task(humaneval, task_id):
    from tests.tiny import real_model

    model, tok = real_model()
    adapter, rows = humaneval
    row = rows[task_id]
    problem = adapter.problem(row)
    cfg = EGCFGConfig.parse("s3t0.7d2k1g1.0")
    result = generate(model, tok, problem, cfg)
    # guidance really ran: candidates were executed on the visible examples and steered decoding
    assert result.counters["refreshes"] >= 1 and result.counters["executions"] >= 1
    assert result.counters["cond_decode_tokens"] > 0
    assert any(line.get("guided") for line in result.lines)
    # and the program passes the hidden check() (never shown to the model)
    score = adapter.score(row, result.code)
    assert score.all_passed, (result.code, score.first_failure)
    assert result.visible_passed == result.visible_total == len(problem.visible_tests)
