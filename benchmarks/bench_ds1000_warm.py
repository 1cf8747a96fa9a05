"""What warm sandbox workers save per DS-1000 execution: the same runs on the plain fork-server
(each child imports pandas, sklearn, torch, ... itself) and on a warm one that pre-imported
DS1000Adapter.sandbox_preload() once. One run at a time, so the figures are per execution.

    python benchmarks/bench_ds1000_warm.py --per-library 4 --repeat 2

Prints JSON: per library, the median seconds of a hidden-test run (the reference answer, tracing
off, as scoring runs it) and of a visible-test run (tracing on, as a decoding candidate runs it),
cold and warm; the warm server's one-off start; and what the warm server reported (modules,
threads at fork, isolation).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def pick(adapter, per_library: int) -> list[dict]:
    """The first `per_library` scorable rows of each library (rows with a visible test first)."""
    chosen: dict[str, list[dict]] = {}
    rows = adapter.load()
    for want_visible in (True, False):
        for r in rows:
            lib = adapter.library(r)
            if adapter.unscorable(r) or len(chosen.setdefault(lib, [])) >= per_library:
                continue
            if bool(adapter.visible_tests(r)) == want_visible and r not in chosen[lib]:
                chosen[lib].append(r)
    return [r for rs in chosen.values() for r in rs]


def timed(run_many, pairs, **kw) -> tuple[list[float], list]:
    times, results = [], []
    for pair in pairs:
        t0 = time.perf_counter()
        results.append(run_many([pair], workers=1, **kw)[0])
        times.append(time.perf_counter() - t0)
    return times, results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--per-library", type=int, default=4)
    p.add_argument("--repeat", type=int, default=2, help="runs of each execution (the median is kept)")
    args = p.parse_args(argv)

    from sandbox import runner
    from task_adapters.ds1000 import DS1000Adapter

    adapter = DS1000Adapter()
    rows = pick(adapter, args.per_library)
    warm = adapter.sandbox_preload()
    t0 = time.perf_counter()
    info = runner.server_info(warm)
    warm_start = time.perf_counter() - t0
    runner.server_info(())
    out = {"rows": len(rows), "preload": list(warm), "warm_server_start_s": round(warm_start, 2),
           "warm_server": {k: info.get(k) for k in ("preloaded", "preload_errors", "threads", "pidns", "mountns",
                                                       "netns", "uid_dropped")},
           "per_library": {}}
    for lib in sorted({adapter.library(r) for r in rows}):
        lib_rows = [r for r in rows if adapter.library(r) == lib]
        entry = {"rows": len(lib_rows)}
        hidden = [(adapter.program(r, r["reference_code"]), adapter.hidden_tests(r)[0]) for r in lib_rows]
        visible = [(r["reference_code"], adapter.visible_tests(r)[0]) for r in lib_rows if adapter.visible_tests(r)]
        mem = max(adapter.memory_mb(r) for r in lib_rows) if all(adapter.memory_mb(r) for r in lib_rows) else 0
        for label, pairs, kw in (("hidden", hidden, {"timeout_s": 120.0, "trace": False}),
                                 ("visible", visible, {"timeout_s": 60.0, "trace": True})):
            if not pairs:
                continue
            for mode, preload in (("cold", ()), ("warm", warm)):
                runs = [timed(runner.run_many, pairs, memory_mb=mem, preload=preload, **kw) for _ in range(args.repeat)]
                per_exec = [statistics.median(ts) for ts in zip(*(t for t, _ in runs))]
                entry[f"{label}_{mode}_median_s"] = round(statistics.median(per_exec), 3)
                entry[f"{label}_{mode}_passed"] = sum(r.passed for r in runs[-1][1])
            entry[f"{label}_saved_per_run_s"] = round(entry[f"{label}_cold_median_s"] - entry[f"{label}_warm_median_s"], 3)
        out["per_library"][lib] = entry
    saved = [e["hidden_saved_per_run_s"] for e in out["per_library"].values()]
    out["hidden_saved_per_run_s_median_over_libraries"] = round(statistics.median(saved), 3)
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
