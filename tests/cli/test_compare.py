"""`egcfg compare` / `egcfg report` end to end on a scripted benchmark (no model): records,
resuming, the cache, the summary numbers, flips, and bad input refused before any model loads."""
from __future__ import annotations

import csv
import json
import sys
import types

import pytest

import egcfg_plugin.core.decoding as decoding
import egcfg_plugin.core.models as models
from egcfg_plugin.cli import compare as cli_compare
from egcfg_plugin.core.decoding import Result
from task_adapters.base import Problem
from egcfg_plugin.cli.report import wilson
from sandbox.types import ExecResult, Status, TestCase
from task_adapters.base import NEVER_SEEN, SEEN, Score, Taxonomy

G1 = "s3t0.7d2k1g1.0"
# task -> config -> (visible passed of 2, all scored tests pass[, never-seen tests pass])
PLAN = {
    "0": {"baseline": (2, True), G1: (0, False)},      # greedy settles it: EG-CFG takes it too
    "1": {"baseline": (0, False), G1: (2, True)},      # solved by EG-CFG only
    "2": {"baseline": (1, True), G1: (2, False)},      # solved by the baseline only (visible tests mislead)
    "3": {"baseline": (0, False), G1: (1, False, True)},   # neither; EG-CFG passes the never-seen tests
}


def _score(passes: list[bool], kinds: list[str]) -> Score:
    results = [ExecResult(Status.PASSED if ok else Status.FAILED) for ok in passes]
    return Score(passed=sum(passes), total=len(passes), results=results, kinds=kinds)


class FakeAdapter:
    name = "fake"
    taxonomy = Taxonomy(seen="the first assert", never_seen="two more asserts")

    def load(self, limit=None):
        return [{"task_id": t} for t in PLAN][:limit]

    def task_id(self, row):
        return row["task_id"]

    def normalize_id(self, task_id):
        return str(int(task_id))

    def problem(self, row, style="chat", wording=None):
        return Problem(task_id=row["task_id"], prompt=f"task {row['task_id']}\ndef f(x):\n", entry_point="f",
                       code_prefix="def f(x):\n", visible_tests=(TestCase.call("assert f(1)"),) * 2)

    def score(self, row, code):
        key = code.split("#")[1].strip()
        plan = PLAN[row["task_id"]].get(key) or (0, key == "ctl1" and row["task_id"] == "2")
        ok, never_seen_ok = plan[1], plan[2] if len(plan) > 2 else plan[1]
        return _score([ok, never_seen_ok, never_seen_ok], [SEEN, NEVER_SEEN, NEVER_SEEN])


@pytest.fixture
def env(monkeypatch, tmp_path):
    calls = []

    def gen(model, tokenizer, problem, config, *, backend=None):
        calls.append((problem.task_id, config.compact))
        visible = PLAN[problem.task_id][config.compact][0]
        return Result(task_id=problem.task_id, code=f"def f(x):\n    pass  # {config.compact}\n", text="",
                      config=config.compact, seed=0, stop_reason="eos",
                      counters={"wall_s": 1.0 if config.is_baseline else 5.0, "generated_tokens": 10,
                                "candidate_tokens": 0 if config.is_baseline else 30},
                      visible_passed=visible, visible_total=2)

    registry = types.ModuleType("task_adapters.registry")

    def get_adapter(name, **kwargs):
        if name != "fake":
            raise KeyError(f"unknown task {name!r}")
        return FakeAdapter()

    registry.get_adapter = get_adapter
    monkeypatch.setitem(sys.modules, "task_adapters.registry", registry)
    import task_adapters

    monkeypatch.setattr(task_adapters, "registry", registry, raising=False)  # `from task_adapters import registry`
    monkeypatch.setattr(decoding, "generate", gen)

    def sample(model, tokenizer, problem, cfg, *, backend=None):   # the control's samples: 25 tokens each
        calls.append((problem.task_id, f"ctl{cfg.seed}"))
        return Result(task_id=problem.task_id, code=f"def f(x):\n    pass  # ctl{cfg.seed}\n", text="",
                      config=cfg.compact, seed=cfg.seed, stop_reason="eos", counters={"generated_tokens": 25},
                      visible_passed=2 if (problem.task_id, cfg.seed) == ("2", 1) else 0, visible_total=2)

    from egcfg_plugin.agents import sample_filter
    monkeypatch.setattr(sample_filter, "sample_program", sample)
    loads = []
    monkeypatch.setattr(models, "load_model", lambda spec, **kw: loads.append(spec) or (object(), None))
    return types.SimpleNamespace(calls=calls, loads=loads, out=tmp_path / "run", cache=tmp_path / "cache")


def _run(env, *extra):
    argv = ["--task", "fake", "--egcfg", f"baseline,{G1}", "--out", str(env.out), "--cache", str(env.cache), *extra]
    return cli_compare.main(argv)


def _records(out):
    return [json.loads(line) for line in (out / "tasks.jsonl").read_text().splitlines()]


def test_compare_writes_every_output_with_the_right_numbers(env):
    _run(env)
    recs = {(r["task_id"], r["method"]): r for r in _records(env.out)}
    assert len(recs) == 8
    assert [recs[(t, "egcfg")]["config"] for t in PLAN] == ["baseline", G1, G1, G1]
    assert recs[("0", "egcfg")]["agents_run"] == 1 and recs[("0", "egcfg")]["cached"] == 1
    assert recs[("3", "egcfg")]["rule"] == "most_visible"
    # greedy is generated once per task: the grid's greedy agent reads the baseline's generation
    assert sorted(env.calls) == sorted([(t, "baseline") for t in PLAN] + [(t, G1) for t in "123"])
    assert [recs[(t, m)]["solved"] for m in ("baseline", "egcfg") for t in PLAN] == [
        True, False, True, False, True, True, False, False]

    md = (env.out / "summary.md").read_text()
    lo, hi = wilson(2, 4)
    rows_md = {line.split(" | ")[0]: line.split(" | ") for line in md.splitlines() if "| CPU" in line}
    # all scored tests, then never-seen only: task 3's EG-CFG answer fails only a seen test
    assert rows_md["| baseline (greedy)"][1:4] == ["50.0% (2/4)", f"{100 * lo:.1f}-{100 * hi:.1f}%", "50.0% (2/4)"]
    assert rows_md["| EG-CFG (2 agents)"][1] == "50.0% (2/4)" and rows_md["| EG-CFG (2 agents)"][3] == "75.0% (3/4)"
    assert "| baseline (greedy) | never-seen tests only | 4 | 2 | 1 | 1 |" in md     # sign test: 2 vs 1, p = 1
    assert "| EG-CFG (" in md and "| baseline (greedy) |" in md
    rows = {r["method"]: r for r in csv.DictReader((env.out / "summary.csv").open())}
    assert rows["baseline"]["solved_only_by_this"] == "1" and rows["egcfg"]["solved_only_by_this"] == "1"
    assert rows["egcfg"]["pass_at_1_never_seen"] == "0.7500" and rows["baseline"]["pass_at_1_all_scored"] == "0.5000"
    assert rows["baseline"]["vs_egcfg_egcfg_only_never_seen"] == "2" and rows["egcfg"]["vs_egcfg_egcfg_only_all"] == ""
    assert float(rows["egcfg"]["median_time_per_task_s"]) == 6.0     # greedy 1 s + EG-CFG 5 s
    assert float(rows["baseline"]["pass_visible"]) == 0.25 and float(rows["egcfg"]["pass_visible"]) == 0.75

    flips = (env.out / "flips.md").read_text()
    only_eg, only_base = flips.split("## Solved only by the baseline")
    assert "`1`" in only_eg and "`2`" not in only_eg and "`2`" in only_base
    assert "logs/egcfg/1.json" in only_eg and "tasks.jsonl#L" in only_eg
    log = json.loads((env.out / "logs/egcfg/1.json").read_text())
    assert [a["config"] for a in log["agents"]] == ["baseline", G1] and log["agent"] == 1
    assert (env.out / "compare.png").stat().st_size > 10_000
    assert env.loads == ["default"]


def test_reruns_resume_from_records_then_from_the_cache(env):
    _run(env, "--limit", "2")
    first = len(env.calls)
    _run(env, "--limit", "2")
    assert len(env.calls) == first                         # records say both tasks are done
    (env.out / "tasks.jsonl").unlink()
    _run(env, "--limit", "2")
    assert len(env.calls) == first                         # cache: nothing generated again
    assert len(_records(env.out)) == 4
    _run(env)                                              # a larger limit runs only the new tasks
    assert {t for t, _ in env.calls[first:]} == {"2", "3"}


def test_report_re_renders_without_running(env, capsys):
    _run(env, "--no-plot")
    (env.out / "summary.md").unlink()
    calls = len(env.calls)
    assert cli_compare.report_main([str(env.out), "--no-plot"]) == 0
    assert len(env.calls) == calls and (env.out / "summary.md").exists()
    assert "50.0% (2/4)" in capsys.readouterr().out


def test_all_agents_reports_the_oracle_only_when_asked(env):
    _run(env, "--all-agents")
    assert "any-of-N" not in (env.out / "summary.md").read_text()      # off by default
    _run(env, "--all-agents", "--oracle")
    recs = {(r["task_id"], r["method"]): r for r in _records(env.out)}
    assert recs[("2", "egcfg")]["agent_solved"] == [True, False]
    assert recs[("2", "egcfg")]["any_agent_solved"] is True
    assert recs[("0", "egcfg")]["agents_run"] == 2 and recs[("0", "egcfg")]["config"] == "baseline"
    md = (env.out / "summary.md").read_text()
    assert "any-of-N, uses the scoring tests; comparable to the paper's tables, not a pass@1" in md
    assert "75.0% (3/4)" in md


@pytest.mark.parametrize("extra, message", [
    (["--limit", "0"], "--limit 0"),
    (["--egcfg", "GRID:grid:\n  temp: [0.7]\n"], "unknown key 'temp'"),
    (["--egcfg", "GRID:grid:\n  t: []\n"], "no values"),
    (["--egcfg", "GRID:description: x\n"], "empty"),
    (["--task", "nope"], "unknown task"),
])
def test_bad_input_is_refused_before_the_model_loads(env, tmp_path, extra, message):
    argv = ["--task", "fake", "--out", str(env.out), "--cache", str(env.cache)]
    for i, a in enumerate(extra):
        if a.startswith("GRID:"):
            (tmp_path / "g.yaml").write_text(a[5:])
            extra[i] = str(tmp_path / "g.yaml")
    with pytest.raises(SystemExit) as e:
        cli_compare.main(argv + extra)
    assert message in str(e.value)
    assert env.loads == [] and env.calls == []


@pytest.mark.parametrize("error", [FileNotFoundError("MBPP (full): data file not found. Looked for mbpp/mbpp.jsonl"),
                                   ValueError("task 3: row has no test_list")])
def test_missing_data_or_a_malformed_row_is_refused_before_the_model_loads(env, monkeypatch, error):
    def load(self, limit=None):
        raise error

    monkeypatch.setattr(FakeAdapter, "load", load)
    with pytest.raises(SystemExit) as e:
        cli_compare.main(["--task", "fake", "--out", str(env.out), "--cache", str(env.cache)])
    assert str(e.value) == f"egcfg compare: {error}"
    assert env.loads == [] and env.calls == []


def test_ids_run_only_the_named_tasks_in_the_benchmarks_order(env, tmp_path):
    _run(env, "--ids", "3, 1")
    assert {r["task_id"] for r in _records(env.out)} == {"1", "3"}
    assert sorted({t for t, _ in env.calls}) == ["1", "3"]
    assert json.loads((env.out / "run.json").read_text())["ids"] == "3, 1"
    assert "50.0% (1/2)" in (env.out / "summary.md").read_text()     # EG-CFG solves task 1 of the two
    (tmp_path / "ids.txt").write_text("0\n03\n")        # a file, one id per line; "03" is task 3
    _run(env, "--ids", f"@{tmp_path / 'ids.txt'}", "--limit", "1")
    assert {r["task_id"] for r in _records(env.out)} == {"0", "1", "3"}


@pytest.mark.parametrize("ids, message", [("1,7", "no task 7 in the data"), (" , ", "names no task"),
                                          ("x", "--ids"), ("@/nonexistent/ids.txt", "--ids @/nonexistent")])
def test_bad_ids_are_refused_before_the_model_loads(env, ids, message):
    with pytest.raises(SystemExit) as e:
        _run(env, "--ids", ids)
    assert message in str(e.value)
    assert env.loads == [] and env.calls == []


def test_an_adapters_prepare_sees_the_selected_rows_once_before_the_model_loads(env, monkeypatch):
    seen = []
    monkeypatch.setattr(FakeAdapter, "prepare", lambda self, rows: seen.append(([r["task_id"] for r in rows],
                                                                                 list(env.loads))), raising=False)
    _run(env, "--ids", "2,0")
    assert seen == [(["0", "2"], [])]


def test_ids_take_each_benchmarks_own_id_forms():
    from egcfg_plugin.cli.compare import select_ids
    from task_adapters import registry

    plus = registry.get_adapter("mbpp_plus")
    rows = [{"task_id": f"Mbpp/{i}"} for i in (2, 3, 4)]
    assert select_ids(plus, rows, "4,Mbpp/2") == [rows[0], rows[2]]
    ds = registry.get_adapter("ds1000")
    rows = [{"metadata": {"problem_id": i}} for i in (0, 291, 292)]
    assert select_ids(ds, rows, "DS1000/291,0") == [rows[0], rows[1]]


def test_an_out_dir_with_another_config_is_refused_unless_forced(env):
    _run(env, "--limit", "1")
    with pytest.raises(SystemExit, match="another config.*egcfg.*--force"):
        cli_compare.main(["--task", "fake", "--egcfg", "baseline", "--out", str(env.out), "--limit", "1"])
    assert len(env.loads) == 1
    cli_compare.main(["--task", "fake", "--egcfg", "baseline", "--out", str(env.out), "--limit", "1",
                      "--cache", str(env.cache), "--force"])
    assert json.loads((env.out / "run.json").read_text())["egcfg"] == ["baseline"]
    assert {r["config"] for r in _records(env.out)} == {"baseline"}


def test_baseline_from_reuses_an_earlier_runs_baseline_and_rescores_it(env, tmp_path):
    _run(env, "--limit", "2")
    first = tmp_path / "first"
    env.out.rename(first)
    before = len(env.calls)
    cli_compare.main(["--task", "fake", "--egcfg", G1, "--out", str(env.out), "--cache", str(tmp_path / "c2"),
                      "--baseline-from", str(first)])
    new = env.calls[before:]
    # tasks 0 and 1 take the earlier baseline (not generated again, even with an empty cache)
    assert sorted(new) == sorted([("2", "baseline"), ("3", "baseline")] + [(t, G1) for t in PLAN])
    recs = {(r["task_id"], r["method"]): r for r in _records(env.out)}
    assert recs[("0", "baseline")]["reused_from"] == str(first) and "reused_from" not in recs[("2", "baseline")]
    assert [recs[(t, "baseline")]["solved"] for t in PLAN] == [True, False, True, False]
    assert (env.out / "logs/baseline/0.json").is_file()
    assert "50.0% (2/4)" in (env.out / "summary.md").read_text()


def test_baseline_from_refuses_a_run_of_another_baseline(env, tmp_path):
    _run(env, "--limit", "1")
    meta = json.loads((env.out / "run.json").read_text())
    (env.out / "run.json").write_text(json.dumps(dict(meta, baseline="s1t0.7d2k1g0.5")))
    with pytest.raises(SystemExit, match="ran another baseline.*baseline"):
        cli_compare.main(["--task", "fake", "--out", str(tmp_path / "b"), "--baseline-from", str(env.out)])
    with pytest.raises(SystemExit, match="no run.json"):
        cli_compare.main(["--task", "fake", "--out", str(tmp_path / "b"), "--baseline-from", str(tmp_path)])
    (env.out / "run.json").write_text(json.dumps(meta))
    with pytest.raises(SystemExit, match="the --out folder itself"):   # refused before --force clears it
        cli_compare.main(["--task", "fake", "--egcfg", "baseline", "--out", str(env.out), "--force",
                          "--baseline-from", str(env.out)])
    assert (env.out / "tasks.jsonl").exists() and len(env.loads) == 1


def test_a_split_is_refused_for_a_task_without_splits(env):
    with pytest.raises(SystemExit, match="has no splits"):
        cli_compare.main(["--task", "fake", "--out", str(env.out), "--split", "validation"])
    assert env.loads == []


def test_the_sample_filter_control_matches_egcfg_tokens_and_is_compared(env):
    _run(env, "--baseline", "sample-filter", "--no-plot")       # shorthand: greedy stays the baseline
    meta = json.loads((env.out / "run.json").read_text())
    assert meta["baseline"] == "baseline" and meta["control"] == "sample-filter n=auto t=0.8 top_p=0.95"
    # EG-CFG tokens per task: 10 (greedy settles task 0), then 10 + 40 on tasks 1-3: mean 40
    assert meta["control_budget_tokens"] == 40.0
    recs = {(r["task_id"], r["method"]): r for r in _records(env.out)}
    ctl = [recs[(t, "control")] for t in PLAN]
    assert [r["agents_run"] for r in ctl] == [2, 2, 2, 2]          # 25 + 25 >= 40; task 2 passes at sample 1
    assert [r["solved"] for r in ctl] == [False, False, True, False] and ctl[2]["agent"] == 1
    assert all(r["tokens"] == 50 and r["budget_tokens"] == 40.0 for r in ctl)
    md = (env.out / "summary.md").read_text()
    assert "| control (sample-filter n=auto t=0.8 top_p=0.95) | 25.0% (1/4)" in md
    assert "| control (sample-filter n=auto t=0.8 top_p=0.95) | all scored tests | 4 | 2 | 1 |" in md
    rows = {r["method"]: r for r in csv.DictReader((env.out / "summary.csv").open())}
    assert rows["control"]["vs_egcfg_egcfg_only_all"] == "2" and rows["control"]["vs_egcfg_other_only_all"] == "1"
    flips = (env.out / "flips.md").read_text()
    assert "Solved only by the control (1)" in flips


def test_the_control_takes_the_grids_token_cap():
    from egcfg_plugin.agents.grid import load_grid

    args = types.SimpleNamespace(control="sample-filter", control_n="auto", control_t=0.8, control_top_p=0.95)
    capped = cli_compare.control_config(args, load_grid("s3t0.7d2k1g1.0+max_new_tokens=200"))
    assert capped.max_new_tokens == 200 and capped.name.endswith(" max_new_tokens=200")
    assert cli_compare.control_config(args, load_grid("s3t0.7d2k1g1.0")).max_new_tokens == 512


def test_the_run_records_wording_and_where_configs_were_chosen(env):
    _run(env, "--limit", "1", "--chosen-on", "mbpp validation 511-600")
    meta = json.loads((env.out / "run.json").read_text())
    assert meta["prompt"] == "standard" and meta["chosen_on"] == "mbpp validation 511-600"
    assert meta["taxonomy"] == {"seen": "the first assert", "never_seen": "two more asserts"}
    assert "chosen on: mbpp validation 511-600" in (env.out / "summary.md").read_text()


def test_baseline_from_refuses_another_prompt_wording(env, tmp_path):
    _run(env, "--limit", "1", "--prompt", "project")
    with pytest.raises(SystemExit, match="prompt: 'project' there, 'standard' now"):
        cli_compare.main(["--task", "fake", "--out", str(tmp_path / "b"), "--baseline-from", str(env.out)])
    meta = json.loads((env.out / "run.json").read_text())
    del meta["prompt"]                      # a run from before the wording was recorded: the project's
    (env.out / "run.json").write_text(json.dumps(meta))
    with pytest.raises(SystemExit, match="prompt: 'project' there, 'standard' now"):
        cli_compare.main(["--task", "fake", "--out", str(tmp_path / "b"), "--baseline-from", str(env.out)])
