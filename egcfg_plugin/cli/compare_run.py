"""The run loop behind `egcfg compare` (inputs are checked in cli_compare before this loads a model).

One record per (task, method) in tasks.jsonl, one JSON log per (task, method) under logs/ with
every agent's code, per-line log and counters, then the summary (egcfg_plugin.cli.report).
"""
from __future__ import annotations

import json
import logging
import os
import re
import time
from pathlib import Path

from egcfg_plugin.cli.run_info import device_info, grid_name, now

log = logging.getLogger(__name__)


def run_compare(args, prep: dict, command: str) -> None:
    from egcfg_plugin.agents.solve import model_identity, solve
    from egcfg_plugin.core.endpoint_client import EndpointError
    from egcfg_plugin.agents.cache import GenerationCache, MemoryCache
    from egcfg_plugin.agents.jsonl import ResumableJSONL

    out: Path = prep["out"]
    adapter, rows = prep["adapter"], prep["rows"]
    style = prep["identity"]["prompt_style"]
    wording = prep["identity"].get("prompt", "standard")

    state, world, rank = None, 1, 0
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        import torch
        from accelerate import PartialState

        state = PartialState(cpu=not torch.cuda.is_available() or args.device == "cpu")
        world, rank = state.num_processes, state.process_index
    device = str(state.device) if state is not None else (args.device or "cpu")
    main_proc = rank == 0

    existing = _read_records(out)                 # (task_id, method) -> record, from every shard
    shard = ResumableJSONL(out / ("tasks.jsonl" if world == 1 else f"tasks.rank{rank}.jsonl"), key=("task_id", "method"))
    cache = MemoryCache() if args.no_cache else GenerationCache(args.cache)

    pool = None
    t_load = time.perf_counter()
    if args.workers > 1:
        from transformers import AutoTokenizer

        from egcfg_plugin.agents.pool import AgentPool
        from egcfg_plugin.core.models import resolve_model_path

        tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(args.model))
        pool = AgentPool(args.model, args.workers, loader_kwargs={"device": device} if device != "cpu" else None)
        model, model_id = None, pool.model_id
    else:
        from egcfg_plugin.core.models import load_model

        model, tokenizer = load_model(args.model, device=device)
        model_id = model_identity(model)
    log.info("model ready in %.1fs (%s)", time.perf_counter() - t_load, model_id)

    meta = dict(prep["identity"], egcfg_name=grid_name(args.egcfg),
                model_id=model_id, device=device_info(device, args.workers, world), workers=args.workers,
                limit=args.limit, ids=getattr(args, "ids", None), command=command, started=now(), world_size=world,
                chosen_on=getattr(args, "chosen_on", None) or "unknown",
                taxonomy={"seen": adapter.taxonomy.seen, "never_seen": adapter.taxonomy.never_seen},
                cache=None if args.no_cache else str(cache.path))
    if main_proc:
        out.mkdir(parents=True, exist_ok=True)
        old = out / "run.json"
        if old.exists():
            meta["started"] = json.loads(old.read_text()).get("started", meta["started"])
        meta["updated"] = now()
        (out / "run.json").write_text(json.dumps(meta, indent=2) + "\n")

    methods = (("baseline", [prep["base"]]), ("egcfg", prep["grid"]))
    problems = [(i, row, adapter.problem(row, style=style, wording=wording))
                for i, row in enumerate(rows)]
    if prep.get("baseline_from"):   # every process, so all agree on what is left to do
        for rec in _reuse_baseline(prep["baseline_from"], model_id, out, adapter, problems, existing,
                                   write=main_proc):
            if main_proc:
                shard.append(rec)
            existing[(rec["task_id"], "baseline")] = rec
    todo = [p for p in problems if any((p[2].task_id, m) not in existing for m, _ in methods)]
    if state is not None:
        state.wait_for_everyone()
        with state.split_between_processes(todo) as mine:
            todo = list(mine)
    solved = {m: sum(1 for p in problems if existing.get((p[2].task_id, m), {}).get("solved")) for m, _ in methods}
    counted = {m: sum(1 for p in problems if (p[2].task_id, m) in existing) for m, _ in methods}
    resumed = len(problems) - len(todo) if world == 1 else 0
    bar = _progress(total=len(todo) + resumed, initial=resumed, disable=not main_proc)
    failed: list[str] = []
    try:
        for index, row, problem in todo:
            for method, configs in methods:
                if (problem.task_id, method) in existing:
                    continue
                t0 = time.perf_counter()
                try:
                    sel = solve(model, tokenizer, problem, configs, cache=cache, pool=pool,
                                all_agents=args.all_agents and method == "egcfg", model_id=model_id)
                except EndpointError as e:   # a served model failed on this task: the others go on
                    failed.append(f"{problem.task_id} ({method}: {e.kind})")
                    log.error("%s %s: %s; no record written, a rerun of this command resumes it",
                              problem.task_id, method, e)
                    continue
                rec = _record(out, adapter, row, problem, method, sel, index, time.perf_counter() - t0,
                              all_agents=args.all_agents and method == "egcfg")
                shard.append(rec)
                existing[(problem.task_id, method)] = rec
                solved[method] += bool(rec["solved"])
                counted[method] += 1
            bar.set_postfix_str(" | ".join(f"{m} solved {solved[m]}/{counted[m]}" for m, _ in methods), refresh=False)
            bar.update(1)
    finally:
        bar.close()
        if pool is not None:
            pool.close()
    if failed:
        log.error("%d task(s) failed on the endpoint and have no record: %s; rerun the same command to resume them",
                  len(failed), ", ".join(failed[:20]))
    if prep.get("control") is not None and world == 1:
        _run_control(out, prep["control"], model, tokenizer, model_id, cache, adapter, problems, existing, shard, meta)
    log.info("generation cache: %d hits, %d misses", cache.hits, cache.misses)
    if state is not None:
        state.wait_for_everyone()
    if main_proc:
        from egcfg_plugin.cli.report import render

        md = render(out, png=not args.no_plot, oracle=getattr(args, "oracle", False))
        log.info("wrote %s/summary.md, summary.csv, flips.md%s", out, "" if args.no_plot else ", compare.png")
        import sys

        sys.stdout.write(md)


def _record(out: Path, adapter, row, problem, method: str, sel, index: int, elapsed: float,
            all_agents: bool) -> dict:
    """Score the selected answer (and, when every agent ran, each agent's) on the hidden tests;
    write the task's log; return its record."""
    scores: dict[str, object] = {}

    def score(code: str):
        if code not in scores:
            scores[code] = adapter.score(row, code)
        return scores[code]

    chosen = score(sel.result.code)
    ran = [r for r in sel.results if r is not None]
    agent_solved = [score(r.code).all_passed for r in sel.results] if all_agents else None
    log_rel = f"logs/{method}/{_safe(problem.task_id)}.json"
    doc = {"task_id": problem.task_id, "method": method, "agent": sel.agent, "rule": sel.rule,
           "hidden": _score_dict(chosen), "agents": []}
    for cfg, r, cached in zip(sel.configs, sel.results, sel.cached):
        entry = {"config": cfg, "ran": r is not None, "cached": cached}
        if r is not None:
            entry["result"] = r.to_dict()
            if r.code in scores:
                entry["hidden"] = _score_dict(scores[r.code])
        doc["agents"].append(entry)
    path = out / log_rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False, default=str))
    r = sel.result
    return {
        "task_id": problem.task_id, "method": method, "index": index, "config": r.config, "agent": sel.agent,
        "rule": sel.rule, **score_fields(chosen), "unscorable": problem.meta.get("unscorable"),
        "visible_pass": r.visible_total > 0 and r.visible_passed == r.visible_total,
        "visible_passed": r.visible_passed, "visible_total": r.visible_total,
        "any_agent_solved": any(agent_solved) if agent_solved is not None else None, "agent_solved": agent_solved,
        "agents_run": len(ran), "cached": sum(sel.cached),
        "time_s": round(sum(x.counters.get("wall_s", 0.0) for x in ran), 3), "elapsed_s": round(elapsed, 3),
        "tokens": int(sum(x.counters.get("generated_tokens", 0) + x.counters.get("candidate_tokens", 0) for x in ran)),
        "stop_reason": r.stop_reason, "code": r.code, "log": log_rel,
    }


def _run_control(out: Path, control, model, tokenizer, model_id, cache, adapter, problems, existing: dict,
                 shard, meta: dict) -> None:
    """The matched-compute control, after every task has its EG-CFG record: n=auto spends the
    EG-CFG arm's mean tokens per task over this run's tasks (recorded in run.json)."""
    from egcfg_plugin.agents.sample_filter import solve_control

    eg = [existing[(p.task_id, "egcfg")]["tokens"] for _, _, p in problems if (p.task_id, "egcfg") in existing]
    budget = sum(eg) / len(eg) if eg else 0.0
    meta["control_budget_tokens"] = round(budget, 1)
    (out / "run.json").write_text(json.dumps(meta, indent=2) + "\n")
    todo = [p for p in problems if (p[2].task_id, "control") not in existing]
    bar = _progress(total=len(problems), initial=len(problems) - len(todo), disable=False)
    try:
        for index, row, problem in todo:
            t0 = time.perf_counter()
            sel = solve_control(model, tokenizer, problem, control, budget_tokens=budget, cache=cache,
                                model_id=model_id)
            rec = _record(out, adapter, row, problem, "control", sel, index, time.perf_counter() - t0,
                          all_agents=False)
            rec["budget_tokens"] = round(budget, 1) if control.n == "auto" else None
            shard.append(rec)
            existing[(problem.task_id, "control")] = rec
            bar.update(1)
    finally:
        bar.close()


def _reuse_baseline(source: dict, model_id: str, out: Path, adapter, problems, existing: dict,
                    write: bool = True) -> list[dict]:
    """Baseline records taken from an earlier run (`--baseline-from`) for the tasks that have none
    here: same model (checked by its identity), code rescored on today's hidden tests, log copied."""
    if source.get("model_id") != model_id:
        raise SystemExit(f"egcfg compare: --baseline-from {source['dir']} used model {source.get('model_id')}, "
                         f"this run loads {model_id}")
    src = Path(source["dir"])
    theirs = {k: v for k, v in _read_records(src).items() if k[1] == "baseline"}
    taken = []
    for index, row, problem in problems:
        rec = theirs.get((problem.task_id, "baseline"))
        if rec is None or (problem.task_id, "baseline") in existing:
            continue
        s = adapter.score(row, rec["code"])
        rec = dict(rec, index=index, **score_fields(s), unscorable=problem.meta.get("unscorable"),
                   reused_from=str(src))
        log_src = src / rec["log"]
        if write and log_src.is_file():
            dest = out / rec["log"]
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(log_src.read_bytes())
        taken.append(rec)
    log.info("--baseline-from %s: reused %d baseline records (rescored on the hidden tests)", src, len(taken))
    return taken


def score_fields(s) -> dict:
    """A record's score: all scored tests (`solved`, `hidden_*`) and, by the test taxonomy
    (task_adapters.base), the never-seen tests only (`solved_never_seen` is None when the task
    has none) and the seen ones."""
    ns_passed, ns_total = s.never_seen
    seen_passed, seen_total = s.seen
    return {"solved": s.all_passed, "hidden_passed": s.passed, "hidden_total": s.total,
            "first_failure": None if s.all_passed else s.first_failure,
            "solved_never_seen": s.never_seen_passed, "never_seen_passed": ns_passed, "never_seen_total": ns_total,
            "solved_seen": s.seen_passed, "seen_passed": seen_passed, "seen_total": seen_total}


def _score_dict(s) -> dict:
    return {"passed": s.passed, "total": s.total, "all_passed": s.all_passed, "first_failure": s.first_failure}


def _safe(task_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(task_id))


def _read_records(out: Path) -> dict:
    """(task_id, method) -> record, from every tasks*.jsonl shard (agents.jsonl's error policy)."""
    from egcfg_plugin.cli.report import task_records

    return {(rec["task_id"], rec["method"]): rec for _, rec in task_records(out)}


def _progress(total: int, initial: int, disable: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="tasks", unit="task", disable=disable, dynamic_ncols=True)
