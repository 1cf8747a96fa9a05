"""egcfg_codecontests and egcfg_ds1000 in lm-eval: docs hold the prompt and never the hidden tests,
scoring runs the hidden tests in our sandbox, and unscorable rows (special judge, interactive,
missing library) are left out of every mean and counted in `unscorable`, never scored as failures.
The end-to-end runs go through lm-eval's own `simple_evaluate` with a stub model that answers
from a fixed table (no checkpoint)."""
from __future__ import annotations

import json
import math

import pytest

pytest.importorskip("lm_eval")
pytest.importorskip("sandbox.runner")

from egcfg_plugin.harness import lm_eval_tasks  # noqa: E402
from egcfg_plugin.harness.lm_eval_hook import tasks_dir  # noqa: E402
from task_adapters import registry  # noqa: E402
from task_adapters.data import DataNotFound  # noqa: E402

SORTING_1575A = """import sys
data = sys.stdin.read().split()
n, m = int(data[0]), int(data[1])
books = data[2:2 + n]
key = lambda i: tuple(ord(c) if j % 2 == 0 else -ord(c) for j, c in enumerate(books[i]))
print(" ".join(str(i + 1) for i in sorted(range(n), key=key)))
"""


def rows_of(name: str) -> list[dict]:
    try:
        return registry.get_adapter(name).load()
    except DataNotFound as e:
        pytest.skip(str(e))


def doc_for(name: str, index: int) -> tuple[dict, dict]:
    adapter = registry.get_adapter(name)
    row = rows_of(name)[index]
    return lm_eval_tasks.make_doc(name, adapter, row), row


def test_codecontests_docs_hold_the_statement_never_the_hidden_tests():
    docs = lm_eval_tasks.load_docs("egcfg_codecontests")["test"]
    rows = rows_of("egcfg_codecontests")
    assert len(docs) == len(rows) == 73
    for doc, row in zip(docs, rows):
        assert row["description"].strip()[:200] in doc["user_text"]
        hidden = row["private_and_generated_tests"]
        never = [i for i in hidden["input"] if i.strip() not in {p.strip() for p in row["public_tests"]["input"]}]
        longest = max(never, key=len).strip()      # short inputs ("X") occur in any text
        assert len(longest) < 20 or longest not in json.dumps(doc)
        assert set(doc) == {"task_id", "benchmark", "user_text", "gen_prefix", "code_prefix", "entry_point"}
        assert doc["gen_prefix"] == "```python\n" and doc["entry_point"] == ""


def test_codecontests_scored_on_hidden_tests_and_unscorable_rows_are_left_out():
    doc, row = doc_for("egcfg_codecontests", 0)          # 1575_A
    good = lm_eval_tasks.process_results(doc, [SORTING_1575A + "```\nThis sorts the books."])
    assert good == {"pass@1": 1.0, "pass@1_never_seen": 1.0, "visible_pass@1": 1.0, "unscorable": 0.0}
    wrong = lm_eval_tasks.process_results(doc, [SORTING_1575A.replace("-ord(c)", "ord(c)")])
    assert wrong["pass@1"] == 0.0 and wrong["pass@1_never_seen"] == 0.0 and wrong["unscorable"] == 0.0
    judge_doc, _ = doc_for("egcfg_codecontests", 16)     # 1579_D: special judge
    out = lm_eval_tasks.process_results(judge_doc, ["print(1)\n"])
    assert out == {"pass@1": None, "pass@1_never_seen": None, "visible_pass@1": None, "unscorable": 1.0}


def test_ds1000_reference_passes_and_a_missing_library_is_unscorable():
    doc, row = doc_for("egcfg_ds1000", 0)                # Pandas, its prompt shows the data
    out = lm_eval_tasks.process_results(doc, [row["reference_code"] + "\n```"])
    # its visible test only runs the snippet (it states no value): not counted as a visible pass
    assert out == {"pass@1": 1.0, "pass@1_never_seen": None, "visible_pass@1": None, "unscorable": 0.0}
    blank = lm_eval_tasks.process_results(doc, ["\n```"])
    assert blank["pass@1"] == 0.0 and blank["unscorable"] == 0.0
    adapter = registry.get_adapter("egcfg_ds1000")
    index = next(i for i, r in enumerate(rows_of("egcfg_ds1000")) if adapter.unscorable(r))
    missing_doc, missing_row = doc_for("egcfg_ds1000", index)
    out = lm_eval_tasks.process_results(missing_doc, [missing_row["reference_code"]])
    assert out["unscorable"] == 1.0 and out["pass@1"] is None and out["visible_pass@1"] is None


def test_count_and_mean_defined_aggregate_around_unscorable_rows():
    assert lm_eval_tasks.count([0.0, 1.0, 1.0]) == 2.0
    assert lm_eval_tasks.mean_defined([1.0, None, 0.0]) == 0.5
    assert math.isnan(lm_eval_tasks.mean_defined([None]))


# -- through lm-eval itself ------------------------------------------------------------------------
class TableLM:
    """An lm-eval LM that answers each doc from `answers[task_id]` (else a blank program)."""

    def __new__(cls, answers: dict[str, str]):
        from lm_eval.api.model import LM

        class _Table(LM):
            def generate_until(self, requests, disable_tqdm: bool = False):
                return [answers.get(str(r.doc["task_id"]), "\n") for r in requests]

            def loglikelihood(self, requests, disable_tqdm: bool = False):
                raise NotImplementedError

            def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
                raise NotImplementedError

        return _Table()


def evaluate(task: str, samples: list[int], answers: dict[str, str]) -> dict:
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    out = simple_evaluate(model=TableLM(answers), tasks=[task], samples={task: samples},
                          task_manager=TaskManager(include_path=tasks_dir()), confirm_run_unsafe_code=True,
                          bootstrap_iters=0, log_samples=False)
    return out["results"][task]


def test_lm_eval_codecontests_counts_unscorable_outside_the_mean():
    rows = rows_of("egcfg_codecontests")
    # 1575_A answered right, 1575_B answered with a blank program, 1579_D (special judge) unscorable
    res = evaluate("egcfg_codecontests", [0, 1, 16], {rows[0]["name"]: SORTING_1575A})
    assert res["pass@1,none"] == 0.5 and res["unscorable,none"] == 1.0
    assert res["visible_pass@1,none"] == 0.5 and res["pass@1_never_seen,none"] == 0.5


def test_lm_eval_ds1000_counts_unscorable_outside_the_mean():
    adapter = registry.get_adapter("egcfg_ds1000")
    rows = rows_of("egcfg_ds1000")
    missing = next(i for i, r in enumerate(rows) if adapter.unscorable(r))
    answers = {adapter.task_id(rows[0]): rows[0]["reference_code"]}
    res = evaluate("egcfg_ds1000", [0, 1, missing], answers)
    assert res["pass@1,none"] == 0.5 and res["unscorable,none"] == 1.0
    assert math.isnan(res["pass@1_never_seen,none"])     # DS-1000 declares no never-seen test
    assert math.isnan(res["visible_pass@1,none"])        # nor a visible test that states a value
