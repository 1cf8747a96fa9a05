"""The signal text: each candidate's program, its tally over the examples, and its runs, bounded."""
from __future__ import annotations

from egcfg_plugin.core.signal import Candidate, build_signal
from sandbox.types import ExecResult, Status, TestCase

T1, T2 = TestCase.call("f(1)", "2"), TestCase.call("f(2)", "4")


def cand(program, *statuses, value="2", complete=True):
    c = Candidate(continuation=program, program=program, complete=complete)
    c.runs = [(t, ExecResult(status=s, value=value)) for t, s in zip((T1, T2), statuses)]
    return c


def test_each_candidate_says_how_many_examples_it_passed_before_its_traces():
    text = build_signal([cand("def f(x):\n    return 2\n", Status.PASSED, Status.FAILED),
                         cand("def f(x):\n    return x * 2\n", Status.PASSED, Status.PASSED)])
    # best first: the candidate passing both examples is shown as candidate 1
    assert "#### Candidate 1 (passed 2 of 2 examples)\n```python\ndef f(x):\n    return x * 2\n```" in text
    assert "#### Candidate 2 (passed 1 of 2 examples)\n```python\ndef f(x):\n    return 2\n```" in text
    # one example per candidate is traced (the first that went wrong), the others get a line each
    assert "Outcome: failed: got 2, expected 4\nOther examples:\nTest: f(1) -> passed, value 2" in text
    assert text.count("Expected: ") == 2 and text.count("Trace:") == 2


def test_calls_without_an_expected_value_count_runs_without_error():
    c = Candidate(continuation="", program="def f(x):\n    return 1 / x\n", complete=True)
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


def test_an_unfinished_candidate_is_called_unfinished_not_wrong():
    # a partial body returns None by falling off its end: that is not a wrong answer yet
    part = cand("def f(x):\n    y = x * 2\n", Status.FAILED, Status.FAILED, value="None", complete=False)
    text = build_signal([part])
    assert "#### Candidate 1 (unfinished)\n" in text
    assert "Outcome: unfinished: the code stops here and returned None; expected 2" in text
    assert "failed" not in text and "0 of 2" not in text
    assert "Other examples:\nTest: f(2) -> unfinished: the code stops here and returned None; expected 4" in text
    brief = build_signal([part], style="brief")
    assert "- f(1) (expected 2) -> unfinished: None" in brief
    # errors in a partial program are still errors, and passes already count
    crash = cand("def f(x):\n    y = 1 / 0\n", Status.ERROR, Status.ERROR, value=None, complete=False)
    assert "(unfinished; raised an error on 2 of 2 examples)" in build_signal([crash])
    early = cand("def f(x):\n    if x == 1:\n        return 2\n", Status.PASSED, Status.FAILED,
                 complete=False)
    assert "(unfinished; already passes 1 of 2 examples)" in build_signal([early])


def test_candidates_are_ranked_by_examples_passed_then_finished_first_then_sampling_order():
    a = cand("def f(x):\n    return 0\n", Status.FAILED, Status.FAILED, value="0")
    b = cand("def f(x):\n    y = x\n", Status.FAILED, Status.FAILED, value="None", complete=False)
    c = cand("def f(x):\n    return 2\n", Status.PASSED, Status.FAILED)
    d = cand("def f(x):\n    if x == 1:\n        return 2\n", Status.PASSED, Status.FAILED, complete=False)
    text = build_signal([a, b, d, c])
    order = [text.index(x.program.rstrip()) for x in (c, d, a, b)]
    assert order == sorted(order)


def test_the_traced_example_keeps_its_trace_when_three_candidates_share_the_budget():
    # MBPP-like: 3 candidates x 3 examples with long expected values. Before, each of the 9 runs
    # got an equal share and the fixed lines ate it, leaving "[... 13 trace lines cut ...]".
    from sandbox.types import Trace, TraceEvent

    expected = "{5: 2, 6: 2, 7: 1, 8: 1, 9: 2, 10: 3, 11: 4}"
    events = [TraceEvent(kind="call", lineno=1, func="f", source="def f(xs):", locals={"xs": ("tuple", "(5, 6)")})]
    events += [TraceEvent(kind="line", lineno=3, func="f", source=f"d[x] = d.get(x, 0) + 1",
                          locals={"x": ("int", str(i)), "d": ("dict", "{5: 1}")}) for i in range(12)]
    program = "def f(xs):\n    d = {}\n    for x in xs:\n        d[x] = d.get(x, 0) + 1\n"
    cands = []
    for _ in range(3):
        c = Candidate(continuation=program, program=program, complete=False)
        c.runs = [(TestCase.call(f"f(({i}, 6, (5, 6), 7, (8, 9), 9))", expected),
                   ExecResult(status=Status.FAILED, value="None", trace=Trace(events=events)))
                  for i in range(3)]
        cands.append(c)
    text = build_signal(cands, max_chars=4000)
    assert len(text) <= 4000 and text.count("d[x] = d.get(x, 0) + 1  | x: int") >= 3 * 2
    assert text.count("Other examples:") == 3 and "cut to fit" in text
