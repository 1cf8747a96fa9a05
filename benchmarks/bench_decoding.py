"""Decoding speed on the default model and the first N MBPP test tasks (11, 12, ...).

Per task, three runs on the same prompt:
  1. transformers `generate()`, greedy, capped at the number of tokens our loop produced;
  2. our loop at gamma=0 (must give the same tokens, target <= 1.1x the time of 1);
  3. EG-CFG (default s3t0.7d2k1g1.0), with its wall time, ratio to 2, and token accounting.
Prints one JSON object per task, then a summary object. Usage:

    python benchmarks/bench_decoding.py --tasks 10 [--model default] [--config s3t0.7d2k1g1.0] [--repeats 3]
    python benchmarks/bench_decoding.py --backend llamacpp --backend hf --tasks 5

With --backend (repeatable), each backend runs the model on the same tasks in one process, one
after the other: per task its greedy (gamma=0) tokens/s and EG-CFG wall time, then a summary with
the ratios between the backends (the first named over each other one) and EG-CFG over greedy.

With --repeats R, runs 1 and 2 are each timed R times, in alternating order, and the fastest time
of each counts (this takes out most of the run-to-run noise of short generations).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=10)
    ap.add_argument("--model", default="default")
    ap.add_argument("--config", default="s3t0.7d2k1g1.0")
    ap.add_argument("--max-new-tokens", type=int, default=384)
    ap.add_argument("--repeats", type=int, default=1, help="time runs 1 and 2 this many times; keep the fastest")
    ap.add_argument("--no-egcfg", action="store_true", help="skip run 3 (only generate() vs gamma=0)")
    ap.add_argument("--backend", action="append", choices=["hf", "llamacpp"],
                    help="compare backends on the same tasks (repeatable); the model is --model on each")
    args = ap.parse_args(argv)
    if args.backend:
        return compare_backends(args)

    import torch

    from egcfg_plugin.core.config import EGCFGConfig
    from egcfg_plugin.core.decoding import generate
    from egcfg_plugin.core.models import load_model
    from egcfg_plugin.core.prompts import split_prompt
    from task_adapters.registry import get_adapter

    model, tok = load_model(args.model)
    adapter = get_adapter("mbpp")
    rows = adapter.load(limit=args.tasks)
    base_cfg = EGCFGConfig.parse("baseline", max_new_tokens=args.max_new_tokens)
    eg_cfg = EGCFGConfig.parse(args.config, max_new_tokens=args.max_new_tokens)

    warm = adapter.problem(rows[0])
    generate(model, tok, warm, base_cfg.replace(max_new_tokens=8))
    warm_ids = tok(split_prompt(warm, tok).text, return_tensors="pt", add_special_tokens=False).input_ids
    with torch.inference_mode():   # HF generate's first call sets things up; do not time that
        model.generate(warm_ids, attention_mask=torch.ones_like(warm_ids), max_new_tokens=8, do_sample=False,
                       pad_token_id=tok.pad_token_id)

    per_task = []
    for row in rows:
        problem = adapter.problem(row)
        ids = tok(split_prompt(problem, tok).text, return_tensors="pt", add_special_tokens=False).input_ids
        ours, hf_s, hf_tokens = None, float("inf"), None
        for rep in range(max(1, args.repeats)):
            # ours runs first in the first round: HF generate is capped at our token count
            for which in (("ours", "hf") if rep % 2 == 0 else ("hf", "ours")):
                if which == "ours":
                    again = generate(model, tok, problem, base_cfg)
                    if ours is None or again.counters["wall_s"] < ours.counters["wall_s"]:
                        ours = again
                    n = len(ours.tokens)
                    continue
                t0 = time.perf_counter()
                with torch.inference_mode():
                    out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max(n, 1),
                                         do_sample=False, pad_token_id=tok.pad_token_id)
                hf_s = min(hf_s, time.perf_counter() - t0)
                hf_tokens = out[0, ids.shape[1]:].tolist()
        record = {
            "task_id": problem.task_id,
            "hf_generate_s": round(hf_s, 3),
            "gamma0_s": round(ours.counters["wall_s"], 3),
            "gamma0_tokens": n,
            "gamma0_same_tokens_as_hf": hf_tokens[:n] == ours.tokens,
            "gamma0_over_hf": round(ours.counters["wall_s"] / hf_s, 3),
            "gamma0_visible": f"{ours.visible_passed}/{ours.visible_total}",
        }
        if not args.no_egcfg:
            record.update(egcfg_fields(generate(model, tok, problem, eg_cfg), ours))
        per_task.append(record)
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()

    hf = sum(r["hf_generate_s"] for r in per_task)
    g0 = sum(r["gamma0_s"] for r in per_task)
    summary = {
        "summary": True, "tasks": len(per_task), "model": args.model,
        "torch_threads": torch.get_num_threads(), "repeats": max(1, args.repeats),
        "all_gamma0_tokens_match_hf": all(r["gamma0_same_tokens_as_hf"] for r in per_task),
        "hf_generate_total_s": round(hf, 2), "gamma0_total_s": round(g0, 2),
        "gamma0_over_hf_total": round(g0 / hf, 3),
    }
    if not args.no_egcfg:
        eg = sum(r["egcfg_s"] for r in per_task)
        summary.update({
            "config": eg_cfg.compact, "egcfg_total_s": round(eg, 2),
            "egcfg_over_gamma0_total": round(eg / g0, 2),
            "egcfg_over_gamma0_mean_per_task": round(statistics.mean(r["egcfg_over_gamma0"] for r in per_task), 2),
        })
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


def compare_backends(args) -> int:
    """Greedy tokens/s and EG-CFG wall time per task, per backend, on the same MBPP tasks."""
    import gc

    from egcfg_plugin.core.backend import ModelSpec
    from egcfg_plugin.core.config import EGCFGConfig
    from egcfg_plugin.core.decoding import generate
    from egcfg_plugin.core.models import load_model
    from task_adapters.registry import get_adapter

    adapter = get_adapter("mbpp")
    rows = adapter.load(limit=args.tasks)
    base_cfg = EGCFGConfig.parse("baseline", max_new_tokens=args.max_new_tokens)
    eg_cfg = EGCFGConfig.parse(args.config, max_new_tokens=args.max_new_tokens)
    spec = ModelSpec.parse(args.model)
    runs = {}
    for name in args.backend:
        model, tok = load_model(str(ModelSpec(spec.name, name, spec.threads, spec.n_ctx, spec.options)))
        from egcfg_plugin.core.backend import make_backend

        info = make_backend(model, tok).info()
        generate(model, tok, adapter.problem(rows[0]), base_cfg.replace(max_new_tokens=8))   # warm-up
        per_task = []
        for row in rows:
            problem = adapter.problem(row)
            greedy = min((generate(model, tok, problem, base_cfg) for _ in range(max(1, args.repeats))),
                         key=lambda r: r.counters["wall_s"])
            n = len(greedy.tokens)
            record = {"backend": name, "task_id": problem.task_id, "greedy_tokens": n,
                      "greedy_s": round(greedy.counters["wall_s"], 3),
                      "greedy_tokens_per_s": round(n / greedy.counters["wall_s"], 2),
                      "greedy_visible": f"{greedy.visible_passed}/{greedy.visible_total}", "tokens": greedy.tokens}
            if not args.no_egcfg:
                record.update(egcfg_fields(generate(model, tok, problem, eg_cfg), greedy))
            per_task.append(record)
            sys.stdout.write(json.dumps({k: v for k, v in record.items() if k != "tokens"}) + "\n")
            sys.stdout.flush()
        runs[name] = {"info": info, "tasks": per_task}
        del model, tok
        gc.collect()
    summary = {"summary": True, "tasks": len(rows), "model": args.model, "config": eg_cfg.compact,
               "backends": {}}
    for name, run in runs.items():
        t = run["tasks"]
        tokens, greedy_s = sum(r["greedy_tokens"] for r in t), sum(r["greedy_s"] for r in t)
        entry = {**run["info"], "greedy_tokens_per_s": round(tokens / greedy_s, 2), "greedy_total_s": round(greedy_s, 2)}
        if not args.no_egcfg:
            eg = [r["egcfg_s"] for r in t]
            entry.update({"egcfg_total_s": round(sum(eg), 2), "egcfg_mean_per_task_s": round(statistics.mean(eg), 2),
                          "egcfg_over_greedy_total": round(sum(eg) / greedy_s, 2)})
        summary["backends"][name] = entry
    first, *others = list(runs)
    for other in others:
        a, b = summary["backends"][first], summary["backends"][other]
        pair = {"greedy_tokens_per_s": round(a["greedy_tokens_per_s"] / b["greedy_tokens_per_s"], 2),
                "greedy_identical_tasks": sum(x["tokens"] == y["tokens"] for x, y in
                                              zip(runs[first]["tasks"], runs[other]["tasks"]))}
        if not args.no_egcfg:
            pair["egcfg_speedup_total"] = round(b["egcfg_total_s"] / a["egcfg_total_s"], 2)
            pair["egcfg_speedup_per_task_median"] = round(statistics.median(
                y["egcfg_s"] / x["egcfg_s"] for x, y in zip(runs[first]["tasks"], runs[other]["tasks"])), 2)
        summary[f"{first}_over_{other}"] = pair
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


def egcfg_fields(eg, ours) -> dict:
    c = eg.counters
    return {
        "egcfg_config": eg.config,
        "egcfg_s": round(c["wall_s"], 3),
        "egcfg_over_gamma0": round(c["wall_s"] / ours.counters["wall_s"], 2),
        "egcfg_model_s": round(c["model_s"], 3),
        "egcfg_sandbox_s": round(c["sandbox_s"], 3),
        "egcfg_tokens": {k: c.get(k, 0) for k in (
            "generated_tokens", "uncond_prefill_tokens", "uncond_decode_tokens", "cond_prefill_tokens",
            "cond_decode_tokens", "candidate_tokens", "signal_tokens_total")},
        "egcfg_refreshes": c["refreshes"], "egcfg_executions": c["executions"],
        "egcfg_signal_chars_max": c["signal_chars_max"], "egcfg_stop": eg.stop_reason,
        "egcfg_visible": f"{eg.visible_passed}/{eg.visible_total}",
    }


if __name__ == "__main__":
    sys.exit(main())
