"""In-process cost of the line tracer on an MBPP-sized program; prints JSON.

    python benchmarks/bench_tracer.py [--repeat 300]

For each implementation available on this Python: the median wall time of one traced run
(make_tracer + start + exec + test + stop, so it includes building the Trace), the untraced
median of the same program and test, their ratio, and the events per run. The sandbox's own
isolation costs are measured by bench_sandbox.py, not here.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sandbox.tracer import make_tracer, sysmon_available  # noqa: E402

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
    found = []
    for k in range(limit):
        if is_prime(k):
            found.append(k)
    return found
'''
TEST = "primes_upto(30)"
FILENAME = "<candidate>"


def run_once(code, test_code, impl: str | None):
    namespace = {"__name__": "__main__"}
    tracer = None
    if impl is not None:
        tracer = make_tracer(FILENAME, source=PROGRAM, impl=impl)
        tracer.start()
    exec(code, namespace)
    eval(test_code, namespace)
    return tracer.stop() if tracer is not None else None


def count_raw_line_events(code, test_code) -> int:
    count = 0

    def local(frame, event, arg):
        nonlocal count
        count += event == "line"
        return local

    def global_(frame, event, arg):
        return local if frame.f_code.co_filename == FILENAME else None

    sys.settrace(global_)
    try:
        run_once(code, test_code, None)
    finally:
        sys.settrace(None)
    return count


def median_seconds(code, test_code, impl, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run_once(code, test_code, impl)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    code = compile(PROGRAM, FILENAME, "exec")
    test_code = compile(TEST, "<test>", "eval")
    impls = ["settrace"] + (["sysmon"] if sysmon_available() else [])
    for impl in impls:  # warm up imports and caches
        run_once(code, test_code, impl)
    untraced = median_seconds(code, test_code, None, args.repeat)
    report = {"python": sys.version.split()[0], "program": TEST,
              "raw_line_events": count_raw_line_events(code, test_code),
              "untraced_median_us": round(untraced * 1e6, 1), "impls": {}}
    for impl in impls:
        traced = median_seconds(code, test_code, impl, args.repeat)
        trace = run_once(code, test_code, impl)
        report["impls"][impl] = {
            "traced_median_us": round(traced * 1e6, 1),
            "ratio_traced_to_untraced": round(traced / untraced, 1),
            "us_per_raw_line_event": round(traced * 1e6 / report["raw_line_events"], 2),
            "events_kept": len(trace.events), "events_elided": trace.elided_events}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
