"""The runner's normal path: call and stdio tests, values, tolerances, setup, traces, batches."""
from __future__ import annotations

import os
import time

import pytest

from sandbox import ExecResult, Status, TestCase, run, run_many
from sandbox import runner
from sandbox.checks import bounded_repr, stdout_matches, values_equal
from tests.sandbox.support import TRACER_IMPLS, own_children, tracer_impl  # noqa: F401

ADD = "def add(a, b):\n    return a + b\n"
FAST = {"timeout_s": 2.0, "memory_mb": 512}


def test_call_expression_passes_and_records_the_value():
    r = run(ADD, TestCase.call("add(1, 2)", expected="3"), **FAST)
    assert r.status is Status.PASSED and r.passed
    assert r.value == "3" and r.error is None


def test_call_expression_with_a_wrong_value_fails_and_says_both():
    r = run(ADD, TestCase.call("add(1, 2)", expected="4"), **FAST)
    assert r.status is Status.FAILED
    assert r.value == "3"
    assert r.error == "expected 4, got 3"


def test_call_without_expectation_records_the_value():
    r = run(ADD, TestCase.call("add('a', 'b')"), **FAST)
    assert r.status is Status.PASSED and r.value == "'ab'"


def test_assert_statements_pass_and_fail():
    assert run(ADD, TestCase.call("assert add(1, 2) == 3"), **FAST).status is Status.PASSED
    r = run(ADD, TestCase.call("assert add(1, 2) == 4, 'wrong sum'"), **FAST)
    assert r.status is Status.FAILED and r.error == "AssertionError: wrong sum"
    assert r.value is None


def test_assertion_raised_inside_the_program_is_an_error_not_a_failure():
    program = "def f(x):\n    assert x > 0, 'x must be positive'\n    return x\n"
    r = run(program, TestCase.call("assert f(-1) == -1"), **FAST)
    assert r.status is Status.ERROR and "x must be positive" in r.error


def test_exception_in_the_program_is_an_error_with_a_traceback_on_stderr():
    r = run("def f():\n    return 1 / 0\n", TestCase.call("f()"), **FAST)
    assert r.status is Status.ERROR
    assert r.error == "ZeroDivisionError: division by zero"
    assert 'File "<candidate>", line 2, in f' in r.stderr


def test_float_tolerance_on_values():
    program = "def area(r):\n    return 3.14159 * r * r\n"
    assert run(program, TestCase.call("area(1)", expected="3.1416"), **FAST).status is Status.FAILED
    assert run(program, TestCase.call("area(1)", expected="3.1416", atol=1e-3), **FAST).status is Status.PASSED
    nested = "def f():\n    return [0.1 + 0.2, (1.0, 2.0000001)]\n"
    r = run(nested, TestCase.call("f()", expected="[0.3, (1.0, 2.0)]", atol=1e-6), **FAST)
    assert r.status is Status.PASSED
    r = run(nested, TestCase.call("f()", expected="[0.3, [1.0, 2.0]]", atol=1e-6), **FAST)
    assert r.status is Status.FAILED, "a tuple is not a list, tolerance or not"


def test_checks_helpers():
    assert values_equal(1, 1.0)
    assert not values_equal(0.30001, 0.3)
    assert values_equal({"a": 0.30001}, {"a": 0.3}, atol=1e-3)
    assert values_equal(float("nan"), float("nan"), atol=1e-9)
    assert not values_equal(True, 1.5, atol=1.0), "bools are not numbers under tolerance"
    assert stdout_matches("1 2\n3", "1\n2 3")
    assert not stdout_matches("1 2", "1 2 3")
    assert not stdout_matches("0.5", "0.50")
    assert stdout_matches("0.5", "0.50", atol=1e-9)
    assert not stdout_matches("YES", "yes", atol=1.0)
    assert len(bounded_repr(list(range(10**6)))) < 1100
    assert bounded_repr("x" * 5000, limit=100).endswith("...<4902 more chars>")


def test_value_repr_is_bounded():
    r = run("", TestCase.call("list(range(10**6))"), **FAST)
    assert r.status is Status.PASSED and len(r.value) < 1100


def test_expected_that_does_not_evaluate_is_an_error():
    r = run(ADD, TestCase.call("add(1, 2)", expected="undefined_name"), **FAST)
    assert r.status is Status.ERROR and "expected value" in r.error


def test_test_code_that_does_not_compile_is_a_syntax_error():
    r = run(ADD, TestCase.call("add(1,"), **FAST)
    assert r.status is Status.SYNTAX_ERROR and r.error.startswith("the test does not compile")


def test_setup_runs_before_the_program():
    program = "def hyp(a, b):\n    return math.sqrt(a * a + b * b)\n"
    r = run(program, TestCase.call("hyp(3, 4)", expected="5.0", setup="import math"), **FAST)
    assert r.status is Status.PASSED
    r = run(program, TestCase.call("hyp(3, 4)", setup="import no_such_module_egcfg"), **FAST)
    assert r.status is Status.ERROR and r.error.startswith("in the test setup: ModuleNotFoundError")


def test_stdio_passes_fails_and_uses_tolerance():
    program = "a, b = map(float, input().split())\nprint(a / b)\n"
    assert run(program, TestCase.stdio("1 3\n", "0.333333"), **FAST).status is Status.FAILED
    r = run(program, TestCase.stdio("1 3\n", "0.333333", atol=1e-5), **FAST)
    assert r.status is Status.PASSED and r.stdout.startswith("0.3333")
    r = run(program, TestCase.stdio("1 4\n", "0.26"), **FAST)
    assert r.status is Status.FAILED and r.error == ("stdout differs from the expected output: token 1 (line 1 of "
                                                     "the expected output): got '0.25', expected '0.26'")


def test_stdio_reads_stdin_every_usual_way():
    programs = [
        "import sys\nprint(sum(map(int, sys.stdin.read().split())))\n",
        "import sys\nprint(sum(map(int, sys.stdin.buffer.read().split())))\n",
        "print(sum(map(int, open(0).read().split())))\n",
        "import os\nprint(sum(map(int, os.read(0, 100).split())))\n",
        "n = int(input())\nprint(n + sum(int(input()) for _ in range(n - 1)))\n",
    ]
    results = run_many([(p, TestCase.stdio("3\n1\n2\n", "6")) for p in programs], **FAST)
    assert [r.status for r in results] == [Status.PASSED] * len(programs), [r.error for r in results]


def test_stdio_program_runs_as_main():
    program = "def main():\n    print('hi')\n\nif __name__ == '__main__':\n    main()\n"
    assert run(program, TestCase.stdio("", "hi"), **FAST).status is Status.PASSED


def test_call_program_does_not_run_its_main_block():
    program = "def f():\n    return 1\n\nif __name__ == '__main__':\n    input()\n"
    assert run(program, TestCase.call("f()", expected="1"), **FAST).status is Status.PASSED


def test_fd_level_stdout_is_captured():
    r = run("import os\nos.write(1, b'7\\n')\n", TestCase.stdio("", "7"), **FAST)
    assert r.status is Status.PASSED and r.stdout == "7\n"


def test_trace_records_only_the_candidates_lines(tracer_impl):
    program = "def total(xs):\n    s = 0\n    for x in xs:\n        s += x\n    return s\n"
    r = run(program, TestCase.call("total([1, 2, 3])", expected="6", setup="import math"),
            tracer_impl=tracer_impl, **FAST)
    assert r.status is Status.PASSED
    events = r.trace.events
    assert events and {e.lineno for e in events} <= set(range(1, 6))
    assert any(e.kind == "call" and e.func == "total" for e in events)
    assert any(e.kind == "return" and e.value == "6" for e in events)


def test_trace_of_a_stdio_program_has_stdout(tracer_impl):
    r = run("n = int(input())\nprint(n * 2)\n", TestCase.stdio("4\n", "8"), tracer_impl=tracer_impl, **FAST)
    assert r.status is Status.PASSED
    assert any(e.stdout and "8" in e.stdout for e in r.trace.events)


def test_trace_off_gives_no_trace():
    r = run(ADD, TestCase.call("add(1, 2)"), trace=False, **FAST)
    assert r.status is Status.PASSED and r.trace is None


def test_result_round_trips_through_a_dict():
    r = run(ADD, TestCase.call("add(1, 2)", expected="3"), **FAST)
    again = ExecResult.from_dict(r.to_dict())
    assert again.status is r.status and again.value == r.value
    assert again.trace.to_dict() == r.trace.to_dict()


def test_run_many_keeps_the_order():
    pairs = [(f"def f():\n    return {i}\n", TestCase.call("f()", expected=str(i))) for i in range(12)]
    results = run_many(pairs, **FAST)
    assert [r.value for r in results] == [str(i) for i in range(12)]
    assert all(r.passed for r in results)
    assert run_many([], **FAST) == []


def test_run_many_runs_in_parallel():
    pairs = [("import time\ntime.sleep(0.4)\n", TestCase.call("None"))] * 4
    t0 = time.monotonic()
    results = run_many(pairs, workers=4, trace=False, **FAST)
    elapsed = time.monotonic() - t0
    assert all(r.passed for r in results)
    assert elapsed < 1.3, f"4 sleeps of 0.4s took {elapsed:.2f}s with 4 workers"


def test_each_run_gets_a_fresh_directory_and_process():
    program = "import os\nprint(os.getcwd(), os.getpid(), os.getpgid(0) == os.getpid())\n"
    a, b = run_many([(program, TestCase.stdio(""))] * 2, **FAST)
    cwd_a, pid_a, leader_a = a.stdout.split()
    cwd_b, pid_b, _ = b.stdout.split()
    assert cwd_a != cwd_b
    if runner.server_info()["pidns"]:
        assert pid_a == pid_b == "1", "each child is the first process of its own PID namespace"
    else:
        assert pid_a != pid_b and int(pid_a) != os.getpid()
    assert leader_a == "True", "each child leads its own process group"


def test_hash_seed_is_fixed_so_set_order_is_reproducible():
    program = "print(list({'apple', 'pear', 'fig', 'kiwi'}))\n"
    first, second = run_many([(program, TestCase.stdio(""))] * 2, trace=False, **FAST)
    assert first.stdout == second.stdout


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match="timeout_s"):
        run(ADD, TestCase.call("1"), timeout_s=0)
    with pytest.raises(ValueError, match="tracer_impl"):
        run(ADD, TestCase.call("1"), tracer_impl="pdb")
    with pytest.raises(TypeError, match="TestCase"):
        run(ADD, "add(1, 2)")
    for workers in (0, -1):
        with pytest.raises(ValueError, match="workers"):
            run_many([(ADD, TestCase.call("1"))], workers=workers)


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_parent_gets_its_own_server():
    run(ADD, TestCase.call("1"), **FAST)
    r_fd, w_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r_fd)
            r = run(ADD, TestCase.call("add(2, 2)", expected="4"), **FAST)
            os.write(w_fd, r.status.value.encode())
            runner.shutdown()
        finally:
            os._exit(0)
    os.close(w_fd)
    _, status = os.waitpid(pid, 0)
    answer = os.read(r_fd, 100).decode()
    os.close(r_fd)
    assert answer == "passed"
    assert run(ADD, TestCase.call("add(1, 1)", expected="2"), **FAST).passed


def test_shutdown_leaves_no_children():
    run(ADD, TestCase.call("1"), **FAST)
    runner.shutdown()
    assert own_children() == []
    assert run(ADD, TestCase.call("add(1, 1)", expected="2"), **FAST).passed


@pytest.mark.skipif(len(TRACER_IMPLS) < 2, reason="sys.monitoring needs Python 3.12+")
def test_both_tracers_give_the_same_trace_through_the_runner():
    program = ("def fizz(n):\n    out = []\n    for i in range(1, n + 1):\n        if i % 3 == 0:\n"
               "            out.append('Fizz')\n        else:\n            out.append(str(i))\n    return out\n")
    test = TestCase.call("fizz(7)", expected="['1', '2', 'Fizz', '4', '5', 'Fizz', '7']")
    a, b = (run(program, test, tracer_impl=impl, **FAST) for impl in ("settrace", "sysmon"))
    assert a.passed and b.passed
    assert a.trace.to_dict() == b.trace.to_dict()
