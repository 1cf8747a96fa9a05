"""Process-level isolation: rlimits, the network namespace, the child subreaper, the audit hook.

Used by the fork-server (once, at start) and by each forked child (before running the program).
Nothing here is a security boundary against code that targets it on purpose: ctypes can undo
all of it. See sandbox/README.md.
"""
from __future__ import annotations

import math
import os
import resource
import signal

CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
FILE_SIZE_LIMIT = 16 << 20       # bytes any file (and the fd-level stdout) may grow to
OPEN_FILES_LIMIT = 256

PROCESS_EVENTS = frozenset({
    "os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
    "subprocess.Popen", "pty.spawn",
})
NETWORK_EVENTS = frozenset({
    "socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
    "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr", "socket.getnameinfo",
})
# audit event -> positions of the path arguments that the event writes to
WRITE_EVENTS = {
    "os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.rename": (0, 1), "os.link": (1,),
    "os.symlink": (1,), "os.chmod": (0,), "os.chown": (0,), "os.truncate": (0,), "os.utime": (0,),
    "os.mkfifo": (0,), "os.mknod": (0,), "os.setxattr": (0,), "os.removexattr": (0,),
    "shutil.rmtree": (0,),
}
SIGNAL_EVENTS = frozenset({"os.kill", "os.killpg", "signal.pthread_kill"})
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


def isolate_network() -> tuple[bool, str]:
    """Move this process into a fresh network namespace (loopback only, and down).

    Done once in the fork-server, so every child inherits it at no cost per run.
    Returns (done, reason); never raises.
    """
    try:
        if hasattr(os, "unshare"):  # Python 3.12+
            os.unshare(CLONE_NEWNET)
        else:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.unshare(CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, os.strerror(err))
        return True, "unshare(CLONE_NEWNET) succeeded"
    except Exception as exc:  # no permission, no ctypes, not Linux
        return False, f"unshare(CLONE_NEWNET) unavailable ({type(exc).__name__}: {exc}); audit hook only"


_libc = None


def _prctl(option: int, value: int) -> bool:
    global _libc
    try:
        if _libc is None:
            import ctypes
            _libc = ctypes.CDLL(None, use_errno=True)
        return _libc.prctl(option, value, 0, 0, 0) == 0
    except Exception:  # not Linux, no ctypes
        return False


def become_subreaper() -> bool:
    """Make orphaned grandchildren re-parent to this process, so it can reap them.
    Also loads libc once, so `die_with_parent` costs nothing in the children."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def die_with_parent(parent_pid: int) -> None:
    """SIGKILL this process when the fork-server dies (even by SIGKILL)."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # it died before the prctl took effect
        os._exit(70)


def set_rlimits(timeout_s: float, memory_mb: int) -> None:
    """Address space, CPU seconds (a backstop behind the wall-clock timer), file size,
    process count, open files, and no core dumps."""
    cpu = math.ceil(timeout_s) + 1
    limits = [
        (resource.RLIMIT_CPU, cpu, cpu + 1),
        (resource.RLIMIT_FSIZE, FILE_SIZE_LIMIT, FILE_SIZE_LIMIT),
        (resource.RLIMIT_NOFILE, OPEN_FILES_LIMIT, OPEN_FILES_LIMIT),
        (resource.RLIMIT_CORE, 0, 0),
        # No new processes or threads for a non-root user; root ignores it (the audit hook covers).
        (resource.RLIMIT_NPROC, 0, 0),
    ]
    if memory_mb:
        limits.append((resource.RLIMIT_AS, memory_mb << 20, memory_mb << 20))
    for which, soft, hard in limits:
        try:
            _, old_hard = resource.getrlimit(which)
            if old_hard != resource.RLIM_INFINITY:
                soft, hard = min(soft, old_hard), min(hard, old_hard)
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):
            pass
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over-size writes raise OSError(EFBIG) instead


def install_audit_hook(run_dir: str) -> None:
    """Refuse process creation, network use, signals to other processes, and file writes
    outside `run_dir`, with PermissionError. Audit hooks cannot be removed once added."""
    import sys

    root = os.path.realpath(run_dir)
    own_pid = os.getpid()
    realpath, fspath, join, sep = os.path.realpath, os.fspath, os.path.join, os.sep

    def writable(path, dir_fd=None) -> bool:
        if isinstance(path, int):
            return True
        path = fspath(path)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if dir_fd is not None and not path.startswith(sep):
            path = join(f"/proc/self/fd/{dir_fd}", path)
        full = realpath(path)
        return full == root or full.startswith(root + sep) or full == "/dev/null"

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            if mode is None:
                wants_write = bool((flags or 0) & WRITE_FLAGS)
            else:
                wants_write = any(c in str(mode) for c in "wax+")
            if wants_write and not writable(path):
                raise PermissionError(f"sandbox: writing {path!r} outside the run directory is blocked")
        elif event in PROCESS_EVENTS:
            raise PermissionError(f"sandbox: process creation is blocked ({event})")
        elif event in NETWORK_EVENTS:
            raise PermissionError(f"sandbox: network access is blocked ({event})")
        elif event in WRITE_EVENTS:
            for i in WRITE_EVENTS[event]:
                if i < len(args) and args[i] is not None and not writable(args[i]):
                    raise PermissionError(f"sandbox: {event} on {args[i]!r} outside the run directory is blocked")
        elif event in SIGNAL_EVENTS:
            target = args[0] if args else None
            if event == "signal.pthread_kill" or target not in (0, own_pid):
                raise PermissionError(f"sandbox: sending signals to other processes is blocked ({event})")

    sys.addaudithook(hook)
