"""The `sys.monitoring` tracer (PEP 669, Python 3.12+; the default there).

Only PY_START (plus the exception events, which cannot be set per code object) is on
globally. The first time a code object starts, it is classified once: candidate code gets
LINE/PY_RETURN/PY_YIELD/PY_RESUME turned on for that code object alone; any other code
returns DISABLE, so the interpreter stops calling us for it.
"""
from __future__ import annotations

import _thread
import logging
import sys
from typing import Callable

from sandbox.saferepr import pin_builtins
from sandbox.trace_recorder import SKIP, Recorder
from sandbox.types import Trace, TraceCaps

log = logging.getLogger(__name__)
pin_builtins(globals())

_TOOL_IDS = (3, 4, 2, 1, 0)   # 3 and 4 have no assigned role; coverage and debuggers use others
_TOOL_NAME = "egcfg-tracer"
_getframe = sys._getframe
_get_ident = _thread.get_ident
_monitoring = getattr(sys, "monitoring", None)
# DISABLE marks left by an earlier tracer are right for us only if it traced the same filename
# (code of any other file is never ours); otherwise they must be cleared (restart_events).
_last_filename: str | None = None


def free_tool_id() -> int | None:
    if _monitoring is None:
        return None
    for tool in _TOOL_IDS:
        if _monitoring.get_tool(tool) is None:
            return tool
    return None


class SysmonTracer:
    impl = "sysmon"

    def __init__(self, filename: str, *, stdout_getter: Callable[[], str] | None = None,
                 caps: TraceCaps | None = None, source: str | None = None, debug: bool = False):
        if _monitoring is None:
            raise RuntimeError(f"sys.monitoring needs Python 3.12+, this is "
                               f"{sys.version.split()[0]}; use impl='settrace'")
        self.filename = filename
        self.reason = ""
        self._recorder = Recorder(filename, caps or TraceCaps(), source=source,
                                  stdout_getter=stdout_getter)
        self._debug = debug
        self._tool: int | None = None
        self._codes: list = []

    def start(self) -> None:
        global _last_filename
        if self._tool is not None:
            raise RuntimeError("tracer already started; call stop() before start() again")
        tool = free_tool_id()
        if tool is None:
            raise RuntimeError("no free sys.monitoring tool id (0-4 are all in use); "
                               "use impl='settrace'")
        mon = _monitoring
        mon.use_tool_id(tool, _TOOL_NAME)
        self._tool = tool
        if _last_filename is not None and _last_filename != self.filename:
            mon.restart_events()
        _last_filename = self.filename
        E = mon.events
        callbacks = self._callbacks(tool)
        self._recorder.on_cap = self._stop_paying
        if self._debug:
            callbacks = {event: _logged(event, fn) for event, fn in callbacks.items()}
        for event, fn in callbacks.items():
            mon.register_callback(tool, event, fn)
        mon.set_events(tool, E.PY_START | E.PY_THROW | E.RAISE | E.PY_UNWIND)

    def stop(self) -> Trace:
        tool = self._tool
        if tool is None:
            raise RuntimeError("tracer is not running; call start() first")
        mon = _monitoring
        rec = self._recorder
        try:
            intact = mon.get_tool(tool) == _TOOL_NAME and (rec.untraced or rec.failed
                                                           or mon.get_events(tool) != 0)
        except Exception:
            intact = False
        if not intact:
            rec.note("tracing was switched off from inside the program (sys.monitoring); "
                     "events after that point are missing")
            if mon.get_tool(tool) != _TOOL_NAME:
                self._tool = None
                self._codes = []
                return rec.finish()
        mon.set_events(tool, 0)
        for code in self._codes:
            mon.set_local_events(tool, code, 0)
        for event in (mon.events.PY_START, mon.events.PY_THROW, mon.events.RAISE,
                      mon.events.PY_UNWIND, mon.events.PY_RESUME, mon.events.LINE,
                      mon.events.PY_RETURN, mon.events.PY_YIELD):
            mon.register_callback(tool, event, None)
        mon.free_tool_id(tool)
        self._tool = None
        self._codes = []
        return self._recorder.finish()

    def _stop_paying(self) -> None:
        """Past the event cap: no PY_START or LINE events any more; returns and exceptions of
        the frames already running still come (the outcome stays in the trace)."""
        mon, tool = _monitoring, self._tool
        E = mon.events
        mon.set_events(tool, E.PY_THROW | E.RAISE | E.PY_UNWIND)
        for code in self._codes:
            mon.set_local_events(tool, code, E.PY_RETURN | E.PY_YIELD | E.PY_RESUME)

    def _callbacks(self, tool: int) -> dict:
        rec = self._recorder
        modes, mode_of, active = rec.modes, rec.mode_of, rec.active
        enter, resume = rec.enter, rec.resume
        line, leave, suspend = rec.line, rec.leave, rec.suspend
        exception, unwind = rec.exception, rec.unwind
        mon = _monitoring
        E = mon.events
        DISABLE = mon.DISABLE
        set_local_events = mon.set_local_events
        local_events = E.LINE | E.PY_RETURN | E.PY_YIELD | E.PY_RESUME
        codes = self._codes
        up = 2 if self._debug else 1   # the monitored frame, above us (and the logging wrapper)
        thread = _get_ident()          # like settrace, follow only the thread that started us

        def broken(exc: Exception) -> None:
            rec.fail(exc)
            mon.set_events(tool, 0)   # stop now; an exception escaping a hook would hit the program
            for code in codes:
                mon.set_local_events(tool, code, 0)
            log.debug("sysmon tracer failed: %r", exc)

        def on_start(code, offset):
            try:
                mode = modes.get(code)
                if mode is None:
                    mode = mode_of(code)
                    if mode != SKIP:
                        set_local_events(tool, code, local_events)
                        codes.append(code)
                if mode == SKIP:
                    return DISABLE
                if _get_ident() == thread:
                    enter(_getframe(up))
            except Exception as exc:
                broken(exc)

        def on_resume(code, offset):
            try:
                resume(_getframe(up))
            except Exception as exc:
                broken(exc)

        def on_throw(code, offset, exc):
            try:
                if modes.get(code):
                    resume(_getframe(up))
            except Exception as error:
                broken(error)

        def on_line(code, lineno):
            try:
                st = active.get(_getframe(up))
                if st is not None:
                    line(st, lineno)
            except Exception as exc:
                broken(exc)

        def on_return(code, offset, value):
            try:
                st = active.get(_getframe(up))
                if st is not None:
                    leave(st, value)
            except Exception as exc:
                broken(exc)

        def on_yield(code, offset, value):
            try:
                st = active.get(_getframe(up))
                if st is not None:
                    suspend(st)
            except Exception as exc:
                broken(exc)

        def on_raise(code, offset, exc):
            try:
                if modes.get(code):
                    st = active.get(_getframe(up))
                    if st is not None:
                        exception(st, exc)
            except Exception as error:
                broken(error)

        def on_unwind(code, offset, exc):
            try:
                if modes.get(code):
                    st = active.get(_getframe(up))
                    if st is not None:
                        unwind(st)
            except Exception as error:
                broken(error)

        return {E.PY_START: on_start, E.PY_RESUME: on_resume, E.PY_THROW: on_throw,
                E.LINE: on_line, E.PY_RETURN: on_return, E.PY_YIELD: on_yield,
                E.RAISE: on_raise, E.PY_UNWIND: on_unwind}


def _logged(event: int, fn):
    def logged(code, *args):
        log.debug("sysmon event %s %s:%s", event, code.co_name,
                  args[0] if args else "")
        return fn(code, *args)
    return logged
