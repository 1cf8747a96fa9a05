"""setuptools needs this file only for its cmdclass hooks: the lm-eval .pth hook, and the shipped
grid files (configs/*.yaml at the top of the repo, copied into egcfg_plugin/configs/ of a built
package so that `--egcfg quick` also works after a non-editable install).

`egcfg_lm_eval.pth` (see egcfg_plugin/lm_eval_hook.py) must land at the root of site-packages:
- `pip install .` builds a wheel from build_lib, so build_py copies the file there;
- `pip install -e .` builds an editable wheel without build_lib, so editable_wheel writes the file
  into that wheel's root.
Either way the file is listed in the installed RECORD and `pip uninstall egcfg` removes it.
"""
import glob
import os

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

PTH_NAME = "egcfg_lm_eval.pth"   # sorts after setuptools' "__editable__.*.pth", which it needs
HERE = os.path.dirname(os.path.abspath(__file__))
PTH_SOURCE = os.path.join(HERE, PTH_NAME)
GRIDS = sorted(glob.glob(os.path.join(HERE, "configs", "*.yaml")))


class BuildPyWithHook(build_py):
    def run(self):
        super().run()
        self.copy_file(PTH_SOURCE, os.path.join(self.build_lib, PTH_NAME), preserve_mode=0)
        self.mkpath(os.path.join(self.build_lib, "egcfg_plugin", "configs"))
        for grid in GRIDS:
            self.copy_file(grid, self._grid_target(grid), preserve_mode=0)

    def _grid_target(self, grid):
        return os.path.join(self.build_lib, "egcfg_plugin", "configs", os.path.basename(grid))

    def get_outputs(self, *args, **kwargs):
        extra = [os.path.join(self.build_lib, PTH_NAME)] + [self._grid_target(g) for g in GRIDS]
        return list(super().get_outputs(*args, **kwargs)) + extra


class EditableWheelWithHook(editable_wheel):
    def _select_strategy(self, *args, **kwargs):
        return _AddHook(super()._select_strategy(*args, **kwargs))


class _AddHook:
    """Wraps setuptools' editable strategy: whatever it writes, also write our .pth."""

    def __init__(self, strategy):
        self.strategy = strategy

    def __call__(self, wheel, files, mapping):
        self.strategy(wheel, files, mapping)
        with open(PTH_SOURCE, "rb") as f:
            wheel.writestr(PTH_NAME, f.read())

    def __enter__(self):
        self.strategy.__enter__()
        return self

    def __exit__(self, *exc):
        return self.strategy.__exit__(*exc)


setup(cmdclass={"build_py": BuildPyWithHook, "editable_wheel": EditableWheelWithHook})
