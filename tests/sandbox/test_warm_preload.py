"""Warm workers (`run_many(..., preload=...)`): a fork-server of its own pre-imports heavy modules
once; each run is still a fresh fork that dies after it, so isolation holds: what a run does to a
preloaded module never reaches the next run, the children drop privileges and see no network as
the plain server's do, and the plain server stays cold."""
from __future__ import annotations

import pytest

pytest.importorskip("sandbox.runner")
pytest.importorskip("numpy")

from sandbox import runner  # noqa: E402
from sandbox.types import Status, TestCase  # noqa: E402

WARM = ("numpy",)
FAST = {"timeout_s": 10.0, "memory_mb": 2048, "trace": False}


def value(program: str, expr: str, preload=()) -> str | None:
    r = runner.run(program, TestCase.call(expr), preload=preload, **FAST)
    assert r.status is Status.PASSED, r.error
    return r.value


def test_the_warm_server_reports_its_modules_one_thread_and_the_same_isolation():
    warm, plain = runner.server_info(WARM), runner.server_info()
    assert warm["pid"] != plain["pid"]
    assert warm["preloaded"] == ["numpy"] and warm["preload_errors"] == {} and warm["threads"] == 1
    for key in ("netns", "mountns", "pidns", "uid_dropped"):
        assert warm[key] == plain[key]


def test_warm_children_inherit_the_module_and_the_plain_server_stays_cold():
    probe = "import sys\nhad = 'numpy' in sys.modules\n"
    assert value(probe, "had", WARM) == "True"
    assert value(probe, "had") == "False"


def test_what_a_run_does_to_a_preloaded_module_dies_with_it():
    vandal = ("import numpy\nnumpy.sum = lambda *a, **k: 'patched'\nnumpy.egcfg_marker = 1\n"
              "numpy.random.seed(7)\nfirst = numpy.random.randint(0, 10**9)\n")
    assert value(vandal, "numpy.sum([1, 2])", WARM) == "'patched'"
    check = "import numpy\nnumpy.random.seed(7)\n"
    assert value(check, "(int(numpy.sum([1, 2])), hasattr(numpy, 'egcfg_marker'))", WARM) == "(3, False)"
    # the global generator is not left where the vandal seeded it
    draw = "import numpy\n"
    assert value(draw, "numpy.random.randint(0, 10**9)", WARM) != value(vandal, "first", WARM)


def test_warm_children_have_the_plain_childrens_identity_and_no_network():
    who = "import os\n"
    assert value(who, "(os.getuid(), os.getgid())", WARM) == value(who, "(os.getuid(), os.getgid())")
    net = "import socket\ns = socket.socket()\n"
    r = runner.run(net + "s.connect(('10.255.255.1', 80))\n", TestCase.call("1"), preload=WARM, **FAST)
    assert r.status is Status.ERROR


def test_bad_preload_values_are_named():
    for bad in ("numpy", ("numpy; import os",), (3,)):
        with pytest.raises(ValueError, match=r"preload must be a tuple of module names"):
            runner.run("x = 1\n", TestCase.call("x"), preload=bad)


def test_a_module_that_does_not_import_is_reported_and_runs_still_work():
    preload = ("egcfg_no_such_module_xyz",)
    info = runner.server_info(preload)
    assert info["preloaded"] == [] and "ModuleNotFoundError" in info["preload_errors"]["egcfg_no_such_module_xyz"]
    assert value("x = 2\n", "x * 3", preload) == "6"
