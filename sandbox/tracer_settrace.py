"""The `sys.settrace` tracer (any Python; the default below 3.12).

The global trace function sees every new frame; for frames not in the candidate file it
returns None, so the interpreter never calls us for their lines. Candidate frames get a small
per-frame closure as their local trace function. A 'return' event is told apart from a yield
or an exception unwinding by the opcode the frame stopped at.
"""
from __future__ import annotations

import dis
import logging
import sys
from typing import Callable

from sandbox.saferepr import pin_builtins
from sandbox.trace_recorder import SKIP, Recorder
from sandbox.types import Trace, TraceCaps

log = logging.getLogger(__name__)
pin_builtins(globals())

# Bound at import: traced code that rebinds sys.settrace cannot redirect our own calls.
_settrace = sys.settrace
_gettrace = sys.gettrace

_CO_GENERATOR_LIKE = 0x0020 | 0x0080 | 0x0200   # generator, coroutine, async generator
# Where a generator or coroutine stops when it yields. Python 3.10 awaits with YIELD_FROM and
# leaves f_lasti on the instruction before it (it re-executes YIELD_FROM on resumption).
_YIELDS = frozenset(dis.opmap[name] for name in ("YIELD_VALUE", "YIELD_FROM") if name in dis.opmap)
_YIELD_FROM = dis.opmap.get("YIELD_FROM", -2)
_RETURNS = frozenset(dis.opmap[name] for name in ("RETURN_VALUE", "RETURN_CONST")
                     if name in dis.opmap)


class SettraceTracer:
    impl = "settrace"

    def __init__(self, filename: str, *, stdout_getter: Callable[[], str] | None = None,
                 caps: TraceCaps | None = None, source: str | None = None, debug: bool = False):
        self.filename = filename
        self.reason = ""
        self._recorder = Recorder(filename, caps or TraceCaps(), source=source,
                                  stdout_getter=stdout_getter)
        self._debug = debug
        self._previous = None
        self._running = False

    def start(self) -> None:
        if self._running:
            raise RuntimeError("tracer already started; call stop() before start() again")
        self._running = True
        self._capped = [False]
        self._previous = _gettrace()
        self._installed = self._global_function()
        self._recorder.on_cap = self._stop_paying
        _settrace(self._installed)

    def stop(self) -> Trace:
        if not self._running:
            raise RuntimeError("tracer is not running; call start() first")
        rec = self._recorder
        if _gettrace() is not self._installed and not (rec.untraced or rec.failed):
            rec.note("tracing was switched off from inside the program (sys.settrace); "
                     "events after that point are missing")
        _settrace(self._previous)
        self._running = False
        return rec.finish()

    def _stop_paying(self) -> None:
        """Past the event cap: no new frames are traced and running ones give no line events;
        their return and exception events still come (the outcome stays in the trace)."""
        self._capped[0] = True
        for frame in list(self._recorder.active):
            frame.f_trace_lines = False

    def _global_function(self):
        rec = self._recorder
        modes = rec.modes
        mode_of = rec.mode_of
        enter, resume = rec.enter, rec.resume
        line, leave, suspend = rec.line, rec.leave, rec.suspend
        exception, unwind = rec.exception, rec.unwind
        code_bytes: dict = {}
        debug = self._debug
        capped = self._capped

        def opcode_at(frame, offset: int) -> int:
            code = frame.f_code
            raw = code_bytes.get(code)
            if raw is None:
                raw = code_bytes[code] = code.co_code
            return raw[offset] if 0 <= offset < len(raw) else -1

        def is_resumption(frame) -> bool:
            if not frame.f_code.co_flags & _CO_GENERATOR_LIKE:
                return False
            lasti = frame.f_lasti
            return lasti >= 0 and (opcode_at(frame, lasti) in _YIELDS
                                   or opcode_at(frame, lasti - 2) in _YIELDS
                                   or opcode_at(frame, lasti + 2) == _YIELD_FROM)

        def broken(exc: Exception) -> None:
            rec.fail(exc)
            _settrace(None)   # stop now; an exception escaping a trace hook would hit the program
            log.debug("settrace tracer failed: %r", exc)

        def local_function(st):
            def local(frame, event, arg):
                try:
                    if event == "line":
                        line(st, frame.f_lineno)
                    elif event == "return":
                        lasti = frame.f_lasti
                        op = opcode_at(frame, lasti)
                        if op in _RETURNS:
                            leave(st, arg)
                        elif op in _YIELDS or (not st.raised and (
                                opcode_at(frame, lasti - 2) in _YIELDS        # 3.13: on RESUME
                                or opcode_at(frame, lasti + 2) == _YIELD_FROM)):  # 3.10
                            suspend(st)
                        else:
                            unwind(st)
                    elif event == "exception":
                        exception(st, arg[1])
                except Exception as exc:
                    broken(exc)
                    return None
                return local

            if not debug:
                return local

            def logged(frame, event, arg):
                log.debug("settrace %s %s:%s", event, st.func, frame.f_lineno)
                return logged if local(frame, event, arg) is not None else None
            return logged

        def global_function(frame, event, arg):
            if event != "call" or capped[0]:
                return None
            try:
                mode = modes.get(frame.f_code)
                if mode is None:
                    mode = mode_of(frame.f_code)
                if mode == SKIP:
                    return None
                st = resume(frame) if is_resumption(frame) else enter(frame)
            except Exception as exc:
                broken(exc)
                return None
            return local_function(st)

        if not debug:
            return global_function

        def logged_global(frame, event, arg):
            result = global_function(frame, event, arg)
            if result is not None:
                log.debug("settrace call %s:%s", frame.f_code.co_name, frame.f_lineno)
            return result
        return logged_global
