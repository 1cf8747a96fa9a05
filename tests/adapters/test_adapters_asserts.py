"""Visible MBPP-style asserts become a call with an expected value, so the signal can say what a
candidate returned against what was expected; anything else stays the assert it was."""
from __future__ import annotations

import pytest

from task_adapters.common import assert_as_call


@pytest.mark.parametrize("code, call, expected", [
    ("assert f(1, [2, 3]) == (4, 5)", "f(1, [2, 3])", "(4, 5)"),
    ("assert f('a==b')=='x'", "f('a==b')", "'x'"),
    ("assert set(f(x)) == set([1, 2])", "set(f(x))", "set([1, 2])"),
    ("assert f(\n  1) == 2", "f(\n  1)", "2"),
])
def test_equality_asserts_split_into_call_and_expected(code, call, expected):
    t = assert_as_call(code, name="visible0", setup="import math")
    assert (t.kind, t.code, t.expected, t.name, t.setup) == ("call", call, expected, "visible0", "import math")


@pytest.mark.parametrize("code", [
    "assert f(1) == 2, 'message'",        # the message would be lost
    "assert f(1) != 2",
    "assert 1 == f(1) == 1",              # chained
    "assert math.isclose(f(1), 2.0)",
    "assert f(1) is None",
    "x = 1\nassert f(x) == 2",           # several statements
    "assert f(1 == 2",                    # does not parse
])
def test_other_tests_stay_as_they_are(code):
    t = assert_as_call(code)
    assert (t.code, t.expected) == (code, None)


def test_split_asserts_judge_as_the_assert_does_and_say_what_came_back():
    pytest.importorskip("sandbox.runner")
    from sandbox.render import render_result
    from sandbox.runner import run_many

    test = assert_as_call('assert check("abcda") == "Equal"')
    wrong, right = "def check(s):\n    return s[0] == s[-1]\n", \
        "def check(s):\n    return 'Equal' if s[0] == s[-1] else 'Not Equal'\n"
    bad, good = run_many([(wrong, test), (right, test)], timeout_s=10, trace=True)
    assert (bad.status.value, good.status.value) == ("failed", "passed")
    text = render_result(bad, test)
    assert "Expected: \"Equal\"" in text and "Outcome: failed: got True, expected \"Equal\"" in text
