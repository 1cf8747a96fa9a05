"""`egcfg compare --task codecontests|ds1000` end to end with scripted generations (no model: on
2 shared cores the tiny random model spends minutes per CodeContests task on its long prompts,
since EG-CFG's candidates and the control sample their full length): the real adapters score in
the sandbox, the summary has the same columns as MBPP's, the unscorable task (a special judge; a
DS-1000 row needing a library not installed) is left out of every figure and counted, and the
plot is drawn. The data is a two-row subset written to a temporary EGCFG_DATA_DIR."""
from __future__ import annotations

import csv
import gzip
import json

import pytest

pytest.importorskip("sandbox.runner")

import egcfg_plugin.core.decoding as decoding  # noqa: E402
import egcfg_plugin.core.models as models  # noqa: E402
from egcfg_plugin.cli import compare as cli_compare  # noqa: E402
from egcfg_plugin.core.decoding import Result  # noqa: E402
from task_adapters import data, registry  # noqa: E402

# what every benchmark's summary.csv carries (the MBPP columns; see egcfg_plugin/cli/report.py)
COLUMNS = {"method", "pass_at_1_all_scored", "pass_at_1_never_seen", "pass_visible", "solved_only_by_this",
           "median_time_per_task_s"}


SORTING_1575A = """import sys
data = sys.stdin.read().split()
n, m = int(data[0]), int(data[1])
books = data[2:2 + n]
key = lambda i: tuple(ord(c) if j % 2 == 0 else -ord(c) for j, c in enumerate(books[i]))
print(" ".join(str(i + 1) for i in sorted(range(n), key=key)))
"""


@pytest.fixture
def scripted(monkeypatch, tiny):
    """EG-CFG answers `answers[task_id]`, greedy and the control answer a blank program. The model
    is never called; the tokenizer (the default model's) renders prompts for the cache keys."""
    answers: dict[str, str] = {}

    def result(problem, config, code):
        return Result(task_id=problem.task_id, code=code, text="", config=config.compact, seed=config.seed,
                      stop_reason="eos", counters={"wall_s": 1.0, "generated_tokens": 10, "candidate_tokens": 20},
                      visible_passed=0, visible_total=len(problem.visible_tests))

    def generate(model, tokenizer, problem, config, *, backend=None):
        return result(problem, config, "\n" if config.is_baseline else answers.get(problem.task_id, "\n"))

    def sample(model, tokenizer, problem, config, *, backend=None):
        return result(problem, config, "pass\n")

    from egcfg_plugin.agents import sample_filter

    monkeypatch.setattr(decoding, "generate", generate)
    monkeypatch.setattr(sample_filter, "sample_program", sample)
    monkeypatch.setattr(models, "load_model", lambda spec, **kw: (object(), tiny[1]))
    return answers


def subset(task: str, folder, monkeypatch) -> tuple[list[str], list[dict]]:
    """Write the first scorable row and the first unscorable row of `task` under `folder`; return
    their task ids and rows (scorable first)."""
    adapter = registry.get_adapter(task)
    try:
        rows = adapter.load()
    except data.DataNotFound as e:
        pytest.skip(str(e))
    scorable = next(r for r in rows if not adapter.unscorable(r))
    unscorable = next(r for r in rows if adapter.unscorable(r))
    name = {"codecontests": "codecontests/codecontests_test.jsonl", "ds1000": "ds1000/ds1000.jsonl"}[task]
    path = folder / name
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in (scorable, unscorable)))
    monkeypatch.setenv("EGCFG_DATA_DIR", str(folder))
    monkeypatch.setattr(registry, "_instances", {})
    return [adapter.task_id(scorable), adapter.task_id(unscorable)], [scorable, unscorable]


@pytest.mark.parametrize("task", ["codecontests", "ds1000"])
def test_compare_and_report_on_codecontests_and_ds1000(task, scripted, tmp_path, monkeypatch):
    ids, rows = subset(task, tmp_path / "data", monkeypatch)
    scripted[ids[0]] = SORTING_1575A if task == "codecontests" else rows[0]["reference_code"]
    scripted[ids[1]] = "print(1)\n"          # whatever it is, the unscorable task is not counted
    out = tmp_path / "run"
    cli_compare.main(["--task", task, "--egcfg", "s2t0.7d1k1g1.0", "--control", "sample-filter", "--control-n", "2",
                      "--out", str(out), "--cache", str(tmp_path / "cache")])
    records = [json.loads(line) for line in (out / "tasks.jsonl").read_text().splitlines()]
    assert {r["task_id"] for r in records} == set(ids)
    assert {r["method"] for r in records} == {"baseline", "egcfg", "control"}
    by = {(r["task_id"], r["method"]): r for r in records}
    assert by[(ids[0], "egcfg")]["solved"] is True and by[(ids[0], "baseline")]["solved"] is False
    assert by[(ids[1], "egcfg")]["unscorable"] and not by[(ids[0], "egcfg")]["unscorable"]
    rows_csv = {r["method"]: r for r in csv.DictReader((out / "summary.csv").open())}
    assert COLUMNS <= set(rows_csv["egcfg"])
    assert float(rows_csv["egcfg"]["pass_at_1_all_scored"]) == 1.0       # 1/1: the unscorable task is out
    assert float(rows_csv["baseline"]["pass_at_1_all_scored"]) == 0.0
    never_seen = rows_csv["egcfg"]["pass_at_1_never_seen"]
    assert (float(never_seen) == 1.0) if task == "codecontests" else never_seen in ("", "nan")   # DS-1000: none
    md = (out / "summary.md").read_text()
    assert "1 unscorable task(s) left out of every figure" in md
    assert (out / "compare.png").exists()
