"""The line tracer: one protocol, two implementations, chosen in one place.

The runner calls this inside its child process, around the execution of the candidate:

    from sandbox.tracer import make_tracer, TraceCaps
    tracer = make_tracer("<candidate>", source=program, stdout_getter=buf.getvalue)
    tracer.start()
    exec(compile(program, "<candidate>", "exec"), namespace)   # and the test
    trace = tracer.stop()                                        # -> sandbox.types.Trace

Only code objects whose ``co_filename`` equals `filename` are recorded (never the stdlib, the
runner or the test). Events, as in `sandbox.types.TraceEvent`:

- ``call``: a candidate function was entered; `locals` holds its arguments.
- ``line``: a statement ran; `locals` holds the variables it changed (type name, bounded
  repr), `stdout` the output so far when that line changed it (only with `stdout_getter`).
  A statement written over several lines is one event at its first line. An event with
  ``repeat > 1`` stands for that many folded loop iterations (see below).
- ``return``: `value` is the bounded repr of the returned value. Generators' yields and
  resumptions give no events of their own.
- ``exception``: `value` is ``"Type: message"``, once per candidate frame the exception
  passes through. StopIteration and GeneratorExit are control flow and are left out.

Module and class bodies give ``line`` events but no call/return; lambdas and comprehensions
give none (their effect shows in the statement that holds them).

Loops: the first `TraceCaps.max_loop_iterations_shown` iterations of a loop are kept in
full, later ones are folded into one ``line`` event at the loop header with ``repeat`` = the
number of folded iterations, followed by the last iteration in full (so the final state is
visible). Each fold adds a note to `Trace.notes`, and `Trace.elided_events` counts every
event left out. Past `max_events` or `max_total_chars` nothing more is recorded (the count
goes on), except the final return or exception of the outermost candidate call; the note
``"event cap reached after event K: ..."`` says where the gap is.

`impl`: "sysmon" (`sys.monitoring`, Python 3.12+) or "settrace" (`sys.settrace`). None picks
sysmon where it exists; the environment variable ``EGCFG_TRACER`` overrides the default. Both
produce the same trace for the same program. ``EGCFG_TRACE_DEBUG=1`` logs every raw event
(debug level); when unset it costs nothing.
"""
from __future__ import annotations

import logging
import os
import sys
from typing import Callable

from sandbox.types import Trace, TraceCaps, Tracer  # noqa: F401  (TraceCaps re-exported)

log = logging.getLogger(__name__)

IMPLEMENTATIONS = ("settrace", "sysmon")
TRACER_ENV = "EGCFG_TRACER"
DEBUG_ENV = "EGCFG_TRACE_DEBUG"


def debug_enabled() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def sysmon_available() -> bool:
    return hasattr(sys, "monitoring")


def choose_impl(impl: str | None = None) -> tuple[str, str]:
    """The implementation to use and why. The single place where the choice is made."""
    requested = impl if impl is not None else (os.environ.get(TRACER_ENV) or None)
    source = "argument" if impl is not None else f"${TRACER_ENV}"
    if requested is not None:
        requested = requested.strip().lower()
        if requested not in IMPLEMENTATIONS:
            raise ValueError(f"tracer implementation must be one of {IMPLEMENTATIONS}, got "
                             f"{requested!r} (from the {source}); use 'settrace' or 'sysmon'")
    if requested == "settrace":
        return "settrace", f"requested by {source}"
    if not sysmon_available():
        reason = f"sys.monitoring needs Python 3.12+, this is {sys.version.split()[0]}"
        if requested == "sysmon":
            log.warning("tracer: sysmon requested by %s but %s; falling back to settrace",
                        source, reason)
            return "settrace", f"fallback: {reason}"
        return "settrace", reason
    from sandbox.tracer_sysmon import free_tool_id
    if free_tool_id() is None:
        reason = "all sys.monitoring tool ids are in use"
        log.warning("tracer: %s; falling back to settrace", reason)
        return "settrace", f"fallback: {reason}"
    return "sysmon", f"requested by {source}" if requested else "Python 3.12+ default"


def make_tracer(filename: str, *, stdout_getter: Callable[[], str] | None = None,
                caps: TraceCaps | None = None, impl: str | None = None,
                source: str | None = None) -> Tracer:
    """A tracer for the code compiled with `filename`.

    `source`: the program text (used for line text, multi-line statements and loop extents);
    when None it is read through `linecache`, so pass it when `filename` is not a real file.
    `stdout_getter`: returns the output printed so far (stdio tests); None records no stdout.
    """
    if not isinstance(filename, str) or not filename:
        raise ValueError(f"make_tracer needs the candidate's filename as a non-empty str, "
                         f"got {filename!r}")
    caps = caps or TraceCaps()
    name, reason = choose_impl(impl)
    log.debug("tracer: using %s (%s)", name, reason)
    if name == "sysmon":
        from sandbox.tracer_sysmon import SysmonTracer as cls
    else:
        from sandbox.tracer_settrace import SettraceTracer as cls
    tracer = cls(filename, stdout_getter=stdout_getter, caps=caps, source=source,
                 debug=debug_enabled())
    tracer.reason = reason
    return tracer
