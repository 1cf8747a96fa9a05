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


def _traced(program, written, n_events=6):
    from sandbox.types import Trace, TraceEvent

    events = [TraceEvent(kind="line", lineno=written + 1, func="f", source="total = total + x",
                         locals={"total": ("int", str(i))}) for i in range(n_events)]
    c = Candidate(continuation="", program=program, complete=False, written_lines=written)
    c.runs = [(T1, ExecResult(status=Status.FAILED, value="None", trace=Trace(events=events)))]
    return c


LONG = "def f(x):\n" + "".join(f"    # note {i}: a long docstring-like line the model wrote\n" for i in range(60))


def test_a_long_program_shows_its_new_lines_and_keeps_its_trace():
    # Before, a program longer than its share filled it: the block was cut inside the code, the
    # trace never shown, and a small model copied the "[... cut ...]" marker into its answer.
    new_lines = "    total = 0\n    for x in range(x):\n        total = total + x\n"
    cands = [_traced(LONG + new_lines, written=61) for _ in range(3)]
    text = build_signal(cands, max_chars=4000)
    assert len(text) <= 4000 and "[... cut ...]" not in text
    assert text.count("Lines 59-64 (lines 1-58 are the code written so far):\n```python\n    # note 57") == 3
    assert text.count("        total = total + x\n```") == 3          # the new lines, whole
    assert text.count("Trace:") == 3 and text.count("total = total + x  | total: int") >= 3 * 3
    assert "note 10" not in text                                       # the written lines stay in the prompt


def test_a_short_program_is_shown_whole_from_line_1():
    text = build_signal([_traced("def f(x):\n    total = 0\n    total = total + x\n", written=2)])
    assert "```python\ndef f(x):\n    total = 0\n    total = total + x\n```" in text and "Lines " not in text


def test_no_budget_leaves_a_line_of_code_cut_or_a_code_block_open():
    programs = [LONG, LONG + "    return [" + "1, " * 400 + "]\n", "x = 1\n" * 300]
    for program in programs:
        for written in (0, 5, 61):
            for max_chars in (200, 700, 1500, 4000):
                cands = [_traced(program, written=written, n_events=40) for _ in range(3)]
                for style in ("full", "brief"):
                    text = build_signal(cands, style=style, max_chars=max_chars)
                    assert len(text) <= max_chars
                    for block in text.split("#### Candidate")[1:]:
                        assert block.count("```") % 2 == 0, (program[:20], written, max_chars, style)
                        code = block.split("```python\n")[1].split("```")[0] if "```python\n" in block else ""
                        assert all(line in program.splitlines() for line in code.splitlines())
