"""The signal text: each candidate's program, its tally over the examples, and its runs, bounded."""
from __future__ import annotations

from egcfg_plugin.signal import Candidate, build_signal
from sandbox.types import ExecResult, Status, TestCase

T1, T2 = TestCase.call("f(1)", "2"), TestCase.call("f(2)", "4")


def cand(program, *statuses, value="2"):
    c = Candidate(continuation=program, program=program)
    c.runs = [(t, ExecResult(status=s, value=value)) for t, s in zip((T1, T2), statuses)]
    return c


def test_each_candidate_says_how_many_examples_it_passed_before_its_traces():
    text = build_signal([cand("def f(x):\n    return 2\n", Status.PASSED, Status.FAILED),
                         cand("def f(x):\n    return x * 2\n", Status.PASSED, Status.PASSED)])
    assert "#### Candidate 1 (passed 1 of 2 examples)\n```python\ndef f(x):\n    return 2\n```" in text
    assert "#### Candidate 2 (passed 2 of 2 examples)" in text
    assert "Outcome: failed: got 2, expected 4" in text and text.count("Expected: ") == 4


def test_calls_without_an_expected_value_count_runs_without_error():
    c = Candidate(continuation="", program="def f(x):\n    return 1 / x\n")
    c.runs = [(TestCase.call("f(0)"), ExecResult(status=Status.ERROR, error="ZeroDivisionError: division by zero")),
              (TestCase.call("f(1)"), ExecResult(status=Status.PASSED, value="1.0"))]
    text = build_signal([c], style="brief")
    assert "#### Candidate 1 (ran without error on 1 of 2 examples)" in text
    assert "- f(0) -> error: ZeroDivisionError: division by zero" in text


def test_a_candidate_not_run_has_no_tally_and_the_text_is_bounded():
    text = build_signal([Candidate(continuation="", program="def f(x):\n    pass\n")])
    assert "#### Candidate 1\n```python" in text
    big = [cand("def f(x):\n" + "    y = 1\n" * 200 + "    return 2\n", Status.PASSED, Status.FAILED)] * 3
    assert len(build_signal(big, max_chars=1500)) <= 1500
    assert build_signal([]) == ""
