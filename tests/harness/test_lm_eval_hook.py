"""The lm-eval import hook: lazy model registration after the stock models, our task folder in
every TaskManager, one-line errors, and a .pth line that never breaks start-up.

Registry state is per process, so these run small Python subprocesses that execute the .pth line
the way site.py does."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PTH = ROOT / "egcfg_lm_eval.pth"


def run_py(code: str, *, with_hook: bool = True, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    prelude = f"exec(open({str(PTH)!r}).read())\n" if with_hook else ""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True,
                          env=full_env, cwd=cwd or ROOT, timeout=300)


@pytest.mark.parametrize("first_import", ["lm_eval.api.registry", "lm_eval.models", "lm_eval.evaluator"])
def test_egcfg_registered_and_stock_models_kept(first_import):
    r = run_py(f"import {first_import}\n"
               "from lm_eval.api.registry import get_model, model_registry\n"
               "print(sorted(k for k in ('hf', 'egcfg', 'dummy', 'vllm') if k in model_registry))\n"
               "print(get_model('hf').__name__, get_model('egcfg').__name__)\n")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "['dummy', 'egcfg', 'hf', 'vllm']"
    assert lines[1] == "HFLM EGCFGLM"


def test_registration_is_lazy_no_torch_until_the_model_is_asked_for():
    r = run_py("import sys\nfrom lm_eval.api.registry import model_registry\n"
               "print('egcfg' in model_registry, 'torch' in sys.modules, 'egcfg_plugin.harness.lm_eval_model' in sys.modules)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "False", "False"]


def test_hook_installed_after_lm_eval_was_imported():
    r = run_py("import lm_eval.api.registry\nimport egcfg_plugin.harness.lm_eval_hook as h\nh.install()\n"
               "from lm_eval.api.registry import model_registry\nprint('egcfg' in model_registry, 'hf' in model_registry)",
               with_hook=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "True"]


def test_hook_can_be_turned_off():
    r = run_py("from lm_eval.api.registry import get_model\nprint('egcfg' in __import__('lm_eval.api.registry', "
               "fromlist=['x']).model_registry)", env={"EGCFG_LM_EVAL_HOOK": "0"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_pth_line_is_silent_without_the_package(tmp_path):
    # egcfg_plugin not importable: the line must do nothing and print nothing
    r = subprocess.run([sys.executable, "-c", f"exec(open({str(PTH)!r}).read()); print('alive')"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=60,
                       env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert r.returncode == 0
    assert r.stdout.strip() == "alive" and r.stderr == ""


def test_pth_is_one_import_line():
    lines = [x for x in PTH.read_text().splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("import ")   # site.py executes only such lines


def test_task_manager_indexes_our_tasks_once():
    r = run_py("from lm_eval.tasks import TaskManager\nimport egcfg_plugin.harness.lm_eval_hook as h\n"
               "a = TaskManager()\nb = TaskManager(include_path=h.tasks_dir())\n"
               "ours = sorted(t for t in a.all_tasks if t.startswith('egcfg_'))\n"
               "print(ours)\nprint(len(a.all_tasks) == len(b.all_tasks), 'hf' != '', 'humaneval' in a.all_tasks)")
    assert r.returncode == 0, r.stderr
    first, second = r.stdout.splitlines()[-2:]
    assert first == str(sorted(["egcfg_mbpp", "egcfg_mbpp_plus", "egcfg_humaneval", "egcfg_humaneval_plus",
                                "egcfg_humaneval_et", "egcfg_mbpp_et", "egcfg_codecontests", "egcfg_ds1000"]))
    assert second == "True True True"


def test_with_our_tasks_dedupes(tmp_path):
    from egcfg_plugin.harness.lm_eval_hook import tasks_dir, with_our_tasks

    assert with_our_tasks(None) == [tasks_dir()]
    assert with_our_tasks(str(tmp_path)) == [str(tmp_path), tasks_dir()]
    same = [str(tmp_path), tasks_dir() + "/"]
    assert with_our_tasks(same) == same


def test_short_messages():
    from egcfg_plugin.harness.lm_eval_hook import EGCFGUsageError, short_message

    assert short_message(EGCFGUsageError("bad s")) == "bad s"
    unknown = short_message(ValueError("Tasks not found: egcfg_humanevl"))
    assert "egcfg_humanevl" in unknown and "egcfg_humaneval" in unknown
    unsafe = short_message(ValueError("Attempted to run task: egcfg_mbpp which is marked as unsafe. Set "
                                      "confirm_run_unsafe_code=True to run this task."))
    assert "--confirm_run_unsafe_code" in unsafe
    assert short_message(ValueError("something else")) is None
    assert short_message(KeyError("Tasks not found")) is None
