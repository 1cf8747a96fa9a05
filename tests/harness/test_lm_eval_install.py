"""Both install modes ship the lm-eval hook: the wheel (`pip install .`) and the editable wheel
(`pip install -e .`) each hold egcfg_lm_eval.pth at their root, so it lands in site-packages and
is listed in RECORD (pip uninstall removes it). Built from a copy of the project, so the working
tree gets no build/ or egg-info folders."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILES = ("setup.py", "setup.cfg", "MANIFEST.in", "README.md", "egcfg_lm_eval.pth")
PACKAGES = ("egcfg_plugin", "task_adapters", "sandbox", "configs")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    dst = tmp_path_factory.mktemp("project")
    for name in FILES:
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dst / name)
    for name in PACKAGES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, dst / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dst


def build(project: Path, hook: str) -> zipfile.ZipFile:
    out = project / f"dist_{hook}"
    out.mkdir(exist_ok=True)
    code = (f"from setuptools import build_meta as b; import sys; "
            f"print(b.{hook}({str(out)!r}))")
    r = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    name = r.stdout.strip().splitlines()[-1]
    return zipfile.ZipFile(out / name)


def test_wheel_has_the_pth_and_the_task_yamls(project):
    wheel = build(project, "build_wheel")
    names = wheel.namelist()
    assert "egcfg_lm_eval.pth" in names
    assert wheel.read("egcfg_lm_eval.pth") == (ROOT / "egcfg_lm_eval.pth").read_bytes()
    for task in ("egcfg_mbpp", "egcfg_humaneval_plus", "egcfg_mbpp_et", "egcfg_codecontests", "egcfg_ds1000"):
        assert f"egcfg_plugin/harness/tasks/{task}.yaml" in names
    assert "egcfg_plugin/harness/tasks/_template_yaml" in names and "egcfg_plugin/harness/tasks/utils.py" in names
    # the shipped grids, for `--egcfg quick` after a non-editable install (agents.SHIPPED_DIRS)
    for grid in ("quick", "paper_grid"):
        assert wheel.read(f"egcfg_plugin/configs/{grid}.yaml") == (ROOT / "configs" / f"{grid}.yaml").read_bytes()
    record = next(n for n in names if n.endswith(".dist-info/RECORD"))
    assert "egcfg_lm_eval.pth," in wheel.read(record).decode()
    # the lm_eval.models entry point, for lm-eval releases that scan it (test_lm_eval_entry_point.py)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "[lm_eval.models]\negcfg = egcfg_plugin.harness.lm_eval_model:EGCFGLM" in wheel.read(entry_points).decode()


def test_editable_wheel_has_the_pth(project):
    wheel = build(project, "build_editable")
    names = wheel.namelist()
    assert "egcfg_lm_eval.pth" in names
    assert any(n.startswith("__editable__") and n.endswith(".pth") for n in names)
    # site.py reads .pth files in name order: ours must come after setuptools' editable path hook
    assert sorted(n for n in names if n.endswith(".pth"))[-1] == "egcfg_lm_eval.pth"
