"""What one forked child does: isolate itself, run setup + program + test, report, exit.

The fork-server forks spare children ahead of time; each calls `serve(...)`, prepares what it
can, and waits for its one request. The child never returns: it writes one length-prefixed
JSON result frame to `result_fd`, closes it and `os._exit`s. For a call test with an expected
value, the expected value is evaluated after `setup` and before the program, sent first as its
plain form (sandbox/plain.py) and dropped, so the program never has it within reach; the parent
compares. Stdio tests never see their expected output at all. Every way out
(normal end, exception, wall-clock alarm, output over the cap, `sys.exit`, `os._exit`) goes
through `_Child.finish`, so the partial trace and stdout come back whenever the process lives
long enough to send them. Deaths it cannot report (signals, limits enforced by the kernel) are
classified by the parent from the exit status.
"""
from __future__ import annotations

import ast
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
from sandbox.checks import bounded_repr, describe_exception, values_equal
from sandbox.plain import clean_text, same, to_plain
from sandbox.types import ExecResult, Status, TestCase, Trace

PROGRAM_FILE = "<candidate>"   # the tracer records only code objects with this co_filename
TEST_FILE = "<test>"
SETUP_FILE = "<setup>"
EXPECTED_FILE = "<expected>"
OWN_FILES = frozenset({PROGRAM_FILE, TEST_FILE, SETUP_FILE, EXPECTED_FILE})
MAX_FD = 1 << 16

_real_exit = os._exit
_dumps = json.dumps        # bound at import: a candidate rebinding json.dumps changes nothing here
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


class _FdSink(io.RawIOBase):
    """sys.stdout's bytes go straight to fd 1 (a memfd), so `print` and `os.write(1, ...)`
    keep their order; over `limit` bytes in the file it calls `on_overflow`."""

    def __init__(self, limit: int, on_overflow) -> None:
        super().__init__()
        self.limit = limit
        self._on_overflow = on_overflow

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return 1

    def write(self, b) -> int:
        data = bytes(b)
        room = self.limit - os.lseek(1, 0, os.SEEK_CUR)
        if len(data) > room:
            if room > 0:
                os.write(1, data[:room])
            self._on_overflow()
            raise OSError("output over the sandbox limit")
        view = memoryview(data)
        while view:
            view = view[os.write(1, view):]
        return len(data)


class _StdoutReader:
    """The text written to the stdout memfd so far, read incrementally (the tracer polls it)."""

    def __init__(self, fd: int, limit: int) -> None:
        import codecs
        self.fd, self.limit = fd, limit
        self.size = 0
        self.text = ""
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def __call__(self) -> str:
        size = os.fstat(self.fd).st_size
        if size != self.size and self.size <= self.limit:
            new = os.pread(self.fd, min(size, self.limit + 1) - self.size, self.size)
            self.size += len(new)
            self.text += self.decoder.decode(new)
        return self.text


class _Child:
    def __init__(self, request: dict, result_fd: int, run_dir: str, raw_stdout_fd: int) -> None:
        self.t0 = time.perf_counter()
        self.req = request
        fields = request["test"]
        expected = fields.pop("expected", None)     # kept only as compiled code, then dropped
        fields["expected_stdout"] = None            # the parent compares stdout
        self.test = TestCase(**fields)
        self.expected_source = expected
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
        self.out = _FdSink(self.limit, lambda: self._over_limit("stdout"))
        self.stdout_reader = _StdoutReader(self.raw_stdout_fd, self.limit)
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
            expected_code = (compile(self.expected_source, EXPECTED_FILE, "eval", dont_inherit=True)
                             if not self.stdio and self.expected_source is not None else None)
        except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as exc:
            self.finish(Status.SYNTAX_ERROR, error="the test does not compile: " + _syntax_message(exc))
        self.expected_source = None
        for name, source in ((PROGRAM_FILE, program), (TEST_FILE, test.code), (SETUP_FILE, test.setup)):
            linecache.cache[name] = (len(source), None, source.splitlines(True), name)

        module = types.ModuleType("__main__" if self.stdio else "__candidate__")
        module.__builtins__ = builtins
        sys.modules[module.__name__] = module
        namespace = module.__dict__
        namespace[SAME_NAME] = same
        self._make_tracer()
        limits.install_audit_hook(self.run_dir)
        os._exit = self._candidate_exit
        stage, value = "setup", None
        try:
            exec(setup_code, namespace)
            if expected_code is not None:
                stage = "expected"
                expected_code = self._send_expected(expected_code, namespace)
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
            self.finish(Status.ERROR, error=f"SystemExit: {_exit_code(exc)}")
        except BaseException as exc:
            self.stop_tracer()
            self._fail(exc, stage)
        self.stop_tracer()
        if self.stdio:
            self._finish_stdio()
        shown = bounded_repr(value) if is_expr else None
        if expected_code is None or expected_code is True:  # none, or sent: the parent compares
            sent = expected_code is True
            self.finish(Status.PASSED, value=shown, plain=to_plain(value) if sent and is_expr else None)
        try:  # the expected value needs the program's names: judged here, as before
            expected = eval(expected_code, namespace)
            ok = same(value, expected, test.atol)
        except BaseException as exc:
            self.finish(Status.ERROR, value=shown,
                        error="comparing with the expected value failed: " + describe_exception(exc))
        if ok:
            self.finish(Status.PASSED, value=shown)
        self.finish(Status.FAILED, value=shown, error=f"expected {bounded_repr(expected)}, got {shown}")

    def _send_expected(self, code, namespace):
        """Evaluate the expected value before the program runs, send its plain form as the first
        frame and drop it. Returns True when sent, or `code` when it needs the program's names
        (then it is evaluated after the program, in this process: said in the frame)."""
        try:
            expected = eval(code, dict(namespace))
        except NameError:
            self._write(frame(_dumps({"kind": "expected", "late": True}).encode()))
            return code
        except BaseException as exc:
            self._write(frame(_dumps({"kind": "expected", "error": clean_text(
                describe_exception(exc))}).encode()))
            self.finish(Status.ERROR, error="the expected value does not evaluate: "
                        + describe_exception(exc))
        message = {"kind": "expected", "plain": to_plain(expected), "repr": bounded_repr(expected)}
        self._write(frame(_dumps(message).encode()))
        del expected, message, code
        return True

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
        """The program ended normally; the parent compares its stdout with the expected."""
        self.finish(Status.PASSED, plain=None, completed=True)

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
                PROGRAM_FILE, stdout_getter=self.stdout_reader if self.stdio else None, caps=None,
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
        try:
            return os.pread(self.raw_stdout_fd, self.limit + 1, 0).decode("utf-8", "replace")
        except OSError:
            return ""

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.result_fd, view):]

    def finish(self, status: Status, *, value: str | None = None, error: str | None = None,
               plain=None, completed: bool | None = None) -> None:
        """Send the result and exit; never returns. `plain`: the test expression's value as
        plain data; `completed`: the test ran to its end (the parent may then compare)."""
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
            message = _clean(result.to_dict())
            message["kind"] = "result"
            message["completed"] = bool(completed if completed is not None else status is Status.PASSED)
            message["plain"] = plain
            data = _dumps(message).encode()
        except BaseException as exc:
            if isinstance(exc, MemoryError) and status is Status.MEMORY:  # no room to say more
                message = {"kind": "result", "status": status.value, "error": clean_text(error or "")}
            else:
                message = {"kind": "result", "status": Status.ERROR.value,
                           "error": "sandbox could not encode the result: " + type(exc).__name__}
            data = _dumps(message).encode()
        try:
            self._write(frame(data))
            os.close(self.result_fd)  # EOF now: the server answers without waiting for the exit
        except OSError:
            pass
        _real_exit(0)


def serve(request_fd: int, result_fd: int, run_dir: str, server_pid: int, warm_tracer: bool = True,
          isolation: dict | None = None) -> None:
    """A spare child, freshly forked by the server: prepare everything that does not depend on
    the request, wait for the request on `request_fd`, run it, report on `result_fd`, exit.
    `warm_tracer`: the next request will likely be traced (the last one was). Never returns."""
    try:
        raw_stdout_fd = prepare_process(request_fd, result_fd, run_dir, server_pid, isolation or {})
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


def prepare_process(request_fd: int, result_fd: int, run_dir: str, server_pid: int,
                    isolation: dict) -> int:
    """Own session and process group, default signals, no inherited fds, its own mount, IPC
    (and, from the server, PID) namespaces with a capped tmpfs run folder and its own /proc,
    cwd in the run directory, fd 1 a memfd (returned) and fd 2 /dev/null, and, when root, the
    uid drop. Any failure of the isolation ends the spare (fail closed)."""
    limits.die_with_parent(server_pid)
    os.setsid()
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    low, high = sorted((request_fd, result_fd))
    os.closerange(3, low)
    os.closerange(low + 1, high)
    os.closerange(high + 1, MAX_FD)
    if isolation.get("mountns"):
        limits.private_run_dir(run_dir, proc=bool(isolation.get("pidns")))
    elif os.geteuid() == 0:
        os.chown(run_dir, limits.SANDBOX_UID, limits.SANDBOX_GID)
    os.chdir(run_dir)
    raw_stdout_fd = _memfd("stdout")   # catches os.write(1, ...) and C-level prints
    os.dup2(raw_stdout_fd, 1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    os.environ.pop("EGCFG_SANDBOX_OWNER", None)
    os.environ["TMPDIR"] = os.environ["HOME"] = run_dir
    if "tempfile" in sys.modules:
        sys.modules["tempfile"].tempdir = run_dir
    sys.dont_write_bytecode = True
    sys.argv = [PROGRAM_FILE]
    limits.drop_privileges()
    limits.die_with_parent(server_pid)   # a change of credentials clears the parent-death signal
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
        _dumps(ExecResult(status=Status.PASSED, stdout=sink.text(), value=bounded_repr(3),
                              trace=trace).to_dict())
        values_equal(3, 3.0, 0.0)
        to_plain([1, (2.0, "x")])
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
    """An expression compiles in eval mode (its value is recorded); anything else as statements,
    with each `assert A == B` (or `!=`) comparing the plain forms of A and B (sandbox/plain.py),
    so an object whose `__eq__` always says True does not pass."""
    try:
        return compile(code, TEST_FILE, "eval", dont_inherit=True), True
    except SyntaxError:
        pass
    try:
        tree = _PlainAsserts().visit(ast.parse(code, TEST_FILE))
        return compile(ast.fix_missing_locations(tree), TEST_FILE, "exec", dont_inherit=True), False
    except (SyntaxError, ValueError, RecursionError):
        return compile(code, TEST_FILE, "exec", dont_inherit=True), False


SAME_NAME = "__egcfg_same__"


class _PlainAsserts(ast.NodeTransformer):
    def visit_Assert(self, node: ast.Assert) -> ast.Assert:
        test = node.test
        if (isinstance(test, ast.Compare) and len(test.ops) == 1
                and isinstance(test.ops[0], (ast.Eq, ast.NotEq))):
            call = ast.Call(func=ast.Name(id=SAME_NAME, ctx=ast.Load()),
                            args=[test.left, test.comparators[0]], keywords=[])
            node.test = call if isinstance(test.ops[0], ast.Eq) else ast.UnaryOp(ast.Not(), call)
            ast.copy_location(node.test, test)
            ast.copy_location(call, test)
        return node


def _clean(value):
    """Every string in a JSON-able structure with lone surrogates escaped."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _exit_code(exc: SystemExit) -> str:
    try:
        return clean_text(str(exc.code))[:200]
    except BaseException:
        return "?"



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
