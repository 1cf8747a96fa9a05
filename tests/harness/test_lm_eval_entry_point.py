"""`--model egcfg` is found two ways: the `egcfg_lm_eval.pth` hook (lm-eval 0.4.13, which scans no
entry points) and the `lm_eval.models` entry point that later lm-eval releases read
(lm-evaluation-harness PR #4013: each entry point's name is a model name, its value a lazy
"module:Class" target, and built-in names win). Each path is exercised on the installed lm-eval
in a fresh interpreter; the hook path with the hook on, the entry-point path with it off."""
from __future__ import annotations

import configparser
import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("lm_eval")

from egcfg_plugin.harness.lm_eval_hook import MODEL_NAME, MODEL_TARGET  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
GROUP = "lm_eval.models"

# What a newer lm-eval does at start-up (PR #4013), written against 0.4.13's registry API: register
# every entry point of the group lazily unless the name is taken. Prints what `--model egcfg` gets.
LOAD_LIKE_NEWER_LM_EVAL = f"""
import json, sys
from importlib.metadata import entry_points
import lm_eval.models
from lm_eval.api import registry
before = "{MODEL_NAME}" in registry.model_registry
for ep in entry_points(group="{GROUP}"):
    if ep.name not in registry.model_registry:
        registry.model_registry.register(ep.name, target=ep.value)
lazy = "torch" not in sys.modules or "egcfg_plugin.harness.lm_eval_model" not in sys.modules
cls = registry.get_model("{MODEL_NAME}")
print(json.dumps({{"before": before, "lazy": lazy, "cls": cls.__module__ + ":" + cls.__name__,
                   "hf": "hf" in registry.model_registry}}))
"""


def declared_in_setup_cfg() -> dict[str, str]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    lines = cfg.get("options.entry_points", GROUP, fallback="").strip().splitlines()
    return dict((s.strip() for s in line.split("=", 1)) for line in lines if line.strip())


def installed_entry_points() -> dict[str, str]:
    try:
        dist = importlib.metadata.distribution("egcfg")
    except importlib.metadata.PackageNotFoundError:
        return {}
    return {ep.name: ep.value for ep in dist.entry_points if ep.group == GROUP}


def run(code: str, hook: bool) -> dict:
    env = dict(os.environ, EGCFG_LM_EVAL_HOOK="1" if hook else "0")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_setup_cfg_declares_the_same_target_as_the_hook():
    assert declared_in_setup_cfg() == {MODEL_NAME: MODEL_TARGET}
    module, _, cls = MODEL_TARGET.partition(":")
    assert cls == "EGCFGLM" and (ROOT / (module.replace(".", "/") + ".py")).exists()


def test_installed_metadata_carries_the_entry_point():
    found = installed_entry_points()
    if not found:
        pytest.skip("the installed egcfg metadata predates the entry point; reinstall with pip install -e .")
    assert found == {MODEL_NAME: MODEL_TARGET}


def test_entry_point_path_without_the_hook():
    if not installed_entry_points():
        pytest.skip("the installed egcfg metadata predates the entry point; reinstall with pip install -e .")
    out = run(LOAD_LIKE_NEWER_LM_EVAL, hook=False)
    assert out == {"before": False, "lazy": True, "cls": MODEL_TARGET, "hf": True}


def test_hook_path_on_lm_eval_0_4_13_and_the_entry_point_then_changes_nothing():
    if not (ROOT / "egcfg_lm_eval.pth").exists():
        pytest.skip("no egcfg_lm_eval.pth in the project")
    code = ("import json, egcfg_plugin.harness.lm_eval_hook as h; h.install()\n" + LOAD_LIKE_NEWER_LM_EVAL)
    out = run(code, hook=True)
    # the hook registered egcfg when lm-eval's registry was imported; the entry point loop skips it
    assert out == {"before": True, "lazy": True, "cls": MODEL_TARGET, "hf": True}


def test_installed_lm_eval_reads_no_entry_points():
    """Why the hook stays: lm-eval 0.4.13 never looks at the group (if a later version does, the
    hook is redundant but harmless: same name, same target)."""
    import lm_eval

    src = Path(lm_eval.__file__).parent
    scans = [p for p in src.rglob("*.py") if GROUP in p.read_text(errors="ignore") and "entry_points" in p.read_text(errors="ignore")]
    version = importlib.metadata.version("lm_eval")
    if version != "0.4.13":
        pytest.skip(f"checked on lm-eval 0.4.13; installed {version}")
    assert scans == []
