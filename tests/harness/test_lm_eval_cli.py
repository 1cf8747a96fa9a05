"""The plain `lm_eval` command with the installed hook (no wrapper), on the tiny random model saved
to a folder: a full run prints the table and logs the EG-CFG summary, and bad input gets one
clear line instead of a traceback."""
from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LM_EVAL = Path(sys.executable).parent / "lm_eval"


def _hook_installed() -> bool:
    try:
        files = importlib.metadata.distribution("egcfg").files or []
    except importlib.metadata.PackageNotFoundError:
        return False
    return any(str(f) == "egcfg_lm_eval.pth" for f in files)


pytestmark = pytest.mark.skipif(not (LM_EVAL.exists() and _hook_installed()),
                                reason="needs egcfg pip-installed (pip install -e .) next to lm_eval")


@pytest.fixture(scope="module")
def tiny_dir(tiny, tmp_path_factory):
    model, tok = tiny
    out = tmp_path_factory.mktemp("tiny_model")
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def lm_eval(*args, cwd) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "EGCFG_DEBUG"}
    return subprocess.run([str(LM_EVAL), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=900)


def test_full_run_prints_the_table_and_logs_the_summary(tiny_dir, tmp_path):
    r = lm_eval("--model", "egcfg", "--model_args", f"pretrained={tiny_dir},gamma=1.0,s=2,t=0.7,d=1",
                "--tasks", "egcfg_mbpp", "--limit", "1", "--gen_kwargs", "max_gen_toks=16", "--device", "cpu",
                "--confirm_run_unsafe_code", "--log_samples", "--output_path", str(tmp_path / "out"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    table = r.stdout
    for word in ("egcfg_mbpp", "pass@1", "visible_pass@1", "egcfg"):
        assert word in table
    (samples,) = list((tmp_path / "out").rglob("samples_egcfg_mbpp_*.jsonl"))
    sample = json.loads(samples.read_text().splitlines()[0])
    assert sample["egcfg"]["config"].startswith("s2t0.7d1k1g1.0")
    assert isinstance(sample["egcfg"]["per_line"], list)


@pytest.mark.parametrize("args, must_say", [
    (["--model_args", "pretrained={tiny},s=0", "--confirm_run_unsafe_code"], ["s=0", "[1, 64]"]),
    (["--model_args", "pretrained={tiny},gama=1", "--confirm_run_unsafe_code"], ["'gama'", "Did you mean 'gamma'"]),
    (["--model_args", "pretrained={tiny}"], ["marked as unsafe", "--confirm_run_unsafe_code"]),
])
def test_bad_input_gets_one_clear_line(tiny_dir, tmp_path, args, must_say):
    args = [a.format(tiny=tiny_dir) for a in args]
    r = lm_eval("--model", "egcfg", "--tasks", "egcfg_mbpp", "--limit", "1", "--device", "cpu", *args, cwd=tmp_path)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    last = r.stderr.strip().splitlines()[-2]
    assert last.startswith("error: ")
    for text in must_say:
        assert text in last


def test_unknown_task(tmp_path):
    r = lm_eval("--model", "egcfg", "--tasks", "egcfg_humanevl", "--limit", "1", cwd=tmp_path)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "Tasks not found: egcfg_humanevl" in r.stderr and "egcfg_humaneval" in r.stderr
