"""The parent's half of a run: read the child's frames as untrusted input and decide the outcome.

The child's pipe holds length-prefixed JSON frames: for a call test with an expected value, first
`{"kind": "expected", ...}` (written before any candidate code ran, so it is authentic), then one
`{"kind": "result", ...}` at the end (written by a process the candidate controlled, so anything
may be in it). Nothing here raises on bad input: a frame that does not parse, or a result of the
wrong shape, is read as "no result" and the outcome comes from how the child died.

Who judges:
- call test with `expected`: the parent, on the plain forms (sandbox/plain.py) of the returned
  value and of the expected value. When the expected value needs the program's names it is
  evaluated after the program, in the child, and the child's verdict is used (said in frame 1).
- stdio test with `expected_stdout`: the parent compares stdout; the child never sees it.
- anything else (assert statements, no expectation): the child's verdict; its asserts compare
  plain forms, but the expected values sit in the child's memory (see sandbox/README.md).
"""
from __future__ import annotations

import json
import signal

from sandbox.checks import bounded_repr, first_difference, stdout_matches, values_equal
from sandbox.plain import clean_text, from_plain
from sandbox.protocol import LENGTH
from sandbox.types import ExecResult, Status, TestCase, Trace, TraceEvent

MAX_FRAMES = 4
EVENT_KINDS = frozenset({"line", "call", "return", "exception"})


def split_frames(data: bytes) -> list[bytes] | None:
    """The frames in `data`, or None unless it is a whole number of frames (at most 4)."""
    frames, pos = [], 0
    while pos < len(data):
        if len(data) - pos < LENGTH.size or len(frames) >= MAX_FRAMES:
            return None
        (n,) = LENGTH.unpack_from(data, pos)
        pos += LENGTH.size
        if n > len(data) - pos:
            return None
        frames.append(data[pos:pos + n])
        pos += n
    return frames


def judge(test: TestCase, header: dict, payload: bytes, timeout_s: float) -> ExecResult:
    wall = float(header.get("wall_s", 0.0))
    if header.get("overflow"):
        return ExecResult(status=Status.OUTPUT_LIMIT, error="the child's result was over the size limit",
                          duration_s=wall)
    frames = split_frames(payload) or []
    expected, report = None, None
    for raw in frames:
        message = _load(raw)
        if message is None:
            break
        if message.get("kind") == "expected" and expected is None and report is None:
            expected = message
        elif message.get("kind") == "result" and report is None:
            report = message
    result = _decode(report) if report is not None else None
    if result is None:
        return _from_exit(header, timeout_s, wall)
    result.duration_s = wall
    if test.kind == "stdio" and test.expected_stdout is not None:
        return _judge_stdio(test, report, result)
    if test.kind == "call" and test.expected is not None:
        return _judge_value(test, expected, report, result)
    return result


def _judge_stdio(test: TestCase, report: dict, result: ExecResult) -> ExecResult:
    if result.status is not Status.PASSED:
        return result
    if report.get("completed") is not True:
        return _error(result, "the child claimed a pass without finishing")
    if stdout_matches(result.stdout, test.expected_stdout, test.atol):
        return result
    where = first_difference(result.stdout, test.expected_stdout, test.atol)
    result.status, result.error = Status.FAILED, f"stdout differs from the expected output: {where}"
    return result


def _judge_value(test: TestCase, expected: dict | None, report: dict, result: ExecResult) -> ExecResult:
    if expected is None:
        if result.status is Status.PASSED:  # the expected value never came: the test cannot pass
            return _error(result, "the child sent no expected value")
        return result
    if expected.get("late") is True:
        return result
    if "error" in expected:
        if result.status is Status.PASSED:
            return _error(result, "the expected value does not evaluate")
        return result
    if result.status is not Status.PASSED:
        return result
    if report.get("completed") is not True or "plain" not in expected:
        return _error(result, "the child claimed a pass without a value")
    try:
        ok = values_equal(from_plain(report.get("plain")), from_plain(expected["plain"]), test.atol)
    except (ValueError, RecursionError, TypeError, OverflowError) as exc:
        return _error(result, f"the returned or expected value could not be compared: {exc}")
    if ok:
        return result
    shown = expected.get("repr")
    shown = clean_text(shown) if isinstance(shown, str) else bounded_repr(test.expected)
    result.status, result.error = Status.FAILED, f"expected {shown}, got {result.value}"
    return result


def _error(result: ExecResult, message: str) -> ExecResult:
    result.status, result.error = Status.ERROR, message
    return result


def _load(raw: bytes):
    try:
        message = json.loads(raw)
    except Exception:  # RecursionError on deep nesting, UnicodeDecodeError, ValueError
        return None
    return message if isinstance(message, dict) else None


def _decode(d: dict) -> ExecResult | None:
    """A strictly checked ExecResult from the child's report; None when anything is off."""
    try:
        status = Status(d["status"])
        trace = _trace(d["trace"]) if d.get("trace") is not None else None
        return ExecResult(status=status, stdout=_text(d.get("stdout", "")), stderr=_text(d.get("stderr", "")),
                          value=_opt_text(d.get("value")), error=_opt_text(d.get("error")), trace=trace)
    except Exception:
        return None


def _trace(d) -> Trace:
    _need(d, dict)
    events = [_event(e) for e in _need(d.get("events", []), list)]
    return Trace(events=events, elided_events=_need(d.get("elided_events", 0), int),
                 truncated=_need(d.get("truncated", False), bool),
                 notes=[_text(n) for n in _need(d.get("notes", []), list)])


def _event(e) -> TraceEvent:
    _need(e, dict)
    kind = _text(e["kind"])
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    locals_ = {}
    for name, pair in _need(e.get("locals", {}), dict).items():
        tname, text = _need(pair, list)
        locals_[_text(name)] = (_text(tname), _text(text))
    repeat = _need(e.get("repeat", 1), int)
    return TraceEvent(kind=kind, lineno=_need(e["lineno"], int), func=_text(e.get("func", "")),
                      source=_text(e.get("source", "")), locals=locals_,
                      value=_opt_text(e.get("value")), stdout=_opt_text(e.get("stdout")),
                      repeat=max(repeat, 1))


def _need(value, kind):
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _text(value) -> str:
    return clean_text(_need(value, str))


def _opt_text(value) -> str | None:
    return None if value is None else _text(value)


def _from_exit(header: dict, timeout_s: float, wall: float) -> ExecResult:
    """No readable result: the outcome from how the child ended."""
    sig, code = header.get("signal"), header.get("exit")
    if header.get("wall_killed"):
        return ExecResult(status=Status.TIMEOUT, error=f"timed out after {timeout_s:g}s (killed)",
                          duration_s=wall)
    if sig == signal.SIGXCPU:
        return ExecResult(status=Status.TIMEOUT, error="CPU time limit exceeded", duration_s=wall)
    if sig == signal.SIGXFSZ:
        return ExecResult(status=Status.OUTPUT_LIMIT, error="file size limit exceeded", duration_s=wall)
    if sig is not None:
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        return ExecResult(status=Status.KILLED, error=f"killed by {name}", duration_s=wall)
    return ExecResult(status=Status.ERROR, error=f"exited with code {code} without a result",
                      duration_s=wall)
