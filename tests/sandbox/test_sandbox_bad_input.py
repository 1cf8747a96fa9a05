"""Bad input: each case returns a classified ExecResult and leaves the parent unharmed.

The whole module runs with the parent's cwd in a scratch directory holding sentinel files; at
the end the files must be untouched and no sandbox process (server, child, zombie) may be left.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time

import pytest

from sandbox import Status, TestCase, run
from sandbox import runner
from tests.sandbox.support import own_children, sandbox_processes, snapshot, tracer_impl  # noqa: F401

FAST = {"timeout_s": 1.0, "memory_mb": 256}
NO_CHECK = TestCase.call("None")


@pytest.fixture(scope="module", autouse=True)
def parent_cwd(tmp_path_factory):
    """The parent's cwd for the whole module, with files that no run may touch."""
    home = tmp_path_factory.mktemp("parent_cwd")
    for name in ("keep.txt", "data.csv"):
        (home / name).write_text(f"sentinel {name}\n")
    (home / "sub").mkdir()
    (home / "sub" / "nested.txt").write_text("nested\n")
    before_files = snapshot(str(home))
    before_cwd = os.getcwd()
    os.chdir(home)
    try:
        yield str(home)
    finally:
        os.chdir(before_cwd)
    runner.shutdown()
    assert snapshot(str(home)) == before_files, "a sandboxed run changed the parent's files"
    deadline = time.monotonic() + 5
    while (own_children() or sandbox_processes()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert own_children() == [], f"leftover children (zombies included): {own_children()}"
    assert sandbox_processes() == [], f"leftover sandbox processes: {sandbox_processes()}"


@pytest.fixture(autouse=True)
def parent_unharmed(parent_cwd):
    yield
    assert os.getcwd() == parent_cwd
    assert sys.stdout is not None and callable(print)


def check_serialisable(result):
    json.dumps(result.to_dict())
    assert result.duration_s >= 0


def test_infinite_loop_times_out_with_partial_trace(tracer_impl):
    r = run("n = 0\nwhile True:\n    n += 1\n", NO_CHECK, tracer_impl=tracer_impl, **FAST)
    assert r.status is Status.TIMEOUT
    assert r.error == "timed out after 1s"
    assert r.trace is not None and r.trace.events, "the trace up to the timeout comes back"
    check_serialisable(r)


def test_infinite_loop_that_swallows_every_exception_times_out():
    program = "while True:\n    try:\n        pass\n    except BaseException:\n        pass\n"
    r = run(program, NO_CHECK, **FAST)
    assert r.status is Status.TIMEOUT


def test_loop_inside_c_code_is_killed_at_the_wall_clock_deadline():
    # sum() over an endless iterator never returns to the eval loop, so the in-child alarm
    # cannot run; the server's SIGKILL of the process group must end it.
    t0 = time.monotonic()
    r = run("import itertools\ntotal = sum(itertools.count())\n", NO_CHECK, **FAST)
    assert r.status is Status.TIMEOUT
    assert "killed" in r.error
    assert time.monotonic() - t0 < 5


def test_blocked_alarm_and_sleep_is_killed_at_the_wall_clock_deadline():
    program = ("import signal, time\nsignal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])\n"
               "time.sleep(100)\n")
    r = run(program, NO_CHECK, **FAST)
    assert r.status is Status.TIMEOUT


def test_fork_bomb_is_refused():
    r = run("import os\nwhile True:\n    os.fork()\n", NO_CHECK, **FAST)
    assert r.status is Status.ERROR
    assert r.error.startswith("PermissionError") and "os.fork" in r.error


def test_subprocess_and_system_are_refused():
    r = run("import subprocess\nsubprocess.run(['true'])\n", NO_CHECK, **FAST)
    assert r.status is Status.ERROR and "subprocess.Popen" in r.error
    r = run("import os\nos.system('touch /tmp/egcfg_should_not_exist')\n", NO_CHECK, **FAST)
    assert r.status is Status.ERROR and "os.system" in r.error
    assert not os.path.exists("/tmp/egcfg_should_not_exist")


def test_allocating_20_gb_is_a_memory_error():
    r = run("x = bytearray(20 * 2**30)\n", NO_CHECK, **FAST)
    assert r.status is Status.MEMORY
    assert r.error.startswith("MemoryError")


def test_growing_a_list_until_the_cap_is_a_memory_error():
    r = run("x = []\nwhile True:\n    x.append(' ' * 10**6)\n", NO_CHECK, timeout_s=5.0, memory_mb=256)
    assert r.status is Status.MEMORY


def test_printing_1_gb_hits_the_output_limit():
    program = "for _ in range(1 << 20):\n    print('x' * 1023)\n"
    r = run(program, TestCase.stdio(""), output_limit=1 << 16, **FAST)
    assert r.status is Status.OUTPUT_LIMIT
    assert len(r.stdout) == 1 << 16
    assert "stdout" in r.error


def test_fd_level_output_flood_hits_the_output_limit():
    program = "import os\nwhile True:\n    os.write(1, b'y' * 65536)\n"
    r = run(program, TestCase.stdio(""), output_limit=1 << 16, **FAST)
    assert r.status is Status.OUTPUT_LIMIT
    assert len(r.stdout) <= 1 << 16


def test_stderr_flood_hits_the_output_limit():
    r = run("import sys\nwhile True:\n    sys.stderr.write('e' * 4096)\n", NO_CHECK, output_limit=1 << 16, **FAST)
    assert r.status is Status.OUTPUT_LIMIT
    assert "stderr" in r.error


def test_reading_stdin_forever_times_out():
    r = run("import sys\nwhile True:\n    sys.stdin.read()\n", TestCase.stdio("1 2\n"), **FAST)
    assert r.status is Status.TIMEOUT


def test_input_past_the_end_of_stdin_is_an_eof_error():
    r = run("while True:\n    input()\n", TestCase.stdio("one line\n"), **FAST)
    assert r.status is Status.ERROR
    assert r.error.startswith("EOFError")


def test_os_exit_3_is_an_error():
    r = run("import os\nprint('before')\nos._exit(3)\n", NO_CHECK, **FAST)
    assert r.status is Status.ERROR
    assert r.error == "os._exit(3)"
    assert r.stdout == "before\n"


def test_raw_posix_exit_is_an_error_from_the_exit_status():
    r = run("import posix\nposix._exit(3)\n", NO_CHECK, **FAST)
    assert r.status is Status.ERROR
    assert "code 3" in r.error


def test_sys_exit_in_a_call_test_is_an_error():
    r = run("import sys\nsys.exit()\n", NO_CHECK, **FAST)
    assert r.status is Status.ERROR
    assert r.error == "SystemExit: None"


def test_sys_exit_zero_in_a_stdio_program_is_a_normal_end():
    program = "import sys\nprint(int(input()) * 2)\nsys.exit(0)\nprint('never')\n"
    r = run(program, TestCase.stdio("21\n", "42"), **FAST)
    assert r.status is Status.PASSED
    r = run("import sys\nsys.exit(2)\n", TestCase.stdio("", ""), **FAST)
    assert r.status is Status.ERROR and r.error == "SystemExit: 2"


def test_deep_recursion_is_an_error(tracer_impl):
    program = "def down(n):\n    return down(n + 1)\n"
    r = run(program, TestCase.call("down(0)"), tracer_impl=tracer_impl, **FAST)
    assert r.status is Status.ERROR
    assert r.error.startswith("RecursionError")
    check_serialisable(r)


def test_sigsegv_via_ctypes_is_killed():
    r = run("import ctypes\nctypes.string_at(0)\n", NO_CHECK, **FAST)
    assert r.status is Status.KILLED
    assert r.error == "killed by SIGSEGV"


def test_socket_to_localhost_is_refused(tmp_path):
    import socket
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        program = f"import socket\ns = socket.socket()\ns.connect(('127.0.0.1', {port}))\n"
        r = run(program, NO_CHECK, **FAST)
        server.settimeout(0.2)
        with pytest.raises(socket.timeout):
            server.accept()
    finally:
        server.close()
    assert r.status is Status.ERROR
    assert r.error.startswith("PermissionError") and "socket.connect" in r.error


def test_network_namespace_is_recorded():
    info = runner.server_info()
    assert isinstance(info["netns"], bool) and info["netns_reason"]


def test_deleting_files_in_the_parents_cwd_is_refused(parent_cwd):
    program = f"""
import os, shutil
target = {parent_cwd!r}
for name in os.listdir(target):
    path = os.path.join(target, name)
    try:
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    except PermissionError:
        pass
open(os.path.join(target, 'keep.txt'), 'w').write('overwritten')
"""
    r = run(program, NO_CHECK, **FAST)
    assert r.status is Status.ERROR and r.error.startswith("PermissionError")
    assert open(os.path.join(parent_cwd, "keep.txt")).read() == "sentinel keep.txt\n"
    assert os.path.exists(os.path.join(parent_cwd, "sub", "nested.txt"))


def test_relative_deletes_only_touch_the_runs_own_directory(parent_cwd):
    program = ("import os\nopen('mine.txt', 'w').write('x')\n"
               "for name in os.listdir('.'):\n    os.remove(name)\nprint(os.getcwd())\n")
    r = run(program, TestCase.stdio(""), **FAST)
    assert r.status is Status.PASSED
    run_dir = r.stdout.strip()
    assert run_dir != parent_cwd and not os.path.exists(run_dir), "the run directory is removed"
    assert os.path.exists(os.path.join(parent_cwd, "keep.txt"))


def test_missing_module_is_an_error():
    r = run("import no_such_module_egcfg\n", NO_CHECK, **FAST)
    assert r.status is Status.ERROR
    assert r.error == "ModuleNotFoundError: No module named 'no_such_module_egcfg'"


def test_changing_builtins_does_not_leak_into_the_next_run():
    program = "import builtins\nbuiltins.len = lambda x: 42\nbuiltins.print = None\n"
    r = run(program, TestCase.call("len([1])", expected="1"), **FAST)
    assert r.status is Status.FAILED and r.value == "42"
    r = run("", TestCase.call("len([1, 2])", expected="2"), **FAST)
    assert r.status is Status.PASSED
    r = run("print('still here')\n", TestCase.stdio("", "still here"), **FAST)
    assert r.status is Status.PASSED


def test_binary_junk_on_stdout_comes_back_as_text():
    program = "import os, sys\nsys.stdout.buffer.write(bytes(range(256)))\nos.write(1, b'\\xff\\xfe\\x00')\nprint('\\udcff')\n"
    r = run(program, TestCase.stdio(""), **FAST)
    assert r.status is Status.PASSED
    assert isinstance(r.stdout, str) and "\ufffd" in r.stdout
    check_serialisable(r)


def test_syntax_error_is_classified():
    r = run("def f(x)\n    return x\n", TestCase.call("f(1)", expected="1"), **FAST)
    assert r.status is Status.SYNTAX_ERROR
    assert r.error.startswith("SyntaxError") and "line 1" in r.error
    r = run("x = 'a\0b'\n", NO_CHECK, **FAST)
    assert r.status is Status.SYNTAX_ERROR


def test_empty_program_fails_the_call_with_a_name_error():
    r = run("", TestCase.call("f(1)", expected="2"), **FAST)
    assert r.status is Status.ERROR
    assert r.error == "NameError: name 'f' is not defined"
    assert run("", TestCase.stdio("", ""), **FAST).status is Status.PASSED


def test_killing_a_child_from_inside_the_parent_group_is_refused():
    r = run(f"import os, signal\nos.kill({os.getpid()}, signal.SIGKILL)\n", NO_CHECK, **FAST)
    assert r.status is Status.ERROR and "os.kill" in r.error


def test_server_killed_mid_run_gives_killed_and_restarts():
    import threading
    pid = runner.server_info()["pid"]
    timer = threading.Timer(0.3, os.kill, (pid, signal.SIGKILL))
    timer.start()
    r = run("import time\ntime.sleep(3)\n", NO_CHECK, timeout_s=3.0, memory_mb=256)
    timer.join()
    assert r.status is Status.KILLED and "server" in r.error
    assert runner.server_info()["pid"] != pid
    assert run("x = 1\n", TestCase.call("x", expected="1"), **FAST).status is Status.PASSED


def test_junk_written_to_the_result_pipe_is_an_error_not_a_crash():
    program = ("import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, b'{\"status\": \"passed\"}')\n"
               "    except OSError:\n        pass\n")
    r = run(program, NO_CHECK, **FAST)
    assert r.status is Status.ERROR and "without a result" in r.error


def test_a_batch_of_bad_inputs_is_classified_in_order():
    from sandbox import run_many
    pairs = [
        ("while True:\n    pass\n", NO_CHECK),
        ("x = bytearray(20 * 2**30)\n", NO_CHECK),
        ("import ctypes\nctypes.string_at(0)\n", NO_CHECK),
        ("def f(:\n", NO_CHECK),
        ("def f():\n    return 5\n", TestCase.call("f()", expected="5")),
        ("import os\nos._exit(3)\n", NO_CHECK),
    ]
    statuses = [r.status for r in run_many(pairs, **FAST)]
    assert statuses == [Status.TIMEOUT, Status.MEMORY, Status.KILLED, Status.SYNTAX_ERROR,
                        Status.PASSED, Status.ERROR]


def test_a_stuck_server_is_replaced(monkeypatch):
    monkeypatch.setattr(runner, "ANSWER_SLACK_S", 0.5)
    pid = runner.server_info()["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        r = run("x = 1\n", TestCase.call("x"), timeout_s=0.5, memory_mb=256)
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
    assert r.status is Status.KILLED and "no answer" in r.error
    assert runner.server_info()["pid"] != pid
    assert run("x = 1\n", TestCase.call("x", expected="1"), **FAST).passed


def test_a_parent_killed_mid_run_leaves_no_processes():
    import subprocess
    import psutil
    script = (
        "import os, signal, sys, threading, time\n"
        f"sys.path.insert(0, {os.path.dirname(os.path.dirname(os.path.abspath(runner.__file__)))!r})\n"
        "from sandbox import run_many, TestCase\n"
        "pairs = [('import time\\ntime.sleep(30)\\n', TestCase.call('None'))] * 2\n"
        "from sandbox import runner\n"
        "print(runner.owner_token(), flush=True)\n"
        "threading.Thread(target=run_many, args=(pairs,), kwargs={'timeout_s': 30}, daemon=True).start()\n"
        "time.sleep(1.0)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    token = proc.stdout.readline().strip()
    assert proc.wait(timeout=30) == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while True:
        left = []
        for p in psutil.process_iter():
            try:
                if p.environ().get("EGCFG_SANDBOX_OWNER") == token:
                    left.append(p)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not left, f"processes left by a killed parent: {left}"
