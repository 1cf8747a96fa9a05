"""The stdin/stdout signal (CodeContests): the trace shows the locals and the stdout so far, the
expected stdout of the public example is shown beside it, and a wrong answer points at the first
differing token. Plus the stdio bad inputs: a program that reads more stdin than it was given,
trailing spaces and Windows newlines (correct), a program that prints nothing, a zero time limit."""
from __future__ import annotations

import pytest

from sandbox.checks import expected_prefix_matched, first_difference, stdout_matches
from sandbox.render import render_outcome, render_result
from sandbox.types import ExecResult, Status, TestCase

pytest.importorskip("sandbox.runner")

FAST = {"timeout_s": 2.0, "memory_mb": 512}
SUMS = "t = int(input())\nfor _ in range(t):\n    a, b = map(int, input().split())\n    print(a + b)\n"
EXAMPLE = TestCase.stdio("2\n1 2\n3 4\n", expected_stdout="3\n7\n", atol=1e-4, name="public0")


# -- where the output departs -----------------------------------------------------------------------
@pytest.mark.parametrize("actual, expected, where", [
    ("1 2\n4\n", "1 2\n3\n", "token 3 (line 2 of the expected output): got '4', expected '3'"),
    ("", "5\n", "no output; expected 1 token(s), starting with '5'"),
    ("1\n", "1\n2\n", "the output stops after 1 of 2 expected tokens; next expected '2' (line 2)"),
    ("1\n2\n3\n", "1\n2\n", "1 token(s) more than the 2 expected, from '3'"),
    ("0.33334\n", "0.333333\n", "token 1 (line 1 of the expected output): got '0.33334', expected '0.333333'"),
    ("YES\n", "yes\n", "token 1 (line 1 of the expected output): got 'YES', expected 'yes'"),
])
def test_first_difference_names_the_token_and_the_line(actual, expected, where):
    assert first_difference(actual, expected) == where
    assert not stdout_matches(actual, expected)


@pytest.mark.parametrize("actual", ["3 \n7   \n", "3\r\n7\r\n", "3\n7", "\n3\n\n7\n\n", "3.00001\n7\n"])
def test_trailing_spaces_windows_newlines_and_tolerance_are_correct(actual):
    assert first_difference(actual, "3\n7\n", atol=1e-4) is None
    assert stdout_matches(actual, "3\n7\n", atol=1e-4)


def test_an_unfinished_programs_output_is_matched_as_a_prefix():
    assert expected_prefix_matched("3\n", "3\n7\n") == 1
    assert expected_prefix_matched("", "3\n7\n") == 0
    assert expected_prefix_matched("4\n", "3\n7\n") is None


# -- through the sandbox: the trace and the outcome ------------------------------------------------
def test_wrong_answer_trace_shows_locals_stdout_so_far_and_the_first_differing_token():
    from sandbox import run

    assert run(SUMS, EXAMPLE, **FAST).status is Status.PASSED
    wrong = SUMS.replace("a + b", "a * b if a > 1 else a + b")    # right on the first case only
    r = run(wrong, EXAMPLE, **FAST)
    assert r.status is Status.FAILED
    assert r.error == ("stdout differs from the expected output: token 2 (line 2 of the expected output): "
                       "got '12', expected '7'")
    text = render_result(r, EXAMPLE)
    lines = text.splitlines()
    assert lines[0] == "Test: stdin: '2\\n1 2\\n3 4\\n'" and lines[1] == "Expected stdout: '3\\n7\\n'"
    assert "a: int = 1, b: int = 2" in text                    # the locals
    assert "stdout so far: '3\\n'" in text                     # the output after the first case
    assert lines[-2] == ("Outcome: failed: the output differs from the expected stdout: "
                         "token 2 (line 2 of the expected output): got '12', expected '7'")
    assert lines[-1] == "Stdout: '3\\n12\\n'"
    assert "got '12', expected '7'" in render_outcome(r, EXAMPLE)


def test_unfinished_program_says_how_much_of_the_expected_output_it_gives():
    from sandbox import run

    first_case_only = "t = int(input())\na, b = map(int, input().split())\nprint(a + b)\n"
    r = run(first_case_only, EXAMPLE, **FAST)
    assert r.status is Status.FAILED
    assert "matches the first 1 of 2 expected tokens" in render_result(r, EXAMPLE, unfinished=True)
    r = run(first_case_only.replace("a + b", "a - b"), EXAMPLE, **FAST)
    assert "already differs: token 1 (line 1 of the expected output): got '-1', expected '3'" in \
        render_outcome(r, EXAMPLE, unfinished=True)


# -- bad input --------------------------------------------------------------------------------------
def test_reading_more_stdin_than_given_is_an_error_naming_eof():
    from sandbox import run

    r = run("a = input()\nb = input()\nprint(a, b)\n", TestCase.stdio("1\n", expected_stdout="1 1\n"), **FAST)
    assert r.status is Status.ERROR and "EOFError" in r.error
    r = run("import sys\nrest = sys.stdin.read()\nprint(len(rest))\n", TestCase.stdio("", expected_stdout="0\n"), **FAST)
    assert r.status is Status.PASSED            # read() at end of input gives '', as on a judge


def test_windows_newlines_and_trailing_spaces_printed_by_the_program_pass():
    from sandbox import run

    program = "import sys\nsys.stdout.write('3 \\r\\n7\\t \\r\\n')\n"
    assert run(program, EXAMPLE, **FAST).status is Status.PASSED


def test_a_program_that_prints_nothing_fails_saying_so():
    from sandbox import run

    r = run("t = int(input())\n", EXAMPLE, **FAST)
    assert r.status is Status.FAILED
    assert r.error == "stdout differs from the expected output: no output; expected 2 token(s), starting with '3'"
    assert render_result(r, EXAMPLE).splitlines()[-1] == "Stdout: ''"


def test_a_zero_time_limit_is_refused_naming_the_value():
    from sandbox import run

    with pytest.raises(ValueError, match=r"timeout_s must be a positive number of seconds, got 0"):
        run("print(1)\n", EXAMPLE, timeout_s=0)


def test_render_of_a_result_never_run_still_names_the_difference():
    result = ExecResult(status=Status.FAILED, stdout="3\n8\n")
    assert render_outcome(result, EXAMPLE).startswith(
        "Test: stdin: '2\\n1 2\\n3 4\\n' -> failed: the output differs from the expected stdout: token 2")
