"""Adversarial candidates (issue 13): one test per finding. A wrong answer must not pass, the
caller must not raise or be reached, no process may outlive its run, nothing outside the run
folder may change, and correct programs must not be misjudged.

Where a test needs an OS mechanism that this machine does not give (root for the uid drop, the
namespaces), it is skipped with the reason `sandbox.info()` reports.
"""
from __future__ import annotations

import json
import os
import sys
import time

import psutil
import pytest

import sandbox
from sandbox import Status, TestCase, run, run_many
from sandbox import runner

FAST = {"timeout_s": 2.0, "memory_mb": 512}
NO_CHECK = TestCase.call("None")

ALWAYS_EQUAL = ("class Anything:\n"
                "    def __eq__(self, other):\n        return True\n"
                "    def __ne__(self, other):\n        return False\n"
                "    __hash__ = object.__hash__\n"
                "def add(a, b):\n    return Anything()\n")


def needs(key: str):
    info = sandbox.info()
    if not info.get(key):
        pytest.skip(f"{key} unavailable here: {info.get(key + '_reason')}")


# ---- a wrong answer reported `passed` -------------------------------------------------------

def test_an_object_whose_eq_is_always_true_does_not_pass():
    assert run(ALWAYS_EQUAL, TestCase.call("add(1, 2)", expected="3"), **FAST).status is Status.FAILED
    r = run(ALWAYS_EQUAL, TestCase.call("assert add(1, 2) == 3"), **FAST)
    assert r.status is Status.FAILED, (r.status, r.error)
    check = ("def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(2, 2) == 4\n\n"
             "check(add)\n")
    assert run(ALWAYS_EQUAL, TestCase.call(check), **FAST).status is Status.FAILED
    r = run("def add(a, b):\n    return a + b\n", TestCase.call(check), **FAST)
    assert r.status is Status.PASSED, "a correct program still passes the rewritten asserts"


def test_patching_the_childs_own_checks_does_not_pass():
    patch = ("import sys, json\nchild = sys.modules.get('sandbox.child')\n"
             "checks = sys.modules.get('sandbox.checks')\n"
             "for m in (child, checks):\n"
             "    if m is not None:\n"
             "        m.values_equal = lambda *a, **k: True\n"
             "        m.stdout_matches = lambda *a, **k: True\n"
             "json.dumps = lambda *a, **k: '{\"status\": \"passed\"}'\n")
    r = run(patch + "def add(a, b):\n    return 0\n", TestCase.call("add(1, 2)", expected="3"), **FAST)
    assert r.status is not Status.PASSED, (r.status, r.error)
    r = run(patch + "print('wrong')\n", TestCase.stdio("", "right"), **FAST)
    assert r.status is not Status.PASSED, (r.status, r.error)


FIND_EXPECTED = '''
import gc, sys

def look(obj, depth=0):
    if depth > 3:
        return None
    if isinstance(obj, dict):
        for key in ("expected", "expected_stdout"):
            if isinstance(obj.get(key), str):
                return obj[key]
        for v in list(obj.values()):
            got = look(v, depth + 1)
            if got is not None:
                return got
    for key in ("expected", "expected_stdout"):
        value = getattr(obj, key, None)
        if isinstance(value, str):
            return value
    d = getattr(obj, "__dict__", None)
    if isinstance(d, dict) and depth < 3:
        return look(d, depth + 1)
    return None

def find():
    frame = sys._getframe(1)
    while frame is not None:
        got = look(frame.f_locals) or look(frame.f_globals)
        if got is not None:
            return got
        frame = frame.f_back
    for obj in gc.get_objects():
        try:
            got = look(obj, 2)
        except Exception:
            got = None
        if got is not None:
            return got
    return None

def add(a, b):
    found = find()
    return eval(found) if found is not None else None
'''


def test_the_expected_value_cannot_be_read_by_walking_frames_or_the_heap():
    r = run(FIND_EXPECTED, TestCase.call("add(1, 2)", expected="314159"), **FAST)
    assert r.status is Status.FAILED, (r.status, r.value, r.error)
    stdio = FIND_EXPECTED + "print(find())\n"
    r = run(stdio, TestCase.stdio("", "271828"), **FAST)
    assert r.status is Status.FAILED and "271828" not in r.stdout


def test_a_forged_result_frame_on_the_inherited_pipe_does_not_pass():
    forged = {"status": "passed", "stdout": "", "stderr": "", "value": "3", "error": None,
              "trace": None, "duration_s": 0.0}
    program = (f"import json, os, posix, struct\ndata = json.dumps({forged!r}).encode()\n"
               "for fd in range(3, 256):\n    try:\n"
               "        os.write(fd, struct.pack('!I', len(data)) + data)\n"
               "    except OSError:\n        pass\nposix._exit(0)\n")
    r = run(program, TestCase.call("None", expected="3"), **FAST)
    assert r.status is not Status.PASSED, (r.status, r.error)
    r = run(program, TestCase.stdio("", "3"), **FAST)
    assert r.status is not Status.PASSED, (r.status, r.error)


# ---- the caller must not raise or be damaged -------------------------------------------------

def forge(payload: bytes) -> str:
    return (f"import os, posix, struct\ndata = {payload!r}\n"
            "for fd in range(3, 256):\n    try:\n"
            "        os.write(fd, struct.pack('!I', len(data)) + data)\n"
            "    except OSError:\n        pass\nposix._exit(0)\n")


def test_crafted_frames_are_classified_errors_not_exceptions_in_the_caller():
    bad_local = json.dumps({"status": "passed", "stdout": "", "stderr": "", "value": None,
                            "error": None, "duration_s": 0, "trace": {"events": [
                                {"kind": "line", "lineno": 1, "locals": {"x": ""}}]}}).encode()
    payloads = [b"[" * 100000 + b"]" * 100000, bad_local, b"\xff\xfe", b"{}", b"null",
                json.dumps({"status": "passed", "stdout": 5}).encode()]
    pairs = [(forge(p), NO_CHECK) for p in payloads] + [("x = 1\n", TestCase.call("x", expected="1"))]
    results = run_many(pairs, **FAST)
    assert [r.status for r in results[:-1]] == [Status.ERROR] * len(payloads), [r.error for r in results]
    assert results[-1].passed, "the rest of the batch is not lost"
    for r in results:
        json.dumps(r.to_dict())


def test_the_child_cannot_learn_or_reach_the_callers_pid():
    needs("uid_dropped")
    me = os.getpid()
    program = f"""
import os, resource, signal
reached = []
if os.environ.get("EGCFG_SANDBOX_OWNER"):
    reached.append("env")
try:
    if b"EGCFG_SANDBOX_OWNER={me}\\0" in open("/proc/self/environ", "rb").read():
        reached.append("environ")
except OSError:
    pass
try:
    if os.path.exists("/proc/{me}/status") and str({me}) in open("/proc/{me}/status").read():
        reached.append("proc")
except OSError:
    pass
for name, attempt in [
        ("pidfd", lambda: signal.pidfd_send_signal(os.pidfd_open({me}), 0)),
        ("prlimit", lambda: resource.prlimit({me}, resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE))),
        ("renice", lambda: os.setpriority(os.PRIO_PROCESS, {me}, os.getpriority(os.PRIO_PROCESS, {me}))),
        ("affinity", lambda: os.sched_setaffinity({me}, os.sched_getaffinity({me}))),
        ("mem", lambda: open("/proc/{me}/mem", "rb").close())]:
    try:
        attempt()
        reached.append(name)
    except Exception:
        pass
print(" ".join(reached) or "none")
"""
    r = run(program, TestCase.stdio(""), **FAST)
    assert r.status is Status.PASSED, r.error
    assert r.stdout.strip() == "none"
    assert os.getpid() == me and os.sched_getaffinity(0)


def test_the_child_runs_unprivileged_with_no_new_privileges():
    needs("uid_dropped")
    program = ("import os\nprint(os.getuid(), os.geteuid(), os.getgid(), os.getgroups())\n"
               "print([l for l in open('/proc/self/status') if l.startswith('NoNewPrivs')][0].split()[1])\n")
    r = run(program, TestCase.stdio(""), **FAST)
    ids, nnp = r.stdout.splitlines()
    uid, euid, gid, groups = ids.split(" ", 3)
    assert uid == euid != "0" and gid != "0" and groups == "[]"
    assert nnp == "1"


# ---- processes escape --------------------------------------------------------------------------

def sleepers(token: str) -> list:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if token in " ".join(p.info["cmdline"] or []):
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def test_a_grandchild_in_a_new_session_does_not_outlive_its_run():
    token = f"egcfg-escape-{os.getpid()}-{time.monotonic_ns()}"
    program = f"""
import _posixsubprocess, os, sys, time
r, w = os.pipe()
try:
    _posixsubprocess.fork_exec(
        [sys.executable, "-c", "import time; time.sleep(30)", {token!r}], [os.fsencode(sys.executable)],
        True, (), None, None, -1, -1, -1, -1, -1, -1, r, w, True, True, -1, None, None, None, -1, None, False)
    print("started")
except Exception as exc:
    print("refused", type(exc).__name__)
time.sleep(0.5)
"""
    r = run(program, TestCase.stdio(""), **FAST)
    deadline = time.monotonic() + 3
    while sleepers(token) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = sleepers(token)
    for p in left:
        p.kill()
    assert not left, f"a grandchild outlived its run ({r.stdout!r})"


def test_threads_and_processes_are_limited():
    program = """
import os, threading, time
started = 0
for _ in range(200):
    try:
        threading.Thread(target=time.sleep, args=(1,), daemon=True).start()
        started += 1
    except Exception:
        break
print(started)
"""
    r = run(program, TestCase.stdio(""), **FAST)
    assert r.status is Status.PASSED, r.error
    assert int(r.stdout) <= 8, f"{r.stdout.strip()} threads started"


# ---- writes outside the run folder -------------------------------------------------------------

def test_writes_outside_the_run_folder_are_refused_by_the_os(tmp_path):
    needs("mountns")
    target = tmp_path / "open"
    target.mkdir()
    os.chmod(tmp_path, 0o777)
    os.chmod(target, 0o777)
    victim = target / "victim.txt"
    victim.write_text("original\n")
    os.chmod(victim, 0o666)
    program = f"""
import builtins, os, sqlite3
builtins.any = lambda *a: False
builtins.len = lambda *a: 0
d = os.open({str(target)!r}, os.O_RDONLY)
done = []
attempts = [
    ("create", lambda: os.close(os.open("new.txt", os.O_CREAT | os.O_WRONLY, dir_fd=d))),
    ("remove", lambda: os.remove("victim.txt", dir_fd=d)),
    ("rename", lambda: os.rename("victim.txt", "moved.txt", src_dir_fd=d, dst_dir_fd=d)),
    ("symlink", lambda: os.symlink("/etc/passwd", "link", dir_fd=d)),
    ("chmod", lambda: os.chmod("victim.txt", 0o600, dir_fd=d)),
    ("hardlink", lambda: (os.link({str(victim)!r}, "here"), open("here", "w").write("changed"))),
    ("sqlite", lambda: sqlite3.connect({str(target / 'db.sqlite')!r}).execute("create table t(x)")),
    ("open", lambda: open({str(victim)!r}, "a").write("more")),
]
for name, attempt in attempts:
    try:
        attempt()
        done.append(name)
    except Exception:
        pass
print(" ".join(done) or "none")
"""
    r = run(program, TestCase.stdio(""), **FAST)
    assert r.stdout.strip() == "none", (r.status, r.stdout, r.error)
    assert sorted(os.listdir(target)) == ["victim.txt"]
    assert victim.read_text() == "original\n" and (os.stat(victim).st_mode & 0o777) == 0o666


def test_the_run_folder_has_a_size_and_file_count_cap():
    needs("mountns")
    program = """
size = files = 0
try:
    for i in range(64):
        with open(f"big{i}", "wb") as f:
            f.write(b"x" * (4 << 20))
        size += 4
except OSError:
    pass
try:
    for i in range(100000):
        open(f"f{i}", "w").close()
        files += 1
except OSError:
    pass
print(size, files)
"""
    r = run(program, TestCase.stdio(""), timeout_s=10.0, memory_mb=512)
    size_mb, files = map(int, r.stdout.split())
    assert size_mb < 256 and files < 100000, r.stdout


def test_memfds_cannot_hold_memory_beyond_the_caps():
    needs("seccomp")
    program = """
import os
held = 0
fds = []
try:
    for _ in range(64):
        fd = os.memfd_create("x")
        os.write(fd, b"x" * (8 << 20))
        fds.append(fd)
        held += 8
except OSError:
    pass
print(held)
"""
    r = run(program, TestCase.stdio(""), timeout_s=10.0, memory_mb=256)
    assert int(r.stdout) < 256, r.stdout


# ---- correct programs misjudged or lost --------------------------------------------------------

def test_print_and_fd_writes_keep_their_order():
    program = "import os\nprint(1)\nos.write(1, b'2\\n')\nprint(3)\n"
    r = run(program, TestCase.stdio("", "1 2 3"), **FAST)
    assert r.stdout == "1\n2\n3\n" and r.status is Status.PASSED


def test_lone_surrogates_are_escaped_in_every_field():
    program = ("class S:\n    def __repr__(self):\n        return 'bad\\udcff'\n"
               "def f():\n    x = S()\n    y = 'a\\udc80'\n    return x\n"
               "def g():\n    raise ValueError('oops\\ud800')\n")
    results = run_many([(program, TestCase.call("f()", expected="1")), (program, TestCase.call("g()")),
                        ("print('\\udcff')\n", TestCase.stdio(""))], **FAST)
    for r in results:
        text = json.dumps(r.to_dict(), ensure_ascii=False)
        text.encode("utf-8")   # raises on a lone surrogate
    assert "\\udcff" in results[0].value
    assert results[1].status is Status.ERROR and "\\ud800" in results[1].error


@pytest.mark.parametrize("exc", ["KeyboardInterrupt", "SystemExit"])
def test_base_exceptions_from_user_repr_and_eq_are_contained(exc):
    program = (f"class Odd:\n    def __repr__(self):\n        raise {exc}()\n"
               f"    def __eq__(self, other):\n        raise {exc}()\n    __hash__ = None\n"
               "def f():\n    o = Odd()\n    return o\n")
    r = run(program, TestCase.call("f()", expected="1"), **FAST)
    assert r.status is Status.FAILED, (r.status, r.error)
    r = run(program, TestCase.call("f()"), **FAST)
    assert r.status is Status.PASSED, (r.status, r.error)


def test_variable_names_and_values_are_bounded():
    program = "def f():\n    exec('v' * 1000000 + ' = 1', globals())\n    return 1\nf()\nz = 1\n"
    r = run(program, TestCase.call("None"), **FAST)
    assert len(json.dumps(r.to_dict())) < 50000
    assert all(len(name) <= 100 for e in r.trace.events for name in e.locals)


def test_switching_tracing_off_from_inside_is_noted():
    program = "import sys\nsys.settrace(None)\nif hasattr(sys, 'monitoring'):\n    sys.monitoring.set_events(3, 0)\nx = 1\n"
    r = run(program, TestCase.call("x", expected="1"), **FAST)
    assert r.passed
    assert any("switched off" in n for n in r.trace.notes), r.trace.notes


def test_after_the_event_cap_the_rest_runs_untraced():
    program = "def spin(n):\n    s = 0\n    for i in range(n):\n        s += i\n    return s\n"
    t0 = time.monotonic()
    r = run(program, TestCase.call("spin(1000000)", expected=str(sum(range(1000000)))),
            timeout_s=3.0, memory_mb=512)
    assert r.status is Status.PASSED, (r.status, r.error, time.monotonic() - t0)
    assert any("untraced" in n for n in r.trace.notes), r.trace.notes


def test_info_says_what_isolation_was_obtained():
    info = sandbox.info()
    for key in ("uid_dropped", "pidns", "mountns", "seccomp", "netns"):
        assert isinstance(info[key], bool) and info[key + "_reason"], key
    if os.geteuid() == 0 and sys.platform == "linux":
        assert info["uid_dropped"] and info["pidns"] and info["mountns"]
