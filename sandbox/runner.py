"""Run untrusted (program, test) pairs in isolated, throwaway children: `run` and `run_many`.

The parent starts one fork-server lazily (sandbox/server.py, a fresh interpreter with the tracer
already imported) and sends it requests over a pipe; the server forks one child per execution
(sandbox/child.py), which isolates itself, runs, reports and exits. This module turns the
server's answer (the child's frames and its exit status) into an `ExecResult`, judging the
outcome here, in the parent (sandbox/verdict.py).

    >>> from sandbox import run, TestCase
    >>> run("def f(x):\\n    return x + 1\\n", TestCase.call("f(1)", expected="2")).status
    <Status.PASSED: 'passed'>

Every wait has a timeout; a server that dies or stops answering is killed and restarted, and the
runs it held come back as `killed`. `shutdown()` (also registered with atexit) stops the server.
"""
from __future__ import annotations

import atexit
import dataclasses
import itertools
import json
import logging
import os
import pickle
import re
import secrets
import shutil
import subprocess
import sys
import threading
from concurrent.futures import Future, TimeoutError as FutureTimeout
from typing import Iterable

from sandbox.protocol import ProtocolError, frame, kill_deadline, read_frame, write_all
from sandbox.types import ExecResult, Status, TestCase
from sandbox.verdict import judge

log = logging.getLogger(__name__)

BOOT = "import sys; sys.path[0] = sys.argv[1]; from sandbox.server import main; main()"
START_TIMEOUT_S = 60.0
ANSWER_SLACK_S = 10.0     # on top of the kill deadline, before the server counts as stuck
WRITE_TIMEOUT_S = 30.0
TRACER_IMPLS = (None, "settrace", "sysmon")
SERVER_ENV_DEFAULTS = {"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                       "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg",
                       # pyarrow's jemalloc (imported by pandas) starts a background thread otherwise;
                       # the server must stay single-threaded to fork safely
                       "JE_ARROW_MALLOC_CONF": "background_thread:false"}


def run(program: str, test: TestCase, *, timeout_s: float = 5.0, memory_mb: int = 1024,
        trace: bool = True, output_limit: int = 1 << 20, tracer_impl: str | None = None,
        preload: tuple[str, ...] = ()) -> ExecResult:
    """Run `program` then `test` in an isolated child and classify the outcome.

    timeout_s: wall-clock seconds for setup + program + test. memory_mb: address-space cap (0 for
    none). trace: record the candidate's line trace (`result.trace`). output_limit: byte cap on
    stdout and on stderr each. tracer_impl: None (sys.monitoring on 3.12+, settrace below),
    "settrace" or "sysmon". preload: modules a warm fork-server of its own imports once (see
    `run_many`).
    """
    return run_many([(program, test)], timeout_s=timeout_s, memory_mb=memory_mb, trace=trace,
                    workers=1, output_limit=output_limit, tracer_impl=tracer_impl, preload=preload)[0]


def run_many(pairs: Iterable[tuple[str, TestCase]], *, timeout_s: float = 5.0, memory_mb: int = 1024,
             trace: bool = True, workers: int | None = None, output_limit: int = 1 << 20,
             tracer_impl: str | None = None, preload: tuple[str, ...] = ()) -> list[ExecResult]:
    """`run` for many (program, test) pairs, about `workers` (default: all cores) at a time.

    Results come back in the order of `pairs`. `preload` (e.g. ("numpy", "pandas")): the runs go
    to a fork-server of their own that imported these modules once at start, so each child
    inherits them instead of importing them (warm workers). Every run is still a fresh fork
    that dies after it; the modules' pages count against `memory_mb` (sandbox/README.md).
    """
    _check_limits(timeout_s, memory_mb, output_limit, tracer_impl)
    preload = _check_preload(preload)
    workers = _cores() if workers is None else workers
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be >= 1 (or None for all cores), got {workers!r}")
    limits = {"timeout_s": float(timeout_s), "memory_mb": int(memory_mb), "trace": bool(trace),
              "output_limit": int(output_limit), "tracer_impl": tracer_impl}
    pairs = list(pairs)
    requests = [_request(program, test, limits) for program, test in pairs]
    wait_s = kill_deadline(float(timeout_s)) + ANSWER_SLACK_S
    slots = threading.Semaphore(workers)
    futures = []
    for req in requests:
        if not slots.acquire(timeout=wait_s):
            _restart(f"no answer within {wait_s:.1f}s", preload)
            slots.acquire(timeout=wait_s)
        fut = _submit(req, preload)
        fut.add_done_callback(lambda _f: slots.release())
        futures.append(fut)
    results = []
    for fut in futures:
        try:
            answer = fut.result(timeout=wait_s)
        except FutureTimeout:
            _restart(f"no answer within {wait_s:.1f}s", preload)
            answer = fut.result(timeout=wait_s)
        results.append(_classify(answer, pairs[len(results)][1], float(timeout_s)))
    return results


def server_info(preload: tuple[str, ...] = ()) -> dict:
    """What the fork-server reported at start: pid, python, base (its temp directory),
    tracer_error (None when the tracer imported), subreaper, preloaded (the extra modules it
    imported), preload_errors, threads (its thread count when it forks; 1 is safe), and for each
    isolation mechanism (netns, mountns, pidns, uid_dropped, seccomp) a bool and a `<name>_reason`.
    `preload` picks the warm server of those modules."""
    return dict(_get_client(_check_preload(preload)).info)


def owner_token() -> str:
    """The random token in the EGCFG_SANDBOX_OWNER environment entry of this process's sandbox
    server (tests find leftover processes by it; it is not our pid, and children drop it)."""
    return _owner_token


def shutdown() -> None:
    """Stop the fork-servers, if any run; the next `run` starts a new one."""
    with _client_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()


# ---- the parent's end of the fork-server ---------------------------------------------------

class _Client:
    def __init__(self, preload: tuple[str, ...] = ()) -> None:
        req_r, self.req_w = os.pipe()
        self.resp_r, resp_w = os.pipe()
        env = dict(os.environ)
        for key, value in SERVER_ENV_DEFAULTS.items():
            env.setdefault(key, value)
        if preload:
            env["EGCFG_SANDBOX_PRELOAD"] = ",".join(preload)
        env["EGCFG_SANDBOX_OWNER"] = _owner_token  # lets tests find leftover processes
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        try:
            self.proc = subprocess.Popen([sys.executable, "-c", BOOT, root], stdin=req_r, stdout=resp_w,
                                         env=env, start_new_session=True, close_fds=True)
        except BaseException:
            os.close(self.req_w)
            os.close(self.resp_r)
            raise
        finally:
            os.close(req_r)
            os.close(resp_w)
        os.set_blocking(self.req_w, False)
        self.owner_pid = os.getpid()
        self.lock = threading.Lock()         # guards pending / dead
        self.write_lock = threading.Lock()   # serialises request frames (never held by the reader)
        self.pending: dict[int, Future] = {}
        self.ids = itertools.count(1)
        self.dead: str | None = None
        self.closed = False
        self.hello: Future = Future()
        self.reader = threading.Thread(target=self._read_loop, name="sandbox-reader", daemon=True)
        self.reader.start()
        try:
            self.info = self.hello.result(timeout=START_TIMEOUT_S)
        except Exception as exc:
            self.kill("did not start")
            raise RuntimeError(
                f"the sandbox fork-server did not start ({exc}); its stderr says why. Check that "
                f"`{sys.executable} -c 'import sandbox.server'` works") from None
        log.debug("sandbox server %s started: %s", self.proc.pid, self.info)

    def _read_loop(self) -> None:
        reason = "the server closed its pipe"
        try:
            hello = json.loads(read_frame(self.resp_r))
            read_frame(self.resp_r)
            self.hello.set_result(hello)
            while True:
                header = json.loads(read_frame(self.resp_r))
                payload = read_frame(self.resp_r)
                with self.lock:
                    fut = self.pending.pop(header["id"], None)
                if fut is not None:
                    fut.set_result((header, payload))
        except (ProtocolError, OSError, ValueError, KeyError) as exc:
            reason = f"the server connection broke ({type(exc).__name__}: {exc})"
        finally:
            if not self.hello.done():
                self.hello.set_exception(RuntimeError(reason))
            code = self.proc.poll()
            self._fail_pending(reason if code is None else f"the server exited with code {code}")

    def _fail_pending(self, reason: str) -> None:
        with self.lock:
            if self.dead is None:
                self.dead = reason
            pending, self.pending = self.pending, {}
        for fut in pending.values():
            fut.set_result(self.dead)

    def submit(self, req: dict) -> Future:
        fut: Future = Future()
        with self.lock:
            if self.dead is not None:
                raise ConnectionError(self.dead)
            req["id"] = next(self.ids)
            self.pending[req["id"]] = fut
        try:
            with self.write_lock:
                write_all(self.req_w, frame(pickle.dumps(req)), timeout_s=WRITE_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            self.kill(f"could not send a request ({type(exc).__name__}: {exc})")
        return fut

    def kill(self, reason: str) -> None:
        """Kill a broken server now; whatever it still held fails with `reason`."""
        log.warning("sandbox server %s: %s; killing it", self.proc.pid, reason)
        try:
            self.proc.kill()
        except OSError:
            pass
        self._fail_pending(reason)
        self.close()

    def close(self) -> None:
        """Close the request pipe; the server kills what still runs, cleans up and exits."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
        _close_fd(self.req_w)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.reader.join(timeout=10)
        if not self.reader.is_alive():
            _close_fd(self.resp_r)
        base = getattr(self, "info", {}).get("base")
        if base and os.path.isdir(base):  # the server died before cleaning up
            shutil.rmtree(base, ignore_errors=True)

    def forget_after_fork(self) -> None:
        """In a forked copy of the parent: drop our copies of the pipes, keep the server alone."""
        self.closed = True
        _close_fd(self.req_w)
        _close_fd(self.resp_r)


_clients: dict[tuple[str, ...], _Client] = {}   # one fork-server per preload set; () is the plain one
_client_lock = threading.Lock()
_owner_token = secrets.token_hex(8)
_MODULE_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def _check_preload(preload) -> tuple[str, ...]:
    if isinstance(preload, str) or not all(isinstance(m, str) and _MODULE_NAME.match(m) for m in preload):
        raise ValueError(f"preload must be a tuple of module names such as ('numpy', 'pandas'), got {preload!r}")
    return tuple(sorted(set(preload)))


def _get_client(preload: tuple[str, ...] = ()) -> _Client:
    with _client_lock:
        client = _clients.get(preload)
        if client is None or client.dead is not None or client.owner_pid != os.getpid():
            old, client = client, _Client(preload)
            _clients[preload] = client
            if old is not None and old.owner_pid == os.getpid():
                old.close()
        return client


def _submit(req: dict, preload: tuple[str, ...] = ()) -> Future:
    for _ in range(2):  # a dead server is replaced once
        client = _get_client(preload)
        try:
            return client.submit(req)
        except ConnectionError:
            continue
    fut: Future = Future()
    fut.set_result("the sandbox server keeps dying")
    return fut


def _restart(reason: str, preload: tuple[str, ...] = ()) -> None:
    with _client_lock:
        client = _clients.pop(preload, None)
    if client is not None:
        client.kill(reason)


def _after_fork_in_child() -> None:
    global _client_lock, _owner_token
    _client_lock = threading.Lock()
    _owner_token = secrets.token_hex(8)
    for client in _clients.values():
        client.forget_after_fork()
    _clients.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(shutdown)


# ---- requests and answers ------------------------------------------------------------------

def _request(program: str, test: TestCase, limits: dict) -> dict:
    if not isinstance(program, str):
        raise TypeError(f"program must be a str of Python source, got {type(program).__name__}")
    if not isinstance(test, TestCase):
        raise TypeError(f"test must be a sandbox.TestCase (TestCase.call(...) or TestCase.stdio(...)), "
                        f"got {type(test).__name__}")
    fields = dataclasses.asdict(test)
    fields["expected_stdout"] = None   # the parent compares stdout; the child never sees it
    return {"program": program, "test": fields, **limits}


def _check_limits(timeout_s, memory_mb, output_limit, tracer_impl) -> None:
    if not timeout_s or timeout_s <= 0:
        raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
    if memory_mb is None or memory_mb < 0:
        raise ValueError(f"memory_mb must be >= 0 (0 means no address-space cap), got {memory_mb!r}")
    if not output_limit or output_limit <= 0:
        raise ValueError(f"output_limit must be a positive number of bytes, got {output_limit!r}")
    if tracer_impl not in TRACER_IMPLS:
        raise ValueError(f"tracer_impl must be one of {TRACER_IMPLS}, got {tracer_impl!r}")


def _classify(answer, test: TestCase, timeout_s: float) -> ExecResult:
    """Turn the server's answer into an ExecResult; never raises on what the child wrote."""
    if isinstance(answer, str):
        return ExecResult(status=Status.KILLED, error=f"sandbox server failure: {answer}")
    header, payload = answer
    try:
        return judge(test, header, payload, timeout_s)
    except Exception as exc:  # a bug here must not lose the batch
        log.exception("sandbox: could not read a child's answer")
        return ExecResult(status=Status.ERROR, error=f"sandbox could not read the result ({type(exc).__name__})")


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _close_fd(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
