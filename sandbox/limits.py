"""Process-level isolation: rlimits, the network namespace, the child subreaper, the audit hook.

Used by the fork-server (once, at start) and by each forked child (before running the program).
The rlimits and the audit hook are no boundary against code that targets them (ctypes); the
OS mechanisms below them are: the uid drop, no_new_privs, and the mount, PID, IPC and network
namespaces. See sandbox/README.md for what each covers and its fallback.
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
    """SIGKILL this process when the fork-server dies (even by SIGKILL). In a PID namespace of
    its own the parent is outside it and getppid() says 0."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() not in (parent_pid, 0):  # it died before the prctl took effect
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


# ---- OS isolation (Linux; root, else reported unavailable) ---------------------------------

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS = 38
PR_SET_KEEPCAPS = 8
CAP_DAC_READ_SEARCH = 2
SANDBOX_UID = SANDBOX_GID = 65534          # nobody / nogroup
RUN_DIR_SIZE = "64m"                       # the run folder's tmpfs: bytes and files
RUN_DIR_FILES = 512


def _libc_call(name: str, *args) -> None:
    global _libc
    import ctypes
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    fn = getattr(_libc, name)
    if fn(*args) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}: {os.strerror(err)}")


def _unshare(flags: int) -> None:
    if hasattr(os, "unshare"):
        os.unshare(flags)
    else:
        _libc_call("unshare", flags)


def _mount(source, target: str, fstype, flags: int, data=None) -> None:
    import ctypes
    enc = lambda s: None if s is None else os.fsencode(s)  # noqa: E731
    _libc_call("unshare", 0)  # loads libc
    _libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                            ctypes.c_char_p)
    _libc_call("mount", enc(source), enc(target), enc(fstype), flags, enc(data))


def isolate_files(writable: str) -> tuple[bool, str]:
    """In the fork-server, once: a private mount namespace in which every mount is read-only
    except `writable` (the folder of the run folders). Each child then mounts its own tmpfs and
    /proc (`private_run_dir`). Returns (done, reason); never raises."""
    if os.geteuid() != 0:
        return False, "not root: no mount namespace; files are guarded by the audit hook only"
    try:
        _unshare(CLONE_NEWNS | CLONE_NEWIPC)
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        _mount(writable, writable, None, MS_BIND)
        mounts = []
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                point = fields[4].encode().decode("unicode_escape")
                opts = set(fields[5].split(","))
                mounts.append((point, opts))
        for point, opts in mounts:
            if point == writable or "ro" in opts:
                continue
            flags = MS_REMOUNT | MS_BIND | MS_RDONLY
            flags |= (MS_NOSUID if "nosuid" in opts else 0) | (MS_NODEV if "nodev" in opts else 0)
            flags |= MS_NOEXEC if "noexec" in opts else 0
            try:
                _mount(None, point, None, flags)
            except OSError:
                if point == "/":
                    raise
        return True, "mount namespace: everything read-only except a tmpfs per run folder"
    except Exception as exc:
        return False, f"mount namespace unavailable ({type(exc).__name__}: {exc}); audit hook only"


def private_run_dir(run_dir: str, proc: bool = True) -> None:
    """In a child that still is root, in its own pid namespace: its own mount and IPC namespaces,
    a size- and file-capped tmpfs on the run folder, and a /proc that shows only its own
    processes. Raises OSError when it cannot."""
    _unshare(CLONE_NEWNS | CLONE_NEWIPC)
    _mount("tmpfs", run_dir, "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={RUN_DIR_SIZE},nr_inodes={RUN_DIR_FILES},mode=0700,uid={SANDBOX_UID},gid={SANDBOX_GID}")
    if proc:
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


class PidNamespaces:
    """A fresh PID namespace for each forked child: killing it kills all it made.

    `before_fork()` makes the next child the init of a new namespace; `after_fork()` (in the
    server) puts the server's own children back into its namespace. Needs root."""

    def __init__(self) -> None:
        self.fd = -1
        self.reason = ""
        if os.geteuid() != 0:
            self.reason = "not root: no PID namespace per run; the process group is killed instead"
            return
        try:
            fd = os.open("/proc/self/ns/pid", os.O_RDONLY)
            _unshare(CLONE_NEWPID)
            self._setns(fd)
            self.fd = fd
            self.reason = "a PID namespace per run"
        except Exception as exc:
            self.reason = f"PID namespaces unavailable ({type(exc).__name__}: {exc}); process groups only"

    @property
    def available(self) -> bool:
        return self.fd >= 0

    @staticmethod
    def _setns(fd: int) -> None:
        if hasattr(os, "setns"):
            os.setns(fd, CLONE_NEWPID)
        else:
            _libc_call("setns", fd, CLONE_NEWPID)

    def before_fork(self) -> None:
        if self.fd >= 0:
            _unshare(CLONE_NEWPID)

    def after_fork(self) -> None:
        if self.fd >= 0:
            self._setns(self.fd)


def drop_privileges() -> tuple[bool, str]:
    """When root: become nobody:nogroup with no supplementary groups. Always: no new privileges
    (no setuid binaries, file capabilities). Returns (dropped, reason)."""
    dropped, reason = False, "not root: runs as the calling user"
    if os.geteuid() == 0:
        os.setgroups([])
        os.setresgid(SANDBOX_GID, SANDBOX_GID, SANDBOX_GID)
        _prctl(PR_SET_KEEPCAPS, 1)
        os.setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
        _keep_only_read_search()
        dropped, reason = True, f"runs as uid {SANDBOX_UID}, gid {SANDBOX_GID}, no groups"
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    return dropped, reason


def _keep_only_read_search() -> None:
    """Keep CAP_DAC_READ_SEARCH alone (effective and permitted), nothing inheritable: the
    interpreter and the venv may sit under a folder that only root can enter (/root/.pyenv),
    and reading was never restricted. Writing stays bound by the uid and the read-only mounts."""
    import ctypes

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    bit = 1 << CAP_DAC_READ_SEARCH
    data = (Data * 2)(Data(bit, bit, 0), Data(0, 0, 0))
    _libc_call("capset", ctypes.byref(Header(0x20080522, 0)), data)
    _prctl(PR_SET_KEEPCAPS, 0)
