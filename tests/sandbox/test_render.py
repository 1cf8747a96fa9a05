"""Trace rendering: the compact text that goes into the prompt."""
from __future__ import annotations

import pytest

from sandbox.render import render_outcome, render_result, render_trace
from sandbox.trace_recorder import CAP_NOTE_PREFIX
from sandbox.types import ExecResult, Status, TestCase, Trace, TraceEvent


def ev(kind, lineno, func="f", source="", locals=None, value=None, stdout=None, repeat=1):
    return TraceEvent(kind, lineno, func, source, dict(locals or {}), value, stdout, repeat)


def loop_trace() -> Trace:
    return Trace(events=[
        ev("call", 1, source="def f(n):", locals={"n": ("int", "100")}),
        ev("line", 2, source="s = 0", locals={"s": ("int", "0")}),
        ev("line", 3, source="for i in range(n):", locals={"i": ("int", "0")}),
        ev("line", 4, source="s += i"),
        ev("line", 3, source="for i in range(n):", repeat=98,
           value="lines 3-4: 98 iterations folded (196 events)"),
        ev("line", 3, source="for i in range(n):", locals={"i": ("int", "99")}),
        ev("line", 4, source="s += i", locals={"s": ("int", "4950")}),
        ev("line", 5, source="return s"),
        ev("return", 5, value="4950"),
    ], elided_events=196, notes=["loop at line 3 in f: 98 iterations folded (196 events elided)"])


def test_exact_text_for_a_folded_loop():
    assert render_trace(loop_trace()) == (
        "call f(n=100)\n"
        "  L2 s = 0  | s: int = 0\n"
        "  L3 for i in range(n):  | i: int = 0\n"
        "  L4 s += i\n"
        "  [loop at L3 ran 98 more times here; lines 3-4 not shown]\n"
        "  L3 for i in range(n):  | i: int = 99\n"
        "  L4 s += i  | s: int = 4950\n"
        "  L5 return s\n"
        "return 4950")


def test_nesting_exceptions_and_resumed_generators():
    trace = Trace(events=[
        ev("call", 5, "outer", "def outer():"),
        ev("line", 6, "outer", "x = inner(0)"),
        ev("call", 1, "inner", "def inner(d):", {"d": ("int", "0")}),
        ev("line", 2, "inner", "return 1 / d"),
        ev("exception", 2, "inner", "return 1 / d", value="ZeroDivisionError: division by zero"),
        ev("exception", 6, "outer", "x = inner(0)", value="ZeroDivisionError: division by zero"),
        ev("line", 7, "outer", "except ZeroDivisionError:"),
        ev("line", 3, "gen", "yield k", {"k": ("int", "1")}),
        ev("return", 3, "gen", value="None"),
        ev("line", 8, "outer", "return -1"),
        ev("return", 8, "outer", value="-1"),
    ])
    assert render_trace(trace).splitlines() == [
        "call outer()",
        "  L6 x = inner(0)",
        "  call inner(d=0)",
        "    L2 return 1 / d",
        "    L2 raise ZeroDivisionError: division by zero",
        "  L6 raise ZeroDivisionError: division by zero",
        "  L7 except ZeroDivisionError:",
        "  [in gen] L3 yield k  | k: int = 1",
        "  gen returned None",
        "  L8 return -1",
        "return -1",
    ]


def test_definitions_that_change_nothing_are_left_out_and_stdout_is_quoted():
    trace = Trace(events=[
        ev("line", 1, "<module>", "import sys"),
        ev("line", 2, "<module>", "def helper(x):"),
        ev("line", 4, "<module>", "n = int(input())", {"n": ("int", "3")}),
        ev("line", 5, "<module>", "print(n * 2)", stdout="6\n"),
    ])
    assert render_trace(trace) == ("L4 n = int(input())  | n: int = 3\n"
                                   "L5 print(n * 2)  | stdout so far: '6\\n'")


def test_event_cap_gap_is_placed_where_recording_stopped():
    events = [ev("call", 1, "fib", "def fib(n):", {"n": ("int", "20")})]
    events += [ev("line", 2, "fib", "if n < 2:") for _ in range(3)]
    events += [ev("return", 4, "fib", value="6765")]
    trace = Trace(events=events, elided_events=5000, truncated=True,
                  notes=[f"{CAP_NOTE_PREFIX}4: max_events=4; 5000 later events not recorded, "
                         f"the last 1 kept"])
    lines = render_trace(trace).splitlines()
    assert lines[-2] == "  [trace cap reached (max_events=4): 5000 more events not recorded]"
    assert lines[-1] == "return 6765"
    assert len(lines) == 6


def test_long_traces_keep_start_and_end_within_max_chars():
    events = [ev("call", 1, source="def f():")]
    events += [ev("line", 10 + i, source=f"v{i} = {i}", locals={f"v{i}": ("int", str(i))})
               for i in range(200)]
    events += [ev("return", 300, value="'done'")]
    text = render_trace(Trace(events=events), max_chars=600)
    assert len(text) <= 600
    lines = text.splitlines()
    assert lines[0] == "call f()"
    assert lines[-1] == "return 'done'"
    assert any(line.startswith("[... ") and "trace lines cut to fit 600 chars" in line
               for line in lines)


def test_rendering_is_deterministic_and_survives_serialization():
    trace = loop_trace()
    again = Trace.from_dict(trace.to_dict())
    assert render_trace(trace) == render_trace(again)


def test_empty_and_missing_traces_say_so():
    assert render_trace(None).startswith("(no trace")
    assert render_trace(Trace()).startswith("(no trace")


def test_max_chars_too_small_is_an_error():
    with pytest.raises(ValueError, match="max_chars >= 40.*10"):
        render_trace(loop_trace(), max_chars=10)


def test_very_long_lines_are_clipped():
    trace = Trace(events=[ev("line", 1, source="x = " + "1 + " * 200 + "1",
                             locals={"x": ("int", "201")})])
    line = render_trace(trace)
    assert len(line) <= 240 and line.endswith("...")


# ---- render_result --------------------------------------------------------------------------

def test_result_of_a_failed_call_test():
    test = TestCase.call("f(100)", expected="5050")
    result = ExecResult(status=Status.FAILED, value="4950", trace=loop_trace())
    text = render_result(result, test)
    lines = text.splitlines()
    assert lines[0] == "Test: f(100)"
    assert lines[1] == "Expected: 5050"
    assert lines[2] == "Trace:"
    assert lines[3] == "  call f(n=100)"
    assert lines[-1] == "Outcome: failed: got 4950, expected 5050"


def test_a_result_fits_max_chars_and_keeps_its_outcome_line():
    # the trace's two-space indent used to go uncounted, so a long trace pushed the result past
    # max_chars and the signal's cut then fell on the Outcome line
    events = [ev("line", 3, source="s = s + i", locals={"s": ("int", str(i))}) for i in range(60)]
    result = ExecResult(status=Status.FAILED, value="None", trace=Trace(events=events))
    test = TestCase.call("f(100)", expected="5050")
    for max_chars in range(150, 2500, 7):
        text = render_result(result, test, max_chars=max_chars)
        assert len(text) <= max_chars, max_chars
        assert text.splitlines()[-1] == "Outcome: failed: got None, expected 5050"


def test_result_of_an_error_and_of_a_pass():
    test = TestCase.call("assert f(0) == 1")
    error = ExecResult(status=Status.ERROR, error="ZeroDivisionError: division by zero",
                       trace=Trace(events=[ev("call", 1, source="def f(x):")]))
    assert render_result(error, test).splitlines()[-1] == \
        "Outcome: error: ZeroDivisionError: division by zero"
    passed = ExecResult(status=Status.PASSED, value="1", trace=None)
    text = render_result(passed, TestCase.call("f(1)", expected="1"))
    assert "(no trace recorded)" in text
    assert text.splitlines()[-1] == "Outcome: passed, value 1"


def test_result_of_a_stdio_test_shows_expected_and_actual_output():
    test = TestCase.stdio("3\n", expected_stdout="6\n")
    result = ExecResult(status=Status.FAILED, stdout="5\n", trace=Trace(events=[
        ev("line", 1, "<module>", "n = int(input())", {"n": ("int", "3")}),
        ev("line", 2, "<module>", "print(n + 2)", stdout="5\n")]))
    lines = render_result(result, test).splitlines()
    assert lines[0] == "Test: stdin: '3\\n'"
    assert lines[1] == "Expected stdout: '6\\n'"
    assert lines[-2] == ("Outcome: failed: the output differs from the expected stdout: "
                         "token 1 (line 1 of the expected output): got '5', expected '6'")
    assert lines[-1] == "Stdout: '5\\n'"


def test_result_text_respects_max_chars():
    events = [ev("line", i, source=f"a{i} = {i}", locals={f"a{i}": ("int", str(i))})
              for i in range(300)]
    result = ExecResult(status=Status.TIMEOUT, error="timed out after 2s",
                        trace=Trace(events=events))
    text = render_result(result, TestCase.call("f()"), max_chars=700)
    assert len(text) <= 700
    assert text.splitlines()[-1] == "Outcome: timed out: timed out after 2s"


def test_other_notes_are_said_at_the_end():
    trace = Trace(events=[ev("call", 1, source="def f():")],
                  notes=["loop at line 3 in f: 5 iterations folded (10 events elided)",
                         "tracer error, nothing recorded after it: RuntimeError: boom"])
    assert render_trace(trace).splitlines() == [
        "call f()", "[tracer error, nothing recorded after it: RuntimeError: boom]"]
    only_note = Trace(notes=["no trace: tracer unavailable (ImportError)"])
    assert render_trace(only_note) == "[no trace: tracer unavailable (ImportError)]"


def test_one_line_outcome_for_an_example_whose_trace_is_not_shown():
    call = render_outcome(ExecResult(status=Status.FAILED, value="4950"), TestCase.call("f(100)", expected="5050"))
    assert call == "Test: f(100) -> failed: got 4950, expected 5050"
    part = render_outcome(ExecResult(status=Status.FAILED, value="None"), TestCase.call("f(1)", expected="2"),
                          unfinished=True)
    assert part == "Test: f(1) -> unfinished: the code stops here and returned None; expected 2"
    io = render_outcome(ExecResult(status=Status.FAILED, stdout="5\n"), TestCase.stdio("3\n", expected_stdout="6\n"))
    assert io.endswith("stdout '5\\n', expected '6\\n'") and "\n" not in io
    long = render_outcome(ExecResult(status=Status.ERROR, error="E" * 900), TestCase.call("f(1)"), max_chars=100)
    assert len(long) == 100 and long.endswith("...")
