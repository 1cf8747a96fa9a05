"""Greedy (gamma=0) pass@1 of two backends on the same tasks, and how many generations agree.

    python benchmarks/greedy_agreement.py --backend llamacpp --task humaneval
    python benchmarks/greedy_agreement.py --backend hf --task mbpp --start 11 --end 110
    python benchmarks/greedy_agreement.py --report          # compare what both have done so far

Each run appends one line per task to runs/agreement/<task>-<backend>.jsonl (resumable: done
tasks are skipped; generations also go through the shared generation cache). The report prints,
per task set, each backend's pass@1 on the tasks both have done and the number of identical codes.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

OUT = Path("runs/agreement")


def run(args) -> int:
    from egcfg_plugin.agents.cache import GenerationCache
    from egcfg_plugin.agents.solve import model_identity
    from egcfg_plugin.core.config import EGCFGConfig
    from egcfg_plugin.core.decoding import generate
    from egcfg_plugin.core.models import load_model
    from task_adapters.registry import get_adapter

    adapter = get_adapter(args.task)
    rows = adapter.load()
    if args.task == "mbpp":
        rows = [r for r in rows if args.start <= int(r["task_id"]) <= args.end]
    path = OUT / f"{args.task}-{args.backend}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    done = {json.loads(line)["task_id"] for line in path.read_text().splitlines()} if path.exists() else set()
    model, tok = load_model(f"{args.model},backend={args.backend}")
    model_id = model_identity(model)
    cache = GenerationCache()
    cfg = EGCFGConfig.parse("baseline")
    with path.open("a") as out:
        for row in rows:
            problem = adapter.problem(row)
            if problem.task_id in done:
                continue
            key = cache.key(model_id, tok, problem, cfg)
            t0 = time.perf_counter()
            result = cache.get(key)
            if result is None:
                result = generate(model, tok, problem, cfg)
                cache.put(key, result, model_id=model_id)
            score = adapter.score(row, result.code)
            rec = {"task_id": problem.task_id, "passed": bool(score.all_passed), "code": result.code,
                   "tokens": len(result.tokens), "s": round(time.perf_counter() - t0, 2), "model_id": model_id}
            out.write(json.dumps(rec) + "\n")
            out.flush()
            sys.stderr.write(f"{args.backend} {problem.task_id}: {'pass' if rec['passed'] else 'fail'} "
                             f"{rec['tokens']} tokens {rec['s']}s\n")
    return 0


def report() -> int:
    for task in ("humaneval", "mbpp"):
        recs = {}
        for b in ("llamacpp", "hf"):
            p = OUT / f"{task}-{b}.jsonl"
            recs[b] = {json.loads(x)["task_id"]: json.loads(x) for x in p.read_text().splitlines()} if p.exists() else {}
        both = sorted(set(recs["llamacpp"]) & set(recs["hf"]), key=str)
        line = {"task": task, **{f"{b}_done": len(r) for b, r in recs.items()},
                **{f"{b}_pass@1_all_done": round(sum(x["passed"] for x in r.values()) / len(r), 4) if r else None
                   for b, r in recs.items()},
                "both_done": len(both)}
        if both:
            line.update({f"{b}_pass@1_on_both": round(sum(recs[b][t]["passed"] for t in both) / len(both), 4)
                         for b in recs})
            line["identical_code"] = sum(recs["llamacpp"][t]["code"] == recs["hf"][t]["code"] for t in both)
            line["same_verdict"] = sum(recs["llamacpp"][t]["passed"] == recs["hf"][t]["passed"] for t in both)
            line["mean_s"] = {b: round(sum(recs[b][t]["s"] for t in both) / len(both), 2) for b in recs}
        sys.stdout.write(json.dumps(line) + "\n")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["hf", "llamacpp"])
    ap.add_argument("--task", choices=["humaneval", "mbpp"], default="humaneval")
    ap.add_argument("--model", default="default")
    ap.add_argument("--start", type=int, default=11)
    ap.add_argument("--end", type=int, default=110)
    ap.add_argument("--report", action="store_true")
    args = ap.parse_args(argv)
    if args.report:
        return report()
    if not args.backend:
        ap.error("--backend is required unless --report")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
