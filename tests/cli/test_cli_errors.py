"""The cli wing's one error path (issue 16): every bad input gets one line naming the value and
the fix, and exit code 2 in every command; the help names what a new user needs. No model loads."""
import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from egcfg_plugin.cli import main


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def one_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if not line.startswith(("INFO ", "WARNING "))]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_version(capsys):
    rc, out, _ = run(capsys, "--version")
    assert rc == 0 and out.startswith("egcfg ") and out.split()[1][0].isdigit()


def test_top_level_help_names_lm_eval_the_variables_and_the_docs(capsys):
    rc, out, _ = run(capsys, "--help")
    assert rc == 0
    for text in ("lm_eval --model egcfg", "--apply_chat_template", "egcfg tasks-path", "EGCFG_DATA_DIR",
                 "EGCFG_CACHE_DIR", "docs/", "compare", "evalplus"):
        assert text in out, text


def test_compare_help_shows_defaults_and_the_config_format(capsys):
    rc, out, _ = run(capsys, "compare", "--help")
    assert rc == 0
    assert "(default: quick)" in out and "(default: greedy)" in out and "(default: 0.8)" in out
    assert "config format" in out and "s3t0.7d2k1g1.0" in out and "+key=value" in out


def test_evalplus_codegen_help_says_why_evalplus_flags_are_absent(capsys):
    rc, out, _ = run(capsys, "evalplus", "codegen", "--help")
    assert rc == 0
    text = " ".join(out.split())
    assert "--backend, --greedy and --n_samples are absent" in text and "one sample per task" in text


def test_tasks_path_help_exits_0(capsys):
    rc, out, _ = run(capsys, "tasks-path", "--help")
    assert rc == 0 and "--include_path" in out
    assert run(capsys, "tasks-path")[0] == 0


@pytest.mark.parametrize("argv, says", [
    (["compare", "--task", "mbpp", "--egcfg", "quik"], "Did you mean 'quick'"),
    (["compare", "--task", "mbpp", "--egcfg", "s3t0.7d2k1g1.0+gama=1"], "did you mean 'gamma'"),
    (["compare", "--task", "mbpp", "--limit", "0"], "--limit 0"),
    (["compare", "--task", "mbppp"], "mbppp"),
    (["report", "/nonexistent/run"], "no run.json"),
    (["evalplus", "codegen", "--dataset", "humanevl"], "Did you mean 'humaneval'"),
    (["fetch-model", "--help-me"], "unrecognized arguments"),
    (["comapre"], "Did you mean 'compare'"),
])
def test_usage_errors_are_one_line_and_exit_2_in_every_command(capsys, argv, says):
    try:
        rc, _, err = run(capsys, *argv)
    except SystemExit as e:      # argparse's own error (exit 2) inside a command
        rc, err = e.code, capsys.readouterr().err
    assert rc == 2
    line = err.strip().splitlines()[-1]
    assert says in line and "Traceback" not in err, line


def test_a_missing_model_fails_at_once_offline(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    rc, _, err = run(capsys, "compare", "--task", "mbpp", "--limit", "1", "--model", "nosuch/model",
                     "--out", str(tmp_path / "run"))
    assert rc == 2 and time.perf_counter() - t0 < 10
    assert "--model 'nosuch/model'" in one_line(err) and "HF_HUB_OFFLINE" in err
    rc, _, err = run(capsys, "evalplus", "codegen", "--dataset", "humaneval", "--limit", "1",
                     "--model", "nosuch/model", "--root", str(tmp_path / "ep"))
    assert rc == 2 and "nosuch/model" in one_line(err)
    assert not (tmp_path / "ep").exists()        # no stray subset dataset file


def test_a_missing_model_path_names_the_kinds_of_model(capsys, tmp_path):
    rc, _, err = run(capsys, "compare", "--task", "mbpp", "--model", str(tmp_path / "nope"), "--out", str(tmp_path))
    assert rc == 2 and "no such folder or file" in one_line(err) and "'default'" in err


def test_cuda_on_a_cpu_only_torch_is_one_line(capsys, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this torch has a GPU")
    rc, _, err = run(capsys, "compare", "--task", "mbpp", "--device", "cuda", "--out", str(tmp_path))
    assert rc == 2 and "--device cuda" in one_line(err) and "--device cpu" in err


def test_a_missing_data_dir_is_an_error_in_every_face(capsys, monkeypatch, tmp_path):
    from task_adapters import registry

    monkeypatch.setattr(registry, "_instances", {})    # no adapter holding rows an earlier test loaded
    monkeypatch.setattr("egcfg_plugin.core.models.load_model", lambda *a, **k: pytest.fail("a model loaded"))
    monkeypatch.setenv("EGCFG_DATA_DIR", str(tmp_path / "no-such-dir"))
    rc, _, err = run(capsys, "compare", "--task", "mbpp", "--limit", "1", "--out", str(tmp_path / "run"))
    assert rc == 2 and "EGCFG_DATA_DIR" in one_line(err) and "not a folder" in err
    rc, _, err = run(capsys, "evalplus", "codegen", "--dataset", "mbpp", "--limit", "1", "--root", str(tmp_path))
    assert rc == 2 and "not a folder" in one_line(err)
    from egcfg_plugin.harness import lm_eval_tasks
    from egcfg_plugin.harness.lm_eval_hook import EGCFGUsageError

    with pytest.raises(EGCFGUsageError, match="EGCFG_DATA_DIR=.*not a folder"):
        lm_eval_tasks.load_docs("egcfg_mbpp")


def _rows():
    return "".join(json.dumps({"task_id": f"HumanEval/{i}", "prompt": "def f():\n", "entry_point": "f"}) + "\n"
                   for i in range(200))


def test_a_truncated_or_cut_gz_dataset_in_evalplus_codegen_is_one_line(capsys, monkeypatch, tmp_path):
    path = tmp_path / "he.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write(_rows())
    path.write_bytes(path.read_bytes()[:-25])
    monkeypatch.setenv("HUMANEVAL_OVERRIDE_PATH", str(path))
    argv = ["evalplus", "codegen", "--dataset", "humaneval", "--limit", "1", "--root", str(tmp_path / "out")]
    rc, _, err = run(capsys, *argv)
    assert rc == 2 and f"{path}: the .gz file is truncated or damaged" in one_line(err)
    with gzip.open(path, "wt") as f:
        f.write(_rows()[:500] + "\n" + _rows())     # line 1 cut in the middle of a row
    rc, _, err = run(capsys, *argv)
    assert rc == 2 and f"{path}, line" in one_line(err) and "not a JSON object" in err


def test_the_installed_command_agrees():
    """`egcfg` as a user runs it: the same exit codes."""
    exe = [str(Path(sys.executable).with_name("egcfg"))]
    if not Path(exe[0]).exists():
        pytest.skip("the egcfg command is not installed next to this python (pip install -e .)")
    assert subprocess.run(exe + ["--version"], capture_output=True, text=True).returncode == 0
    r = subprocess.run(exe + ["compare", "--task", "mbpp", "--egcfg", "quik"], capture_output=True, text=True)
    assert r.returncode == 2 and "Did you mean 'quick'" in r.stderr and "Traceback" not in r.stderr
