"""Compact, deterministic text for traces, meant to be pasted into a prompt.

    >>> print(render_trace(trace))
    call total(xs=[1, 2, 3])
      L2 s = 0  | s: int = 0
      L3 for x in xs:  | x: int = 1
      L4 s += x  | s: int = 1
      ...
      [loop at L3 ran 96 more times here; lines 3-4 not shown]
      L3 for x in xs:  | x: int = 99
      L4 s += x  | s: int = 4950
      L5 return s
    return 4950

Calls indent what runs inside them (two spaces a level, at most five levels). Definitions
and imports that changed nothing are left out. When the text is longer than
`max_chars`, the middle is cut and the cut is said, keeping the start and the end (where the
outcome is).
"""
from __future__ import annotations

import re

from sandbox.checks import expected_prefix_matched, first_difference
from sandbox.trace_recorder import CAP_NOTE_PREFIX
from sandbox.types import ExecResult, Status, TestCase, Trace, TraceEvent

MAX_LINE_CHARS = 240
_MAX_INDENT = 5
_DEFINITION = re.compile(r"^(def |async def |class |import |from \S+ import |@)")
_CAP_NOTE = re.compile(re.escape(CAP_NOTE_PREFIX) + r"(\d+): ([^;]*); (\d+) later events")


def render_trace(trace: Trace | None, *, max_chars: int = 1500) -> str:
    """One line per event, folded loops and elisions said explicitly, at most `max_chars`."""
    if max_chars < 40:
        raise ValueError(f"render_trace needs max_chars >= 40 to say anything, got {max_chars}")
    if trace is None or (not trace.events and not trace.notes):
        return "(no trace: none of the program's own lines ran)"
    return _fit(_event_lines(trace), max_chars)


def render_result(result: ExecResult, test: TestCase, *, max_chars: int = 1500,
                  unfinished: bool = False) -> str:
    """The invocation, the trace and how it ended (value against expectation, or error).

    `unfinished`: the program is a partial one (code cut where a sample stopped), so a failed
    check says the code is not finished rather than blaming a value it never meant to return."""
    head = [f"Test: {_one_line(test.describe(), 200)}"]
    if test.kind == "call" and test.expected is not None:
        head.append(f"Expected: {_one_line(test.expected, 200)}")
    if test.kind == "stdio" and test.expected_stdout is not None:
        head.append(f"Expected stdout: {_quote(test.expected_stdout, 200)}")
    tail = [f"Outcome: {_outcome(result, test, unfinished)}"]
    if test.kind == "stdio":
        tail.append(f"Stdout: {_quote(result.stdout, 200)}")
    fixed = sum(len(line) + 1 for line in head + tail) + len("Trace:\n")
    budget = max(max_chars - fixed, 40)
    for _ in range(8):   # the indent adds 2 characters a line: shrink the trace until it all fits
        body = render_trace(result.trace, max_chars=budget) if result.trace is not None else \
            "(no trace recorded)"
        text = "\n".join(head + ["Trace:", "\n".join("  " + line for line in body.splitlines())] + tail)
        over = len(text) - max_chars
        if over <= 0 or budget - over < 40 or result.trace is None:
            break   # fits, cannot shrink further, or there is no trace to shrink
        budget -= max(over, budget // 10)   # the trace shrinks a whole line at a time
    return text


def render_outcome(result: ExecResult, test: TestCase, *, max_chars: int = 300,
                   unfinished: bool = False) -> str:
    """One line: the invocation and how it ended, for an example whose trace is not shown."""
    text = f"Test: {_one_line(test.describe(), 120)} -> {_outcome(result, test, unfinished)}"
    if test.kind == "stdio" and not result.passed:
        text += f"; stdout {_quote(result.stdout, 80)}, expected {_quote(test.expected_stdout, 80)}"
    return _one_line(text, max_chars)


def _outcome(result: ExecResult, test: TestCase, unfinished: bool = False) -> str:
    status = result.status
    if status is Status.PASSED:
        return "passed" + (f", value {result.value}" if result.value is not None else "")
    if status is Status.FAILED and unfinished:
        if test.kind == "stdio":
            return "unfinished: the code stops here; " + _output_so_far(result, test)
        if test.expected is None:
            return "unfinished: the code stops here, so the check does not hold yet"
        return (f"unfinished: the code stops here and returned {_one_line(result.value or 'None', 60)}; "
                f"expected {_one_line(test.expected, 120)}")
    if status is Status.FAILED:
        if test.kind == "stdio":
            where = first_difference(result.stdout or "", test.expected_stdout or "", test.atol)
            return "failed: the output differs from the expected stdout" + (f": {where}" if where else "")
        if result.value is not None and test.expected is not None:
            return f"failed: got {result.value}, expected {_one_line(test.expected, 120)}"
        return "failed" + (f": {_one_line(result.error, 160)}" if result.error else "")
    words = {Status.ERROR: "error", Status.TIMEOUT: "timed out", Status.MEMORY: "out of memory",
             Status.OUTPUT_LIMIT: "too much output", Status.SYNTAX_ERROR: "syntax error",
             Status.KILLED: "killed"}
    text = words.get(status, status.value)
    if result.error:
        text += f": {_one_line(result.error, 160)}"
    return text


def _output_so_far(result: ExecResult, test: TestCase) -> str:
    """How an unfinished program's output so far stands against the expected stdout."""
    expected = test.expected_stdout or ""
    matched = expected_prefix_matched(result.stdout or "", expected, test.atol)
    total = len(expected.split())
    if matched is None:
        return f"its output so far already differs: {first_difference(result.stdout or '', expected, test.atol)}"
    return f"its output so far matches the first {matched} of {total} expected tokens"


def _event_lines(trace: Trace) -> list[str]:
    gap_at, gap_text = _cap_gap(trace)
    out: list[str] = []
    stack: list[str] = []   # functions entered and not yet left, to indent by
    for index, event in enumerate(trace.events):
        if index == gap_at:
            out.append("  " * min(len(stack), _MAX_INDENT) + gap_text)
        kind = event.kind
        if kind in ("line", "exception") and event.func in stack:
            while stack[-1] != event.func:  # left by an exception, or a generator paused
                stack.pop()
        indent = "  " * min(len(stack), _MAX_INDENT)
        # a generator resumed (its call is no longer on the stack): say whose line this is
        where = "" if (kind == "call" or event.func in stack or event.func == "<module>") \
            else f"[in {event.func}] "
        if kind == "call":
            out.append(_clip(indent + _call(event)))
            stack.append(event.func)
        elif kind == "return":
            if stack and stack[-1] == event.func:
                stack.pop()
                indent = "  " * min(len(stack), _MAX_INDENT)
                out.append(indent + f"return {event.value}")
            else:
                out.append(indent + f"{event.func} returned {event.value}")
        elif kind == "exception":
            out.append(indent + where + f"L{event.lineno} raise {event.value}")
        elif event.repeat > 1:
            out.append(indent + f"[loop at L{event.lineno} ran {event.repeat} more times "
                       f"here; {_span(event)} not shown]")
        else:
            if not event.locals and not event.stdout and _DEFINITION.match(event.source):
                continue  # a def/class/import that changed nothing worth showing
            out.append(_clip(indent + where + _line(event)))
    if gap_at is not None and gap_at >= len(trace.events):
        out.append(gap_text)
    for note in trace.notes:  # folds and the cap are shown in place; say anything else at the end
        if not note.startswith(("loop at line ", CAP_NOTE_PREFIX)):
            out.append(f"[{note}]")
    return out


def _cap_gap(trace: Trace) -> tuple[int | None, str]:
    for note in trace.notes:
        match = _CAP_NOTE.search(note)
        if match:
            return int(match.group(1)), (f"[trace cap reached ({match.group(2)}): "
                                         f"{match.group(3)} more events not recorded]")
    return None, ""


def _span(event: TraceEvent) -> str:
    match = re.match(r"lines (\d+-\d+)", event.value or "")
    return f"lines {match.group(1)}" if match else "its body"


def _call(event: TraceEvent) -> str:
    args = ", ".join(f"{name}={text}" for name, (_, text) in event.locals.items()
                     if name != "...")
    return f"call {event.func}({args})"


def _line(event: TraceEvent) -> str:
    text = f"L{event.lineno} {event.source}"
    parts = []
    for name, (tname, value) in event.locals.items():
        parts.append(f"... {value}" if name == "..." else f"{name}: {tname} = {value}")
    if parts:
        text += "  | " + ", ".join(parts)
    if event.stdout is not None:
        text += f"  | stdout so far: {_quote(event.stdout, 80)}"
    return text


def _clip(text: str) -> str:
    return text if len(text) <= MAX_LINE_CHARS else text[: MAX_LINE_CHARS - 3] + "..."


def _one_line(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _quote(text: str, limit: int) -> str:
    text = text or ""
    if len(text) > limit:
        return repr(text[-limit:]) + f" (last {limit} of {len(text)} chars)"
    return repr(text)


def _fit(lines: list[str], max_chars: int) -> str:
    text = "\n".join(lines)
    if len(text) <= max_chars:
        return text
    head_budget = int(max_chars * 0.55)
    tail_budget = max_chars - head_budget - 50
    head: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > head_budget:
            break
        head.append(line)
        used += len(line) + 1
    tail: list[str] = []
    used = 0
    for line in reversed(lines[len(head):]):
        if used + len(line) + 1 > tail_budget:
            break
        tail.append(line)
        used += len(line) + 1
    tail.reverse()
    cut = len(lines) - len(head) - len(tail)
    marker = f"[... {cut} trace lines cut to fit {max_chars} chars ...]"
    text = "\n".join(head + [marker] + tail)
    if len(text) > max_chars:  # a single huge line; lines are clipped, so this is rare
        text = text[: max_chars - 3] + "..."
    return text
