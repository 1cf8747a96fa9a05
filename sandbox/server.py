"""The fork-server: one long-lived process per parent that forks one throwaway child per run.

Started by sandbox.runner as `python -c <boot> <project root>` with its stdin/stdout as the
request/response pipes. At start it enters a fresh network namespace (where allowed), becomes a
child subreaper, pre-imports and warms the tracer and common stdlib modules, and freezes the GC,
so that each fork is cheap and copies little.

It keeps a few *spare* children forked ahead of time; each has already isolated itself as far
as it can without the request and waits on its own pipe (sandbox/child.py `serve`). A request
goes to a spare, and a new spare is forked after, off the critical path. The server enforces
the hard wall-clock deadline with SIGKILL to the child's process group, answers the parent as
soon as the child's complete result frame arrives (or, failing that, with its exit status once
reaped), removes the run directory, and exits when the parent closes the request pipe, killing
whatever still runs.
"""
from __future__ import annotations

import collections
import errno
import gc
import itertools
import json
import logging
import os
import pickle
import selectors
import shutil
import signal
import sys
import tempfile
import time

from sandbox import child, limits
from sandbox.protocol import FrameBuffer, frame, kill_deadline, write_all
from sandbox.verdict import split_frames

log = logging.getLogger(__name__)

PRELOAD = ("collections", "itertools", "functools", "heapq", "bisect", "math", "re", "string",
           "typing", "random", "statistics", "fractions", "decimal", "datetime", "json", "copy",
           "operator", "dataclasses", "traceback", "reprlib", "tempfile")
PAYLOAD_OVERHEAD = 16 << 20


class _Spare:
    __slots__ = ("pid", "req_w", "res_r", "run_dir")

    def __init__(self, pid: int, req_w: int, res_r: int, run_dir: str) -> None:
        self.pid, self.req_w, self.res_r, self.run_dir = pid, req_w, res_r, run_dir


class _Job:
    __slots__ = ("id", "pid", "fd", "chunks", "size", "cap", "start", "deadline", "run_dir",
                 "wall_killed", "overflow", "status", "answered")

    def __init__(self, req: dict, spare: _Spare) -> None:
        self.id = req["id"]
        self.pid, self.fd, self.run_dir = spare.pid, spare.res_r, spare.run_dir
        self.chunks: list[bytes] = []
        self.size = 0
        self.cap = 4 * int(req["output_limit"]) + PAYLOAD_OVERHEAD
        self.start = time.monotonic()
        self.deadline = self.start + kill_deadline(float(req["timeout_s"]))
        self.wall_killed = False
        self.overflow = False
        self.status: int | None = None
        self.answered = False

    def data(self) -> bytes:
        return b"".join(self.chunks)

    def whole(self) -> bool:
        """The child's bytes are a whole number of frames (the parent reads them)."""
        return bool(self.chunks) and split_frames(self.data()) is not None


class Server:
    def __init__(self, req_fd: int, resp_fd: int, spares: int) -> None:
        self.req_fd, self.resp_fd = req_fd, resp_fd
        self.isolation = {"mountns": False, "pidns": False}
        self.pidns: limits.PidNamespaces | None = None
        self.sel = selectors.DefaultSelector()
        self.jobs: dict[int, _Job] = {}          # by pid
        self.spares: collections.deque[_Spare] = collections.deque()
        self.spare_target = spares
        self.last_traced = True   # spares warm the tracer when the last request was traced
        self.run_ids = itertools.count(1)
        self.frames = FrameBuffer()
        self.base = tempfile.mkdtemp(prefix="egcfg-sandbox-")
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self.wake_w)
        os.set_blocking(req_fd, False)
        self.sel.register(req_fd, selectors.EVENT_READ, "req")
        self.sel.register(self.wake_r, selectors.EVENT_READ, "wake")
        self.open = True

    def send(self, header: dict, payload: bytes = b"") -> None:
        if not self.open:
            return
        try:
            write_all(self.resp_fd, frame(json.dumps(header).encode()) + frame(payload))
        except OSError:  # the parent is gone
            self._stop_taking_work()

    def loop(self) -> None:
        self._replenish()
        while self.open or self.jobs:
            now = time.monotonic()
            timeout = min((j.deadline for j in self.jobs.values() if not j.wall_killed), default=None)
            if timeout is not None:
                timeout = max(0.0, timeout - now)
            for key, _ in self.sel.select(timeout):
                if key.data == "req":
                    self._read_requests()
                elif key.data == "wake":
                    _drain(self.wake_r)
                else:
                    self._read_result(key.data)
            self._reap()
            self._enforce_deadlines()
            self._replenish()

    # ---- spares and requests ---------------------------------------------------------------
    def _fork_spare(self) -> _Spare:
        run_dir = os.path.join(self.base, str(next(self.run_ids)))
        os.mkdir(run_dir, 0o700)
        req_r, req_w = os.pipe()
        res_r, res_w = os.pipe()
        server_pid = os.getpid()
        if self.pidns is not None:
            self.pidns.before_fork()
        try:
            pid = os.fork()
        finally:
            if self.pidns is not None and os.getpid() == server_pid:
                self.pidns.after_fork()
        if pid == 0:  # the spare child: never returns
            try:
                os.close(req_w)
                os.close(res_r)
                child.serve(req_r, res_w, run_dir, server_pid, self.last_traced, self.isolation)
            finally:
                os._exit(70)
        os.close(req_r)
        os.close(res_w)
        return _Spare(pid, req_w, res_r, run_dir)

    def _replenish(self) -> None:
        """Keep spares ready: all of them while idle, at least one while children run (forking
        more then would compete with the running children for the cores)."""
        target = self.spare_target if not self.jobs else 1
        while self.open and len(self.spares) < target:
            self.spares.append(self._fork_spare())

    def _read_requests(self) -> None:
        try:
            data = os.read(self.req_fd, 1 << 20)
        except BlockingIOError:
            return
        if not data:  # the parent closed the pipe
            self._stop_taking_work()
            return
        for raw in self.frames.feed(data):
            self._start(pickle.loads(raw), frame(raw))

    def _start(self, req: dict, message: bytes) -> None:
        self.last_traced = bool(req.get("trace"))
        while True:
            spare = self.spares.popleft() if self.spares else self._fork_spare()
            try:
                write_all(spare.req_w, message)
                break
            except OSError:  # the spare died (it is reaped as an unknown pid)
                self._discard_spare(spare)
        os.close(spare.req_w)
        os.set_blocking(spare.res_r, False)
        job = _Job(req, spare)
        self.jobs[job.pid] = job
        self.sel.register(job.fd, selectors.EVENT_READ, job)
        log.debug("run %s: child %d", job.id, job.pid)

    def _discard_spare(self, spare: _Spare) -> None:
        _kill_group(spare.pid)
        for fd in (spare.req_w, spare.res_r):
            _close(fd)
        _remove_tree(spare.run_dir)

    def _stop_taking_work(self) -> None:
        if self.open:
            self.open = False
            self.sel.unregister(self.req_fd)
        for job in self.jobs.values():
            _kill_group(job.pid)
        while self.spares:
            self._discard_spare(self.spares.popleft())

    # ---- results -----------------------------------------------------------------------------
    def _read_result(self, job: _Job) -> None:
        while job.fd >= 0:
            try:
                data = os.read(job.fd, 1 << 20)
            except BlockingIOError:
                return
            if not data:
                self._close_pipe(job)
                return
            job.chunks.append(data)
            job.size += len(data)
            if job.size > job.cap and not job.overflow:
                job.overflow = True
                _kill_group(job.pid)
                self._close_pipe(job)

    def _close_pipe(self, job: _Job) -> None:
        if job.fd >= 0:
            self.sel.unregister(job.fd)
            os.close(job.fd)
            job.fd = -1
        if not job.answered and not job.overflow:
            if job.whole():  # whole frames and EOF: answer now, reap later
                self._answer(job, job.data())
        self._maybe_done(job)

    def _answer(self, job: _Job, payload: bytes) -> None:
        job.answered = True
        _remove_tree(job.run_dir)
        status = job.status
        self.send({"id": job.id, "wall_s": time.monotonic() - job.start, "wall_killed": job.wall_killed,
                   "overflow": job.overflow,
                   "exit": os.WEXITSTATUS(status) if status is not None and os.WIFEXITED(status) else None,
                   "signal": os.WTERMSIG(status) if status is not None and os.WIFSIGNALED(status) else None},
                  payload)

    def _reap(self) -> None:
        while True:
            try:  # peek first: while the child is a zombie its pid (and group id) cannot be reused
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if info is None:
                return
            job = self.jobs.get(info.si_pid)
            if job is not None:
                _kill_group(job.pid)  # anything it left behind in its group goes too
            _, status = os.waitpid(info.si_pid, 0)
            if job is None:
                self._forget_spare(info.si_pid)  # a spare that died, or an orphaned grandchild
                continue
            job.status = status
            self._read_result(job)  # everything it wrote is in the pipe now
            self._close_pipe(job)

    def _forget_spare(self, pid: int) -> None:
        for spare in list(self.spares):
            if spare.pid == pid:
                self.spares.remove(spare)
                self._discard_spare(spare)

    def _maybe_done(self, job: _Job) -> None:
        if job.status is None or job.fd >= 0 or self.jobs.get(job.pid) is not job:
            return
        del self.jobs[job.pid]
        if not job.answered:
            self._answer(job, b"" if job.overflow else job.data())
        _remove_tree(job.run_dir)  # again: a thread of the child may have written after the answer

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for job in self.jobs.values():
            if not job.wall_killed and now >= job.deadline:
                job.wall_killed = True
                _kill_group(job.pid)
                log.debug("run %s: killed at the wall-clock deadline", job.id)

    def close(self) -> None:
        self._stop_taking_work()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            self._reap()
            try:
                os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                break  # no children left at all
            time.sleep(0.005)
        _remove_tree(self.base)


def _kill_group(pid: int) -> None:
    for kill, target in ((os.killpg, pid), (os.kill, pid)):
        try:
            kill(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _remove_tree(path: str) -> None:
    if not os.path.lexists(path):
        return

    def fix_and_retry(func, p, _exc):
        try:
            os.chmod(os.path.dirname(p), 0o700)
            func(p)
        except OSError:
            pass
    handler = {"onexc" if sys.version_info >= (3, 12) else "onerror": fix_and_retry}
    try:
        shutil.rmtree(path, **handler)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            log.warning("could not remove %s: %s", path, exc)


def _spare_count() -> int:
    try:
        return max(1, int(os.environ.get("EGCFG_SANDBOX_SPARES", "")))
    except ValueError:
        try:
            return max(2, len(os.sched_getaffinity(0)))
        except AttributeError:
            return max(2, os.cpu_count() or 1)


def _thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def main() -> None:
    # Keep the protocol pipes off fds 0/1 so stray prints cannot corrupt them.
    req_fd, resp_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    os.close(devnull)
    logging.basicConfig(level=logging.DEBUG if os.environ.get("EGCFG_SANDBOX_DEBUG") else logging.WARNING,
                        format="sandbox.server %(levelname)s %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    netns, netns_reason = limits.isolate_network()
    subreaper = limits.become_subreaper()
    for name in PRELOAD:
        __import__(name)
    extra = [m.strip() for m in os.environ.get("EGCFG_SANDBOX_PRELOAD", "").split(",") if m.strip()]
    preloaded, preload_errors = [], {}
    for name in extra:
        try:
            __import__(name)
            preloaded.append(name)
        except Exception as exc:   # a missing module: runs that need it fail as they would cold
            preload_errors[name] = f"{type(exc).__name__}: {exc}"
            log.warning("could not preload %s: %s", name, exc)
    threads = _thread_count()
    if threads > 1:
        log.warning("the server has %d threads after preloading %s; forking it is not safe", threads, extra)
    tracer_error = child.preload()
    server = Server(req_fd, resp_fd, _spare_count())
    mountns, mountns_reason = limits.isolate_files(server.base)
    server.pidns = limits.PidNamespaces()
    server.isolation = {"mountns": mountns, "pidns": server.pidns.available}
    root = os.geteuid() == 0
    isolation = {
        "mountns": mountns, "mountns_reason": mountns_reason,
        "pidns": server.pidns.available, "pidns_reason": server.pidns.reason,
        "uid_dropped": root, "uid_dropped_reason": (
            f"children run as uid {limits.SANDBOX_UID}, gid {limits.SANDBOX_GID}, no groups, no_new_privs, "
            "keeping only CAP_DAC_READ_SEARCH (read any file)"
            if root else "not root: children run as the calling user (no_new_privs set)"),
        "seccomp": False, "seccomp_reason": "no seccomp filter: memfds are bounded only by "
                                            "RLIMIT_FSIZE per file and RLIMIT_NOFILE",
    }
    for key in ("mountns", "pidns", "uid_dropped"):
        if not isolation[key]:
            log.warning("sandbox isolation: %s", isolation[key + "_reason"])
    gc.collect()
    gc.freeze()  # children do not touch the pages of everything imported so far
    hello = {"hello": 1, "pid": os.getpid(), "python": sys.version.split()[0], "netns": netns,
             "netns_reason": netns_reason, "subreaper": subreaper, "tracer_error": tracer_error,
             "spares": server.spare_target, "base": server.base, "preloaded": preloaded,
             "preload_errors": preload_errors, "threads": threads, **isolation}
    try:
        server.send(hello)
        server.loop()
    finally:
        server.close()
