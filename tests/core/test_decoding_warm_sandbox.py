"""The decoding loop runs a problem's candidates where its benchmark asks (Problem.meta["sandbox"]:
a warm server's preloaded modules, a memory cap); DS-1000 asks for pandas, sklearn, torch, ...
(task_adapters.ds1000.DS1000Adapter.sandbox_preload). A stub model writes the program."""
from __future__ import annotations

import pytest

pytest.importorskip("numpy")

from egcfg_plugin.core.config import EGCFGConfig  # noqa: E402
from egcfg_plugin.core.decoding import generate  # noqa: E402
from sandbox.types import TestCase  # noqa: E402
from task_adapters.base import STDIO, Problem  # noqa: E402
from tests.stub_model import StubLM, script_policy  # noqa: E402

# passes only where numpy was imported before the candidate ran: the warm server
PROBE = "import sys\nwarm = 'numpy' in sys.modules\n```\n"


def first_run(tok, meta: dict) -> dict:
    model = StubLM(len(tok), script_policy(tok, PROBE))
    p = Problem(task_id="warm", prompt=[{"role": "user", "content": "Say if numpy is loaded."}], kind=STDIO,
                visible_tests=(TestCase.call("warm", expected="True"),), meta=meta)
    r = generate(model, tok, p, EGCFGConfig.parse("s2t0.7d8k1g1.0+early_stop_repeats=0"))
    line = next(entry for entry in r.lines if entry.get("candidates"))
    return line["candidates"][0]["runs"][0]


def test_candidates_run_on_the_warm_server_the_problem_names(tiny):
    tok = tiny[1]
    warm = first_run(tok, {"sandbox": {"preload": ["numpy"], "memory_mb": 2048}})
    cold = first_run(tok, {})
    assert (warm["status"], warm["value"]) == ("passed", "True")
    assert (cold["status"], cold["value"]) == ("failed", "False")


def test_ds1000_problems_name_their_warm_modules_and_memory():
    from task_adapters.data import DataNotFound
    from task_adapters.ds1000 import DS1000Adapter

    adapter = DS1000Adapter()
    try:
        rows = adapter.load()
    except DataNotFound as e:
        pytest.skip(str(e))
    box = adapter.problem(rows[0]).meta["sandbox"]
    assert "numpy" in box["preload"] and "pandas" in box["preload"] and box["memory_mb"] == 4096
    torch_row = next(r for r in rows if adapter.library(r) == "Pytorch")
    assert adapter.problem(torch_row).meta["sandbox"]["memory_mb"] == 0
