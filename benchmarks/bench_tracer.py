"""In-process cost of the line tracer on an MBPP-sized program; prints JSON.

    python benchmarks/bench_tracer.py [--repeat 300] [--impl settrace|sysmon]

For each implementation available on this Python (each in a fresh process, since on 3.12 a
process that has used sys.monitoring runs settrace slower): the median wall time of one
traced run (make_tracer + start + exec + test + stop, so it includes parsing the source and
building the Trace), the untraced median of the same program and test, their ratio, and the
events per run. `bare_hooks_median_us` is the floor: the same hooks doing nothing but
returning. The sandbox's own isolation costs are measured by bench_sandbox.py, not here.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
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


def bare_hooks_median(code, test_code, impl: str, repeat: int) -> float:
    """The same run with hooks that do nothing: what any tracer on these hooks must pay."""
    if impl == "settrace":
        def local(frame, event, arg):
            return local

        def global_(frame, event, arg):
            return local if frame.f_code.co_filename == FILENAME else None

        start, stop = (lambda: sys.settrace(global_)), (lambda: sys.settrace(None))
    else:
        mon = sys.monitoring
        tool = 4

        def on_start(code_obj, offset):
            if code_obj.co_filename != FILENAME:
                return mon.DISABLE
            mon.set_local_events(tool, code_obj, mon.events.LINE | mon.events.PY_RETURN)

        def start():
            mon.use_tool_id(tool, "bench")
            mon.register_callback(tool, mon.events.PY_START, on_start)
            mon.register_callback(tool, mon.events.LINE, lambda c, n: None)
            mon.register_callback(tool, mon.events.PY_RETURN, lambda c, o, v: None)
            mon.set_events(tool, mon.events.PY_START)

        def stop():
            mon.set_events(tool, 0)
            mon.free_tool_id(tool)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        start()
        try:
            run_once(code, test_code, None)
        finally:
            stop()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(impl: str, repeat: int) -> dict:
    code = compile(PROGRAM, FILENAME, "exec")
    test_code = compile(TEST, "<test>", "eval")
    run_once(code, test_code, impl)  # warm up imports and caches
    untraced = median_seconds(code, test_code, None, repeat)
    traced = median_seconds(code, test_code, impl, repeat)
    bare = bare_hooks_median(code, test_code, impl, repeat)
    trace = run_once(code, test_code, impl)
    raw = count_raw_line_events(code, test_code)
    return {"python": sys.version.split()[0], "impl": impl, "program": TEST,
            "raw_line_events": raw, "events_kept": len(trace.events),
            "events_elided": trace.elided_events,
            "untraced_median_us": round(untraced * 1e6, 1),
            "bare_hooks_median_us": round(bare * 1e6, 1),
            "traced_median_us": round(traced * 1e6, 1),
            "ratio_traced_to_untraced": round(traced / untraced, 1),
            "ratio_bare_hooks_to_untraced": round(bare / untraced, 1),
            "us_per_raw_line_event": round(traced * 1e6 / raw, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--impl", choices=["settrace", "sysmon"], default=None)
    args = parser.parse_args()
    if args.impl:
        print(json.dumps(measure(args.impl, args.repeat)))
        return
    results = []
    for impl in ["settrace"] + (["sysmon"] if sysmon_available() else []):
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--impl", impl,
                              "--repeat", str(args.repeat)], capture_output=True, text=True,
                             check=True).stdout
        results.append(json.loads(out))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
