"""The event-building logic shared by both tracer implementations.

An implementation only turns its raw hooks into calls on `Recorder`:
`enter(frame)` (a candidate frame starts), `resume(frame)` (a generator resumes),
`line(state, lineno)`, `leave(state, value)` (return), `suspend(state)` (yield),
`exception(state, exc)` and `unwind(state)` (the frame exits by an exception), then
`finish()`. Everything else (frame state, locals diffs, loop folding, caps) lives here, so
the two implementations give the same trace by construction.

"Locals after the line": a line event is appended when the line starts, and its `locals` are
filled with what changed when the same frame reaches its next line, returns, raises or yields.
So events stay in execution order (a call made by line 5 comes after the L5 event) and each
change is attributed to the line that made it.

Hot-path notes: events are plain lists until `finish()` turns the kept ones into
`TraceEvent`s; a variable is re-rendered only when it is a different object, or a container
whose cheap snapshot no longer compares equal, or an object with its own `__repr__`.
"""
from __future__ import annotations

import types
from typing import Callable

from sandbox.saferepr import pin_builtins, safe_repr, safe_str
from sandbox.source_info import SourceInfo
from sandbox.types import Trace, TraceCaps, TraceEvent

pin_builtins(globals())

_type = type
_repr = repr
_len = len
_all = all

CO_OPTIMIZED = 0x0001
CO_VARARGS = 0x0004
CO_VARKEYWORDS = 0x0008

SKIP = 0          # not recorded at all
LINES_ONLY = 1    # module and class bodies: line events, no call/return
FULL = 2          # functions

CAP_NOTE_PREFIX = "event cap reached after event "
MAX_NAME = 60     # characters of a variable name kept in an event
_NO_EVENTS_NAMES = frozenset({"<lambda>", "<listcomp>", "<setcomp>", "<dictcomp>", "<genexpr>"})
_QUIET_EXCEPTIONS = (StopIteration, StopAsyncIteration, GeneratorExit)
_IMMUTABLE = frozenset({int, float, str, bool, type(None), bytes, complex, tuple, frozenset,
                        range})
_ATOMS = frozenset({int, float, str, bool, type(None), bytes, complex})
_SNAPSHOT_TYPES = frozenset({list, dict, set, bytearray})
_SNAPSHOT_MAX = 64
# Values not worth a line in a prompt: definitions and imports.
_HIDDEN_TYPES = frozenset({types.FunctionType, types.ModuleType, type, types.BuiltinFunctionType,
                           types.MethodType})
_MISSING = object()
_SMALL_INT = 10 ** 15
_PLAIN_ATOMS = frozenset({bool, type(None)})   # their repr is short and cannot fail
_RELEASED = object()   # stands for a value we stopped referencing (suspended generator)

# An event while recording: [kind, lineno, func, source, locals, value, stdout, repeat]
KIND, LINENO, FUNC, SOURCE, LOCALS, VALUE, STDOUT, REPEAT = range(8)


class FrameState:
    __slots__ = ("frame", "func", "full", "depth", "top", "prev", "pending", "line", "loops",
                 "raised")

    def __init__(self, frame, func: str, full: bool, depth: int):
        self.frame = frame
        self.func = func
        self.full = full
        self.depth = depth
        self.top = False            # no candidate function below it: its return is the outcome
        # name -> (value, type name, repr, snapshot). repr None: seen at entry, not rendered.
        # snapshot: a shallow copy of a small flat container, compared before re-rendering.
        self.prev: dict = {}
        self.pending: list | None = None
        self.line: int | None = None
        self.loops: list[Loop] = []
        self.raised = False         # an exception passed since this frame's last line event


class Loop:
    __slots__ = ("header", "end", "iterations", "quiet", "current", "previous", "held",
                 "folded", "folded_events")

    def __init__(self, header: int, end: int):
        self.header = header
        self.end = end
        self.iterations = 2          # made on the first jump back: the second iteration starts
        self.quiet = False           # folding: events go to `current`, not to the trace
        self.current: list = []
        self.previous: list | None = None
        self.held: list | None = None  # the first folded iteration, kept until a second one
        self.folded = 0
        self.folded_events = 0


def _snapshot(value, t):
    """A cheap copy to compare with later, for small containers of atoms; else None."""
    try:
        if t is list or t is set:
            if _len(value) <= _SNAPSHOT_MAX and _all(_type(x) in _ATOMS for x in value):
                return t(value)
        elif t is dict:
            if _len(value) <= _SNAPSHOT_MAX and _all(
                    _type(k) in _ATOMS and _type(v) in _ATOMS for k, v in value.items()):
                return dict(value)
        elif t is bytearray:
            if _len(value) <= 4 * _SNAPSHOT_MAX:
                return bytes(value)
    except Exception:
        pass
    return None


def _repr_is_stable(t: type) -> bool:
    """True when one object always shows the same repr (immutable, or object's own repr)."""
    if t in _IMMUTABLE:
        return True
    try:
        return t.__repr__ is object.__repr__
    except Exception:
        return False


def _size(event: list) -> int:
    size = _len(event[SOURCE]) + 16
    if event[LOCALS]:
        for name, (tname, text) in event[LOCALS].items():
            size += _len(name) + _len(tname) + _len(text) + 4
    if event[VALUE] is not None:
        size += _len(event[VALUE])
    if event[STDOUT] is not None:
        size += _len(event[STDOUT])
    return size


def _real_count(events: list) -> int:
    count = _len(events)
    for e in events:
        if e[REPEAT] > 1:
            count -= 1
    return count


def _to_event(e: list) -> TraceEvent:
    return TraceEvent(e[KIND], e[LINENO], e[FUNC], e[SOURCE], e[LOCALS] or {}, e[VALUE],
                      e[STDOUT], e[REPEAT])


class Recorder:
    def __init__(self, filename: str, caps: TraceCaps, *, source: str | None = None,
                 stdout_getter: Callable[[], str] | None = None):
        self.filename = filename
        self.caps = caps
        self._source = source
        self._src: SourceInfo | None = None
        self._stdout_getter = stdout_getter
        self._last_stdout = ""
        self.modes: dict = {}          # code object -> SKIP / LINES_ONLY / FULL
        self.active: dict = {}         # frame -> FrameState, frames now running
        self.suspended: dict = {}      # id(frame) -> FrameState, generators between yields
        self.depth = 0
        self._full_active = 0          # candidate function frames now running
        self.events: list = []
        self._sinks: list[Loop] = []   # quiet loops, innermost last
        self._live = 0                 # events held (trace + loop buffers)
        self._max_events = caps.max_events
        self._capped = False
        self._tail: list = []
        self._elided = 0
        self._elided_after_cap = 0
        self._notes: list[str] = []
        self._skip_names: set[str] = set()
        self._stable_types: dict = dict.fromkeys(_IMMUTABLE, True)
        self.failed = False
        self.on_cap: Callable[[], None] | None = None   # the tracer stops paying for lines
        self.untraced = False
        self._lines_left = caps.max_line_events

    # ---- classification -------------------------------------------------------------------
    def mode_of(self, code) -> int:
        mode = self.modes.get(code)
        if mode is None:
            if code.co_filename != self.filename or code.co_name in _NO_EVENTS_NAMES:
                mode = SKIP
            elif code.co_flags & CO_OPTIMIZED:
                mode = FULL
            else:
                mode = LINES_ONLY
            self.modes[code] = mode
        return mode

    @property
    def src(self) -> SourceInfo:
        if self._src is None:
            self._src = SourceInfo(self._source, self.filename, self.caps.max_source)
        return self._src

    # ---- raw hooks ------------------------------------------------------------------------
    def enter(self, frame) -> FrameState:
        code = frame.f_code
        full = self.mode_of(code) == FULL
        st = FrameState(frame, code.co_name, full, self.depth)
        self._activate(st)
        if full:
            self._call_event(st, frame, code)
        else:
            st.prev = {name: (value, None, None, None)
                       for name, value in frame.f_locals.items()}
        return st

    def resume(self, frame) -> FrameState:
        st = self.suspended.pop(id(frame), None)
        if st is None:  # a generator that started before tracing did
            st = FrameState(frame, frame.f_code.co_name, self.mode_of(frame.f_code) == FULL,
                            self.depth)
            st.prev = {name: (value, None, None, None)
                       for name, value in frame.f_locals.items()}
        st.frame = frame
        st.depth = self.depth
        st.line = None
        st.raised = False
        self._activate(st)
        return st

    def line(self, st: FrameState, lineno: int) -> None:
        self._lines_left -= 1
        if self._lines_left < 0 and not self.untraced:
            self._stop_lines()
        src = self._src or self.src
        lineno = src.statement_map.get(lineno, lineno)
        previous = st.line
        st.raised = False
        if lineno == previous:
            return  # the same statement again (comprehension, one-line loop): one event
        if st.pending is not None:
            self._finish_line(st)
        st.line = lineno
        if self._capped:
            self._elided += 1
            self._elided_after_cap += 1
            return
        loops = st.loops
        if loops:
            while loops and not (loops[-1].header <= lineno <= loops[-1].end):
                self._exit_loop(st, loops.pop())
        if previous is not None and lineno < previous:
            end = previous if src.dynamic else src.loop_ends.get(lineno)
            if end is not None:
                if loops and loops[-1].header == lineno:
                    self._next_iteration(loops[-1])
                else:
                    loop = Loop(lineno, end)
                    loops.append(loop)
                    if self.caps.max_loop_iterations_shown < 2:
                        self._go_quiet(loop)
        text = src.texts.get(lineno)
        if text is None:
            text = src.text(lineno)
        event = ["line", lineno, st.func, text, None, None, None, 1]
        if self._live < self._max_events:
            (self._sinks[-1].current if self._sinks else self.events).append(event)
            self._live += 1
            st.pending = event
        else:
            self._emit(event)

    def leave(self, st: FrameState, value) -> None:
        self._close_frame(st)
        self._release(st)
        if st.full:
            text = safe_repr(value, self.caps.max_repr)
            self._emit(["return", st.line or 0, st.func, "", None, text, None, 1], final=st.top)

    def suspend(self, st: FrameState) -> None:
        """A yield or await. The pending line stays open: what it assigns on resumption
        (``x = yield``, ``a = await g()``) shows when the frame reaches its next line."""
        while st.loops:
            self._exit_loop(st, st.loops.pop())
        self._deactivate(st)
        # Hold neither the frame nor the values while suspended: a generator that is closed or
        # dropped now must free its locals as it would untraced (3.13 may close it with no
        # event at all). Reprs stay, so the next line after resumption still diffs correctly.
        self.suspended[id(st.frame)] = st
        st.frame = None
        st.prev = {name: (_RELEASED, entry[1], entry[2], entry[3])
                   for name, entry in st.prev.items()}

    def unwind(self, st: FrameState) -> None:
        self._close_frame(st)
        self._release(st)

    @staticmethod
    def _release(st: FrameState) -> None:
        """Drop our references to a finished frame and its values, so that nothing the program
        made lives longer because it was traced (settrace would keep a frame -> f_trace -> state
        -> frame cycle; finalizers such as a generator's close() must run when they would)."""
        st.frame = None
        st.prev = {}

    def exception(self, st: FrameState, exc: BaseException) -> None:
        st.raised = True
        if isinstance(exc, _QUIET_EXCEPTIONS):
            return
        if st.pending is not None:
            self._finish_line(st)
        message = _type(exc).__name__
        text = safe_str(exc, 2 * self.caps.max_repr)
        if text:
            message = f"{message}: {text}"
        lineno = st.line if st.line is not None else st.frame.f_lineno
        self._emit(["exception", lineno, st.func, self.src.text(lineno), None, message, None, 1],
                   final=st.top)

    def fail(self, exc: BaseException) -> None:
        """An error inside the tracer itself: record it; the implementation stops tracing."""
        if not self.failed:
            self.failed = True
            self._notes.append(f"tracer error, nothing recorded after it: "
                               f"{_type(exc).__name__}: {safe_str(exc, 120)}")

    def finish(self) -> Trace:
        """The trace so far. Safe to call at any moment (a timeout handler may call it while a
        hook is half-way through): if closing the open frames fails, the events kept so far
        are returned with a note."""
        try:
            return self._finish()
        except Exception as exc:
            notes = self._notes + [f"trace closed early: {_type(exc).__name__}: "
                                   f"{safe_str(exc, 120)}"]
            events = [_to_event(e) for e in self.events if isinstance(e, list) and _len(e) == 8]
            return Trace(events=events, elided_events=self._elided, truncated=True, notes=notes)

    def _finish(self) -> Trace:
        for st in sorted(self.active.values(), key=lambda s: -s.depth):
            if st.pending is not None:
                self._finish_line(st)
            while st.loops:
                self._exit_loop(st, st.loops.pop())
        while self._sinks:  # only if frames vanished without an exit event
            self._exit_loop(None, self._sinks[-1])
        self.active.clear()
        self.suspended.clear()
        events = self.events
        notes = list(self._notes)
        reason = f"max_events={self.caps.max_events}" if self._capped else ""
        keep = self._within_chars(events)
        if keep < _len(events):
            if not self._capped:
                self._elided_after_cap = 0
                reason = f"max_total_chars={self.caps.max_total_chars}"
                last = events[-1]
                if last[KIND] in ("return", "exception") and self.caps.tail_events:
                    self._tail = [last]
                    events = events[:-1]
            dropped = _real_count(events[keep:])
            self._elided += dropped
            self._elided_after_cap += dropped
            events = events[:keep]
            self._capped = True
        if self._capped:
            notes.append(f"{CAP_NOTE_PREFIX}{_len(events)}: {reason}; "
                         f"{self._elided_after_cap} later events not recorded"
                         + (f", the last {_len(self._tail)} kept" if self._tail else "")
                         + ("; the rest ran untraced (lines not counted)" if self.untraced else ""))
            events = events + self._tail
        return Trace(events=[_to_event(e) for e in events], elided_events=self._elided,
                     truncated=self._capped, notes=notes)

    # ---- internals --------------------------------------------------------------------------
    def _activate(self, st: FrameState) -> None:
        self.depth += 1
        st.top = self._full_active == 0
        if st.full:
            self._full_active += 1
        self.active[st.frame] = st

    def _within_chars(self, events: list) -> int:
        """How many leading events fit in max_total_chars."""
        budget = self.caps.max_total_chars
        worst = (self.caps.max_source + 16 + 3 * self.caps.max_repr + self.caps.max_stdout
                 + self.caps.max_locals * (self.caps.max_repr + 40))
        if _len(events) * worst <= budget:
            return _len(events)
        used = 0
        for i, e in enumerate(events):
            used += _size(e)
            if used > budget:
                return i
        return _len(events)

    def _call_event(self, st: FrameState, frame, code) -> None:
        flags = code.co_flags
        nargs = (code.co_argcount + code.co_kwonlyargcount + bool(flags & CO_VARARGS)
                 + bool(flags & CO_VARKEYWORDS))
        f_locals = frame.f_locals
        prev = st.prev
        args = {}
        limit = self.caps.max_repr
        for name in code.co_varnames[:nargs]:
            value = f_locals.get(name, _MISSING)
            if value is _MISSING:
                continue
            t = _type(value)
            text = safe_repr(value, limit)
            prev[name] = (value, t.__name__, text, _snapshot(value, t))
            if _len(args) < self.caps.max_locals:
                args[name if _len(name) <= MAX_NAME else name[:MAX_NAME - 3] + "..."] = (t.__name__, text)
        if _len(f_locals) > _len(prev):  # free variables of a nested function
            for name, value in f_locals.items():
                if name not in prev:
                    t = _type(value)
                    prev[name] = (value, t.__name__, safe_repr(value, limit), _snapshot(value, t))
        src = self.src
        lineno = src.def_line(code.co_firstlineno)
        self._emit(["call", lineno, st.func, src.text(lineno), args, None, None, 1])

    def _close_frame(self, st: FrameState) -> None:
        if st.pending is not None:
            self._finish_line(st)
        while st.loops:
            self._exit_loop(st, st.loops.pop())
        self._deactivate(st)

    def _deactivate(self, st: FrameState) -> None:
        if self.active.pop(st.frame, None) is not None:
            self.depth -= 1
            if st.full:
                self._full_active -= 1

    def _finish_line(self, st: FrameState) -> None:
        event = st.pending
        st.pending = None
        changed = self._diff(st)
        if changed:
            event[LOCALS] = changed
        getter = self._stdout_getter
        if getter is not None:
            try:
                out = getter()
            except Exception:
                out = self._last_stdout
            if out != self._last_stdout and isinstance(out, str):
                self._last_stdout = out
                limit = self.caps.max_stdout
                event[STDOUT] = out if _len(out) <= limit else "..." + out[-limit:]

    def _diff(self, st: FrameState) -> dict | None:
        try:
            items = list(st.frame.f_locals.items())
        except Exception:  # a frame torn down under us (a signal handler calling stop())
            return None
        prev = st.prev
        skip = self._skip_names
        stable = self._stable_types
        limit = self.caps.max_repr
        changed = None
        extra = 0
        known = 0   # names of `prev` still bound; fewer than len(prev) means some were deleted
        for name, value in items:
            old = prev.get(name)
            t = _type(value)
            if old is not None:
                known += 1
                if old[0] is value:
                    same = stable.get(t)
                    if same is None:
                        same = stable[t] = _repr_is_stable(t)
                    if same or old[2] is None:
                        continue
                    snapshot = old[3]
                    if snapshot is not None and snapshot == value:
                        continue
            if name in skip:
                continue
            if t in _HIDDEN_TYPES or name[:1] == "." or (name[:2] == "__" and name[-2:] == "__"):
                if t not in _HIDDEN_TYPES:
                    skip.add(name)
                elif old is not None:   # rebound to a function or module: drop the old value
                    del prev[name]
                    known -= 1
                continue
            if t is int and -_SMALL_INT < value < _SMALL_INT or t in _PLAIN_ATOMS:
                text = _repr(value)    # the common case, without a call into saferepr
            else:
                text = safe_repr(value, limit)
            tname = t.__name__
            prev[name] = (value, tname, text,
                          _snapshot(value, t) if t in _SNAPSHOT_TYPES else None)
            if old is None:
                known += 1
            elif old[2] == text and old[1] == tname:
                continue
            if changed is None:
                changed = {}
            if _len(changed) < self.caps.max_locals:
                changed[name if _len(name) <= MAX_NAME else name[:MAX_NAME - 3] + "..."] = (tname, text)
            else:
                extra += 1
        if known < _len(prev):  # `del x`: stop holding the value, so its finalizer can run
            bound = {name for name, _ in items}
            for name in [name for name in prev if name not in bound]:
                del prev[name]
        if extra:
            changed["..."] = ("", f"{extra} more")
        return changed

    def note(self, text: str) -> None:
        if text not in self._notes:
            self._notes.append(text)

    def _stop_lines(self) -> None:
        """Over max_line_events executed lines (loops fold, so the event cap may never come):
        the rest runs untraced."""
        if self.on_cap is None:
            return
        self._reach_cap()
        self._notes.append(f"{self.caps.max_line_events} executed lines traced "
                           f"(max_line_events); the rest ran untraced")

    def _reach_cap(self) -> None:
        self._capped = True
        if self.on_cap is not None and not self.untraced:
            try:
                self.on_cap()
                self.untraced = True
            except Exception:  # only a speed-up
                pass

    def _emit(self, event: list, final: bool = False) -> bool:
        if not self._capped and self._live >= self._max_events:
            self._reach_cap()
        if self._capped:
            self._elided += 1
            self._elided_after_cap += 1
            if final and self.caps.tail_events:
                self._tail.append(event)
                self._elided -= 1
                self._elided_after_cap -= 1
                if _len(self._tail) > self.caps.tail_events:
                    self._tail.pop(0)
                    self._elided += 1
                    self._elided_after_cap += 1
            return False
        (self._sinks[-1].current if self._sinks else self.events).append(event)
        self._live += 1
        return True

    def _go_quiet(self, loop: Loop) -> None:
        loop.quiet = True
        loop.current = []
        self._sinks.append(loop)

    def _next_iteration(self, loop: Loop) -> None:
        loop.iterations += 1
        if loop.quiet:
            if loop.previous is not None:
                self._fold(loop, loop.previous)
            loop.previous = loop.current
            loop.current = []
        elif loop.iterations > self.caps.max_loop_iterations_shown:
            self._go_quiet(loop)

    def _fold(self, loop: Loop, events: list) -> None:
        count = _real_count(events)
        if loop.folded == 0:
            loop.held = events  # dropped only once a second iteration is folded
        else:
            if loop.held is not None:
                self._live -= _len(loop.held)
                loop.held = None
            self._live -= _len(events)
        loop.folded += 1
        loop.folded_events += count

    def _exit_loop(self, st: FrameState | None, loop: Loop) -> None:
        if not loop.quiet:
            return
        while self._sinks and self._sinks[-1] is not loop:  # defensive: keep sinks nested
            self._exit_loop(None, self._sinks[-1])
        if self._sinks:
            self._sinks.pop()
        loop.quiet = False
        current = loop.current
        shown = current
        if loop.previous is not None:
            header_only = (_len(current) <= 1 and _all(
                e[KIND] == "line" and e[LINENO] == loop.header for e in current))
            if header_only:
                shown = loop.previous + current
            else:
                self._fold(loop, loop.previous)
        if loop.folded == 1:
            out = (loop.held or []) + shown
        elif loop.folded >= 2:
            func = st.func if st is not None else ""
            value = (f"lines {loop.header}-{loop.end}: {loop.folded} iterations folded "
                     f"({loop.folded_events} events)")
            marker = ["line", loop.header, func, self.src.text(loop.header), None, value, None,
                      loop.folded]
            self._elided += loop.folded_events
            where = f" in {func}" if func and func != "<module>" else ""
            self._notes.append(f"loop at line {loop.header}{where}: {loop.folded} iterations "
                               f"folded ({loop.folded_events} events elided)")
            self._live += 1
            out = [marker] + shown
        else:
            out = shown
        (self._sinks[-1].current if self._sinks else self.events).extend(out)
        loop.current = []
        loop.previous = None
        loop.held = None
