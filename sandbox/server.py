"""The fork-server: one long-lived process per parent that forks one throwaway child per run.

Started by sandbox.runner as `python -c <boot> <project root>` with its stdin/stdout as the
request/response pipes. At start it enters a fresh network namespace (where allowed), becomes a
child subreaper, pre-imports the tracer and common stdlib modules, and freezes the GC, so that
each fork is cheap and copies little. Then it loops: read requests, fork children, enforce
the hard wall-clock deadline with SIGKILL to the child's process group, reap, remove the run
directory, and forward (exit status, result bytes) to the parent. It exits when the parent
closes the request pipe, killing whatever still runs.
"""
from __future__ import annotations

import errno
import gc
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

log = logging.getLogger(__name__)

PRELOAD = ("collections", "itertools", "functools", "heapq", "bisect", "math", "re", "string",
           "typing", "random", "statistics", "fractions", "decimal", "datetime", "json", "copy",
           "operator", "dataclasses", "traceback", "reprlib", "tempfile")
PAYLOAD_OVERHEAD = 16 << 20


class _Job:
    __slots__ = ("id", "pid", "fd", "chunks", "size", "cap", "start", "deadline", "run_dir",
                 "wall_killed", "overflow", "status")

    def __init__(self, req: dict, pid: int, fd: int, run_dir: str) -> None:
        self.id = req["id"]
        self.pid, self.fd, self.run_dir = pid, fd, run_dir
        self.chunks: list[bytes] = []
        self.size = 0
        self.cap = 4 * int(req["output_limit"]) + PAYLOAD_OVERHEAD
        self.start = time.monotonic()
        self.deadline = self.start + kill_deadline(float(req["timeout_s"]))
        self.wall_killed = False
        self.overflow = False
        self.status: int | None = None


class Server:
    def __init__(self, req_fd: int, resp_fd: int) -> None:
        self.req_fd, self.resp_fd = req_fd, resp_fd
        self.sel = selectors.DefaultSelector()
        self.jobs: dict[int, _Job] = {}      # by pid
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
        write_all(self.resp_fd, frame(json.dumps(header).encode()) + frame(payload))

    def loop(self) -> None:
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

    def _read_requests(self) -> None:
        try:
            data = os.read(self.req_fd, 1 << 20)
        except BlockingIOError:
            return
        if not data:  # the parent closed the pipe: stop taking work, kill what runs
            self.open = False
            self.sel.unregister(self.req_fd)
            for job in self.jobs.values():
                _kill_group(job.pid)
            return
        for raw in self.frames.feed(data):
            self._start(pickle.loads(raw))

    def _start(self, req: dict) -> None:
        run_dir = os.path.join(self.base, str(req["id"]))
        os.mkdir(run_dir, 0o700)
        r, w = os.pipe()
        req["server_pid"] = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            try:
                os.close(r)
                child.main(req, w, run_dir)
            finally:
                os._exit(70)
        os.close(w)
        os.set_blocking(r, False)
        job = _Job(req, pid, r, run_dir)
        self.jobs[pid] = job
        self.sel.register(r, selectors.EVENT_READ, job)
        log.debug("run %s: child %d", job.id, pid)

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
        self._maybe_done(job)

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
                continue  # an orphaned grandchild re-parented to us (subreaper)
            job.status = status
            self._read_result(job)  # everything it wrote is in the pipe now
            self._close_pipe(job)

    def _maybe_done(self, job: _Job) -> None:
        if job.status is None or job.fd >= 0 or self.jobs.get(job.pid) is not job:
            return
        del self.jobs[job.pid]
        _remove_tree(job.run_dir)
        status = job.status
        header = {"id": job.id, "wall_s": time.monotonic() - job.start, "wall_killed": job.wall_killed,
                  "overflow": job.overflow,
                  "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                  "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None}
        payload = b"" if job.overflow else b"".join(job.chunks)
        if self.open:
            try:
                self.send(header, payload)
            except OSError:  # the parent is gone
                self.open = False

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for job in self.jobs.values():
            if not job.wall_killed and now >= job.deadline:
                job.wall_killed = True
                _kill_group(job.pid)
                log.debug("run %s: killed at the wall-clock deadline", job.id)

    def close(self) -> None:
        for job in list(self.jobs.values()):
            _kill_group(job.pid)
        deadline = time.monotonic() + 5
        while self.jobs and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.01)
        _remove_tree(self.base)


def _kill_group(pid: int) -> None:
    for kill, target in ((os.killpg, pid), (os.kill, pid)):
        try:
            kill(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _remove_tree(path: str) -> None:
    def fix_and_retry(func, p, _exc):
        try:
            os.chmod(os.path.dirname(p), 0o700)
            func(p)
        except OSError:
            pass
    try:
        shutil.rmtree(path, onerror=fix_and_retry)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            log.warning("could not remove %s: %s", path, exc)


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
    for name in PRELOAD + tuple(filter(None, os.environ.get("EGCFG_SANDBOX_PRELOAD", "").split(","))):
        try:
            __import__(name.strip())
        except Exception as exc:
            log.warning("could not preload %s: %s", name, exc)
    tracer_error = child.preload()
    server = Server(req_fd, resp_fd)
    gc.collect()
    gc.freeze()  # children do not touch the pages of everything imported so far
    hello = {"hello": 1, "pid": os.getpid(), "python": sys.version.split()[0], "netns": netns,
             "netns_reason": netns_reason, "subreaper": subreaper, "tracer_error": tracer_error,
             "base": server.base}
    try:
        server.send(hello)
        server.loop()
    finally:
        server.close()
