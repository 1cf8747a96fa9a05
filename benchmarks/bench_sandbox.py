"""Sandbox speed: one traced execution end to end, throughput on all cores, traced/untraced ratio.

    .venv/bin/python benchmarks/bench_sandbox.py [--runs 200] [--batch 400] [--impl settrace|sysmon]

Prints one JSON object. Latency is wall time in the parent around `sandbox.run` (request, fork,
isolation, program + test, trace, result back), the server already started. Throughput is one
`run_many` batch on all cores; its CPU cost per execution (parent + server + children, the
server's own start-up subtracted) is reported too, since wall figures on a shared machine
depend on what else runs (`loadavg_1m_*`).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sandbox import TestCase, run, run_many  # noqa: E402
from sandbox import runner  # noqa: E402

# An MBPP-sized program (about 20 lines) and a test that executes about 200 of its lines.
PROGRAM = '''\
def is_prime(n):
    if n < 2:
        return False
    i = 2
    while i * i <= n:
        if n % i == 0:
            return False
        i += 1
    return True


def primes_upto(limit):
    """Return the primes below limit."""
    found = []
    for k in range(limit):
        if is_prime(k):
            found.append(k)
    return found


def sum_primes(limit):
    total = 0
    for p in primes_upto(limit):
        total += p
    return total
'''
TEST = TestCase.call("sum_primes(20)", expected="77")


def count_line_events(program: str, test: TestCase) -> int:
    """Lines of the candidate that one execution runs (what a tracer sees before folding)."""
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        if frame.f_code.co_filename != "<candidate>":
            return None
        if event == "line":
            count += 1
        return tracer

    namespace: dict = {}
    sys.settrace(tracer)
    try:
        exec(compile(program, "<candidate>", "exec"), namespace)
        eval(compile(test.code, "<test>", "eval"), namespace)
    finally:
        sys.settrace(None)
    return count


def latency(n: int, trace: bool, impl: str | None) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        result = run(PROGRAM, TEST, trace=trace, tracer_impl=impl)
        times.append(time.perf_counter() - t0)
        if not result.passed:
            raise RuntimeError(f"benchmark pair did not pass: {result.status} {result.error}")
    return times


def cpu_seconds() -> float:
    """CPU time of this process and its reaped descendants (the server and, through it, the
    children; counted once the server has been shut down and reaped)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def server_lifetime_cpu(impl: str | None) -> float:
    """CPU of starting, warming and stopping one server with a single run."""
    runner.shutdown()
    c0 = cpu_seconds()
    run(PROGRAM, TEST, tracer_impl=impl)
    runner.shutdown()
    return cpu_seconds() - c0


def throughput(n: int, trace: bool, impl: str | None, overhead_cpu: float) -> tuple[float, float]:
    """(executions per second of wall time, CPU milliseconds per execution) for one batch."""
    runner.shutdown()
    c0 = cpu_seconds()
    run(PROGRAM, TEST, trace=trace, tracer_impl=impl)  # server up, spares forked
    t0 = time.perf_counter()
    results = run_many([(PROGRAM, TEST)] * n, trace=trace, tracer_impl=impl)
    elapsed = time.perf_counter() - t0
    runner.shutdown()
    cpu = cpu_seconds() - c0 - overhead_cpu
    if not all(r.passed for r in results):
        raise RuntimeError("benchmark pair did not pass in run_many")
    return n / elapsed, 1000 * cpu / n


def ms(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(1000 * values[min(len(values) - 1, int(q * len(values)))], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="sequential runs for latency")
    parser.add_argument("--batch", type=int, default=400, help="pairs in the throughput batch")
    parser.add_argument("--impl", choices=["settrace", "sysmon"], default=None,
                        help="tracer implementation (default: sysmon on 3.12+, else settrace)")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    warm = run(PROGRAM, TEST, tracer_impl=args.impl)  # starts the fork-server
    traced = latency(args.runs, True, args.impl)
    untraced = latency(args.runs, False, args.impl)
    info = runner.server_info()
    overhead = statistics.median(server_lifetime_cpu(args.impl) for _ in range(3))
    traced_rate, traced_cpu = throughput(args.batch, True, args.impl, overhead)
    untraced_rate, untraced_cpu = throughput(args.batch, False, args.impl, overhead)
    report = {
        "python": sys.version.split()[0],
        "cores": len(os.sched_getaffinity(0)),
        "tracer_impl": args.impl or ("sysmon" if sys.version_info >= (3, 12) else "settrace"),
        "netns": info["netns"],
        "loadavg_1m_before": load_before,
        "program_lines": PROGRAM.count("\n"),
        "line_events_executed": count_line_events(PROGRAM, TEST),
        "trace_events_kept": len(warm.trace.events) if warm.trace else 0,
        "runs": args.runs,
        "traced_median_ms": ms(traced, 0.5),
        "traced_p95_ms": ms(traced, 0.95),
        "untraced_median_ms": ms(untraced, 0.5),
        "untraced_p95_ms": ms(untraced, 0.95),
        "traced_over_untraced": round(statistics.median(traced) / statistics.median(untraced), 2),
        "batch": args.batch,
        "traced_throughput_per_s": round(traced_rate, 1),
        "untraced_throughput_per_s": round(untraced_rate, 1),
        # CPU (parent + server + children) per execution: what the machine pays regardless of
        # load; cores / this = the throughput an otherwise idle machine would reach.
        "traced_cpu_ms_per_exec": round(traced_cpu, 2),
        "untraced_cpu_ms_per_exec": round(untraced_cpu, 2),
        "idle_machine_traced_throughput_estimate": round(1000 * len(os.sched_getaffinity(0)) / traced_cpu, 1),
    }
    report["loadavg_1m_after"] = os.getloadavg()[0]
    runner.shutdown()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
