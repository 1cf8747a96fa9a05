"""What one forked child does: isolate itself, run setup + program + test, report, exit.

The fork-server forks spare children ahead of time; each calls `serve(...)`, prepares what it
can, and waits for its one request. The child never returns: it writes one length-prefixed
JSON `ExecResult.to_dict()` to `result_fd`, closes it and `os._exit`s. Every way out
(normal end, exception, wall-clock alarm, output over the cap, `sys.exit`, `os._exit`) goes
through `_Child.finish`, so the partial trace and stdout come back whenever the process lives
long enough to send them. Deaths it cannot report (signals, limits enforced by the kernel) are
classified by the parent from the exit status.
"""
from __future__ import annotations

import builtins
import io
import json
import linecache
import os
import pickle
import signal
import sys
import time
import types

from sandbox import limits
from sandbox.protocol import ProtocolError, frame, read_frame
from sandbox.checks import bounded_repr, describe_exception, stdout_matches, values_equal
from sandbox.types import ExecResult, Status, TestCase, Trace

PROGRAM_FILE = "<candidate>"   # the tracer records only code objects with this co_filename
TEST_FILE = "<test>"
SETUP_FILE = "<setup>"
EXPECTED_FILE = "<expected>"
OWN_FILES = frozenset({PROGRAM_FILE, TEST_FILE, SETUP_FILE, EXPECTED_FILE})
MAX_FD = 1 << 16

_real_exit = os._exit
_BUILTINS = dict(builtins.__dict__)   # taken in the server; restored before we judge and report
tracer_import_error: str | None = "sandbox.tracer was not preloaded"


def preload() -> str | None:
    """Import and warm up the tracer in the fork-server, once, so no child pays for it.

    Runs each implementation once on a tiny program (lazy imports inside start/stop happen
    here). Returns the import error, if any; children then report traces as unavailable.
    """
    global tracer_import_error
    try:
        from sandbox import tracer
        for impl in tracer.IMPLEMENTATIONS:
            if impl == "sysmon" and not tracer.sysmon_available():
                continue
            source = "def _warm(n):\n    return n + 1\n_warm(1)\n"
            warm = tracer.make_tracer(PROGRAM_FILE, source=source, impl=impl)
            warm.start()
            try:
                exec(compile(source, PROGRAM_FILE, "exec"), {})
            finally:
                warm.stop()
        tracer_import_error = None
    except Exception as exc:
        tracer_import_error = describe_exception(exc)
    return tracer_import_error


class _Sink(io.BufferedIOBase):
    """A bounded in-memory byte sink behind sys.stdout / sys.stderr."""

    def __init__(self, limit: int, on_overflow, fd: int) -> None:
        super().__init__()
        self.data = bytearray()
        self.limit = limit
        self._on_overflow = on_overflow
        self._fd = fd
        self._text = ("", 0)

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def write(self, b) -> int:
        n = len(b) if not isinstance(b, memoryview) else b.nbytes
        room = self.limit - len(self.data)
        if n > room:
            self.data += bytes(b)[:max(room, 0)]
            self._on_overflow()
            raise OSError("output over the sandbox limit")
        self.data += b
        return n

    def append_tail(self, b: bytes) -> None:
        """Append our own text (a traceback) without triggering the overflow path."""
        self.data += b[:max(self.limit - len(self.data), 0)]

    def text(self) -> str:
        """The output so far, decoded; cached while it does not grow (the tracer polls it)."""
        if self._text[1] != len(self.data):
            self._text = (self.data.decode("utf-8", "replace"), len(self.data))
        return self._text[0]


class _Child:
    def __init__(self, request: dict, result_fd: int, run_dir: str, raw_stdout_fd: int) -> None:
        self.t0 = time.perf_counter()
        self.req = request
        self.test = TestCase(**request["test"])
        self.stdio = self.test.kind == "stdio"
        self.result_fd = result_fd
        self.run_dir = run_dir
        self.limit = int(request["output_limit"])
        self.finishing = False
        self.tracer = None
        self.trace: Trace | None = None
        self.raw_stdout_fd = raw_stdout_fd

    # ---- isolation ---------------------------------------------------------------------
    def isolate(self) -> None:
        """The request-specific part: stdin, rlimits, and the bounded stdout/stderr sinks."""
        stdin_fd = _memfd("stdin")
        data = self.test.stdin.encode("utf-8", "surrogateescape")
        while data:
            data = data[os.write(stdin_fd, data):]
        os.lseek(stdin_fd, 0, os.SEEK_SET)
        os.dup2(stdin_fd, 0)
        os.close(stdin_fd)
        limits.set_rlimits(float(self.req["timeout_s"]), int(self.req["memory_mb"]))
        self.out = _Sink(self.limit, lambda: self._over_limit("stdout"), 1)
        self.err = _Sink(self.limit, lambda: self._over_limit("stderr"), 2)
        sys.stdout = sys.__stdout__ = io.TextIOWrapper(self.out, encoding="utf-8",
                                                       errors="backslashreplace", write_through=True)
        sys.stderr = sys.__stderr__ = io.TextIOWrapper(self.err, encoding="utf-8",
                                                       errors="backslashreplace", write_through=True)
        sys.stdin = sys.__stdin__ = open(0, "r", encoding="utf-8", closefd=False)

    # ---- running -----------------------------------------------------------------------
    def execute(self) -> None:
        test, req = self.test, self.req
        signal.signal(signal.SIGALRM, self._on_alarm)
        signal.setitimer(signal.ITIMER_REAL, float(req["timeout_s"]))
        program = req["program"]
        try:
            program_code = compile(program, PROGRAM_FILE, "exec", dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as exc:
            self.finish(Status.SYNTAX_ERROR, error=_syntax_message(exc))
        try:
            setup_code = compile(test.setup, SETUP_FILE, "exec", dont_inherit=True)
            test_code, is_expr = _compile_test(test.code) if not self.stdio else (None, False)
            expected_code = (compile(test.expected, EXPECTED_FILE, "eval", dont_inherit=True)
                             if not self.stdio and test.expected is not None else None)
        except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as exc:
            self.finish(Status.SYNTAX_ERROR, error="the test does not compile: " + _syntax_message(exc))
        for name, source in ((PROGRAM_FILE, program), (TEST_FILE, test.code), (SETUP_FILE, test.setup)):
            linecache.cache[name] = (len(source), None, source.splitlines(True), name)

        module = types.ModuleType("__main__" if self.stdio else "__candidate__")
        module.__builtins__ = builtins
        sys.modules[module.__name__] = module
        namespace = module.__dict__
        self._make_tracer()
        limits.install_audit_hook(self.run_dir)
        os._exit = self._candidate_exit
        stage, value = "setup", None
        try:
            exec(setup_code, namespace)
            stage = "program"
            if self.tracer is not None:
                self._start_tracer()
            exec(program_code, namespace)
            stage = "test"
            if test_code is not None:
                if is_expr:
                    value = eval(test_code, namespace)
                else:
                    exec(test_code, namespace)
        except SystemExit as exc:
            self.stop_tracer()
            if self.stdio and exc.code in (None, 0):
                self._finish_stdio()
            self.finish(Status.ERROR, error=f"SystemExit: {exc.code}")
        except BaseException as exc:
            self.stop_tracer()
            self._fail(exc, stage)
        self.stop_tracer()
        if self.stdio:
            self._finish_stdio()
        if expected_code is None:
            self.finish(Status.PASSED, value=bounded_repr(value) if is_expr else None)
        try:
            expected = eval(expected_code, namespace)
            ok = values_equal(value, expected, test.atol)
        except BaseException as exc:
            self.finish(Status.ERROR, value=bounded_repr(value),
                        error="comparing with the expected value failed: " + describe_exception(exc))
        shown = bounded_repr(value)
        if ok:
            self.finish(Status.PASSED, value=shown)
        self.finish(Status.FAILED, value=shown, error=f"expected {bounded_repr(expected)}, got {shown}")

    def _fail(self, exc: BaseException, stage: str) -> None:
        self.err.append_tail(_format_traceback(exc).encode("utf-8", "backslashreplace"))
        message = describe_exception(exc)
        if stage == "setup":
            message = "in the test setup: " + message
        if isinstance(exc, MemoryError):
            self.finish(Status.MEMORY, error=message)
        if isinstance(exc, AssertionError) and _raised_in(exc, TEST_FILE):
            self.finish(Status.FAILED, error=message)
        self.finish(Status.ERROR, error=message)

    def _finish_stdio(self) -> None:
        expected = self.test.expected_stdout
        if expected is None or stdout_matches(self.stdout_text(), expected, self.test.atol):
            self.finish(Status.PASSED)
        self.finish(Status.FAILED, error="stdout differs from the expected output")

    # ---- tracer ------------------------------------------------------------------------
    def _make_tracer(self) -> None:
        if not self.req["trace"]:
            return
        tracer_module = sys.modules.get("sandbox.tracer")
        if tracer_module is None:
            self.trace = Trace(notes=[f"no trace: tracer unavailable ({tracer_import_error})"])
            return
        try:
            self.tracer = tracer_module.make_tracer(
                PROGRAM_FILE, stdout_getter=self.out.text if self.stdio else None, caps=None,
                impl=self.req.get("tracer_impl"), source=self.req["program"])
        except Exception as exc:
            self.trace = Trace(notes=[f"no trace: make_tracer failed ({describe_exception(exc)})"])

    def _start_tracer(self) -> None:
        try:
            self.tracer.start()
        except Exception as exc:
            self.tracer = None
            self.trace = Trace(notes=[f"no trace: tracer.start failed ({describe_exception(exc)})"])

    def stop_tracer(self) -> Trace | None:
        """Stop recording, and undo any change the candidate made to builtins (our own code
        below uses them)."""
        _restore_builtins()
        tracer, self.tracer = self.tracer, None
        if tracer is not None:
            try:
                self.trace = tracer.stop()
            except BaseException as exc:
                self.trace = Trace(notes=[f"trace lost: tracer.stop failed ({describe_exception(exc)})"])
        return self.trace

    # ---- ways out ----------------------------------------------------------------------
    def _on_alarm(self, signum, frame) -> None:
        if not self.finishing:
            self.finish(Status.TIMEOUT, error=f"timed out after {float(self.req['timeout_s']):g}s")

    def _over_limit(self, stream: str) -> None:
        if not self.finishing:
            self.finish(Status.OUTPUT_LIMIT, error=f"{stream} over the {self.limit} byte limit")

    def _candidate_exit(self, code) -> None:
        if self.finishing:
            _real_exit(code)
        self.stop_tracer()
        if self.stdio and code == 0:
            self._finish_stdio()
        self.finish(Status.ERROR, error=f"os._exit({code})")

    def stdout_text(self) -> str:
        text = self.out.text()
        try:
            size = os.fstat(self.raw_stdout_fd).st_size
            if size:
                text += os.pread(self.raw_stdout_fd, self.limit + 1, 0).decode("utf-8", "replace")
        except OSError:
            pass
        return text

    def finish(self, status: Status, *, value: str | None = None, error: str | None = None) -> None:
        """Send the result and exit; never returns."""
        self.finishing = True
        signal.setitimer(signal.ITIMER_REAL, 0)
        trace = self.stop_tracer()
        try:
            stdout = self.stdout_text()
            if len(stdout) > self.limit and status is not Status.TIMEOUT:
                status, error = Status.OUTPUT_LIMIT, f"stdout over the {self.limit} byte limit"
            result = ExecResult(status=status, stdout=stdout[:self.limit], stderr=self.err.text(),
                                value=value, error=error, trace=trace,
                                duration_s=time.perf_counter() - self.t0)
            data = json.dumps(result.to_dict()).encode()
        except BaseException as exc:
            data = json.dumps(ExecResult(status=Status.ERROR, error="sandbox could not encode the result: "
                                         + describe_exception(exc)).to_dict()).encode()
        view = memoryview(frame(data))
        try:
            while view:
                view = view[os.write(self.result_fd, view):]
            os.close(self.result_fd)  # EOF now: the server answers without waiting for the exit
        except OSError:
            pass
        _real_exit(0)


def serve(request_fd: int, result_fd: int, run_dir: str, server_pid: int, warm_tracer: bool = True) -> None:
    """A spare child, freshly forked by the server: prepare everything that does not depend on
    the request, wait for the request on `request_fd`, run it, report on `result_fd`, exit.
    `warm_tracer`: the next request will likely be traced (the last one was). Never returns."""
    try:
        raw_stdout_fd = prepare_process(request_fd, result_fd, run_dir, server_pid)
        _warm_up(warm_tracer)
        try:
            request = pickle.loads(read_frame(request_fd))
        except (ProtocolError, OSError, EOFError, pickle.UnpicklingError):
            _real_exit(0)  # the server is shutting down: no work for this spare
        os.close(request_fd)
        child = _Child(request, result_fd, run_dir, raw_stdout_fd)
        try:
            child.isolate()
            child.execute()
        except BaseException as exc:
            child.finish(Status.ERROR, error="sandbox child failed: " + describe_exception(exc))
    finally:
        _real_exit(70)


def prepare_process(request_fd: int, result_fd: int, run_dir: str, server_pid: int) -> int:
    """Own session and process group, default signals, no inherited fds, cwd in the run
    directory, fd 1 a memfd (returned) and fd 2 /dev/null."""
    limits.die_with_parent(server_pid)
    os.setsid()
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    low, high = sorted((request_fd, result_fd))
    os.closerange(3, low)
    os.closerange(low + 1, high)
    os.closerange(high + 1, MAX_FD)
    os.chdir(run_dir)
    raw_stdout_fd = _memfd("stdout")   # catches os.write(1, ...) and C-level prints
    os.dup2(raw_stdout_fd, 1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    os.environ["TMPDIR"] = os.environ["HOME"] = run_dir
    if "tempfile" in sys.modules:
        sys.modules["tempfile"].tempdir = run_dir
    sys.dont_write_bytecode = True
    sys.argv = [PROGRAM_FILE]
    return raw_stdout_fd


WARM_SOURCE = "def _warm(n):\n    s = 0\n    for i in range(n):\n        s += i\n    return s\n_warm(3)\n"


def _warm_up(with_tracer: bool) -> None:
    """While the spare waits, run the machinery of a run once on a tiny program: the pages it
    writes to (copy-on-write after the fork) are then copied off the request's critical path.
    The tracer part only when the next run is likely traced (it costs CPU otherwise)."""
    try:
        sink = _Sink(1024, lambda: None, 1)
        out = io.TextIOWrapper(sink, encoding="utf-8", errors="backslashreplace", write_through=True)
        out.write("warm\n")
        code = compile(WARM_SOURCE, PROGRAM_FILE, "exec", dont_inherit=True)
        tracer_module = sys.modules.get("sandbox.tracer") if with_tracer else None
        tracer = (tracer_module.make_tracer(PROGRAM_FILE, stdout_getter=sink.text, source=WARM_SOURCE)
                  if tracer_module is not None else None)
        if tracer is not None:
            tracer.start()
        try:
            exec(code, {"__name__": "__warm__"})
        finally:
            trace = tracer.stop() if tracer is not None else None
        json.dumps(ExecResult(status=Status.PASSED, stdout=sink.text(), value=bounded_repr(3),
                              trace=trace).to_dict())
        values_equal(3, 3.0, 0.0)
    except Exception:  # only a speed-up: never fail a spare over it
        pass


def _restore_builtins() -> None:
    namespace = builtins.__dict__
    namespace.update(_BUILTINS)
    for name in [k for k in namespace if k not in _BUILTINS]:
        del namespace[name]


def _memfd(name: str) -> int:
    if hasattr(os, "memfd_create"):
        return os.memfd_create(name)
    import tempfile
    return os.dup(tempfile.TemporaryFile().fileno())


def _compile_test(code: str):
    """An expression compiles in eval mode (its value is recorded); anything else as statements."""
    try:
        return compile(code, TEST_FILE, "eval", dont_inherit=True), True
    except SyntaxError:
        return compile(code, TEST_FILE, "exec", dont_inherit=True), False


def _syntax_message(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"{type(exc).__name__}: {exc.msg} (line {exc.lineno})"
    return describe_exception(exc)


def _raised_in(exc: BaseException, filename: str) -> bool:
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last, tb = tb, tb.tb_next
    return last is not None and last.tb_frame.f_code.co_filename == filename


def _format_traceback(exc: BaseException) -> str:
    """The traceback restricted to the program's and the test's own frames."""
    import traceback
    try:
        te = traceback.TracebackException.from_exception(exc, lookup_lines=False)
        te.stack = traceback.StackSummary.from_list([f for f in te.stack if f.filename in OWN_FILES])
        return "".join(te.format(chain=False))
    except Exception:
        return describe_exception(exc) + "\n"
