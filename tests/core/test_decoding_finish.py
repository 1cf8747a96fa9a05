"""An answer settled at a refresh (accept_visible_pass, early stop) is the program that ran.

The sampled text may end in something the repair cut (an unfinished `print(y,`); the returned
code must be exactly the repaired program that passed, so it compiles and scores as it ran.
"""
import pytest

from egcfg_plugin.core.config import EGCFGConfig
from egcfg_plugin.core.decoding import generate
from sandbox.repair import compiles
from sandbox.types import TestCase
from task_adapters.base import Problem
from tests.stub_model import StubLM, script_policy

PROGRAM = "def f(x):\n    y = x * 2\n    return y\n"
BROKEN_TAIL = "    print(y,"      # the model ends the answer mid-call


def problem(**kw):
    base = dict(task_id="t", prompt=[{"role": "user", "content": "Write f(x)."}], entry_point="f",
                visible_tests=(TestCase.call("f(3)", expected="6"),))
    base.update(kw)
    return Problem(**base)


@pytest.fixture(scope="module")
def tok(tiny):
    return tiny[1]


@pytest.mark.parametrize("config, reason", [
    ("s2t0.7d8k1g1.0+accept_visible_pass=true", "visible_pass"),
    ("s2t0.7d8k1g1.0+early_stop_repeats=2", "early_stop"),
])
def test_settled_answer_is_the_program_that_ran(tok, config, reason):
    model = StubLM(len(tok), script_policy(tok, PROGRAM + BROKEN_TAIL))
    r = generate(model, tok, problem(), EGCFGConfig.parse(config))
    assert r.stop_reason == reason
    assert compiles(r.code), r.code
    assert r.code == PROGRAM and r.text == PROGRAM
    assert (r.visible_passed, r.visible_total) == (1, 1)


def test_settled_answer_keeps_the_code_prefix(tok):
    # the prefix (a given signature) stays; the text is what was generated after it
    prefix = "def f(x):\n"
    body = PROGRAM[len(prefix):]
    model = StubLM(len(tok), script_policy(tok, body + BROKEN_TAIL,
                                           marker="<|im_start|>assistant\n```python\n" + prefix))
    r = generate(model, tok, problem(code_prefix=prefix),
                 EGCFGConfig.parse("s2t0.7d8k1g1.0+accept_visible_pass=true"))
    assert r.stop_reason == "visible_pass"
    assert r.code == PROGRAM and r.text == body
