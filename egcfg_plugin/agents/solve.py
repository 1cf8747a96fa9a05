"""Agents: a grid of EG-CFG configs tried on each task, and the rule that picks one answer.

    configs = load_grid("quick")                 # or a YAML path, or ["baseline", "s3t0.7d2k1g1.0"]
    sel = solve(model, tokenizer, problem, configs, cache=GenerationCache())
    sel.result.code, sel.agent, sel.rule

Selection rule (fixed agent order): the first agent whose solution passes every visible test;
if none does, the one passing the most visible tests, ties going to the earlier agent. Once a
task is settled the later agents are not run (sequential) or are cancelled (worker pool), unless
`all_agents=True`, which runs every agent so that the "any agent solves it" upper bound can be
scored. Visible tests only: hidden tests never reach this module.

Grid files (configs/*.yaml) are expanded in a fixed order, see `expand_grid`.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from egcfg_plugin.agents.selection import Selection, select, settled_at
from egcfg_plugin.core.config import EGCFGConfig

log = logging.getLogger(__name__)


# -- running agents ------------------------------------------------------------------------------
def solve(model, tokenizer, problem, configs: list[EGCFGConfig], *, cache=None, pool=None,
          all_agents: bool = False, model_id: str | None = None, backend=None) -> Selection:
    """Run the agents on one problem and select the answer.

    cache: a `GenerationCache`; a (model, prompt, config, seed) already generated is read back.
    pool: an `AgentPool` of worker processes (each holding its own model); None runs the agents
        one after another in this process (the default, always available).
    all_agents: run every agent even after the task is settled (for the upper bound).
    model_id: the model's identity for the cache; computed from `model` when not given.
    """
    return solve_groups(model, tokenizer, problem, {"agents": configs}, cache=cache, pool=pool,
                        all_agents=all_agents, model_id=model_id, backend=backend)["agents"]


def solve_groups(model, tokenizer, problem, groups: dict[str, list[EGCFGConfig]], *, cache=None,
                 pool=None, all_agents: bool = False, model_id: str | None = None,
                 backend=None) -> dict[str, Selection]:
    """`solve` for several agent lists at once (e.g. the baseline and the EG-CFG grid), each with its
    own selection. A config in two lists runs once. With a pool, all lists share the workers."""
    if not groups or any(not cfgs for cfgs in groups.values()):
        raise ValueError(f"every agent list needs at least one config, got {({k: len(v) for k, v in groups.items()})}")
    keys = None
    if cache is not None:
        if model_id is None:
            model_id = pool.model_id if pool is not None else model_identity(model)
        keys = {c.compact: cache.key(model_id, tokenizer, problem, c) for cfgs in groups.values() for c in cfgs}
    done: dict[str, object] = {}      # compact -> Result, for this task
    from_cache: set[str] = set()
    if cache is not None:
        for compact, key in keys.items():
            hit = cache.get(key)
            if hit is not None:
                done[compact] = hit
                from_cache.add(compact)

    def store(cfg: EGCFGConfig, result) -> None:
        done[cfg.compact] = result
        if cache is not None:
            cache.put(keys[cfg.compact], result, model_id=model_id)

    if pool is not None:
        pool.run(problem, groups, done, store, all_agents=all_agents)
    else:
        from egcfg_plugin.core.decoding import generate

        for cfgs in groups.values():
            for cfg in cfgs:
                if not all_agents and settled_at([done.get(c.compact) for c in cfgs]) is not None:
                    break
                if cfg.compact not in done:
                    t0 = time.perf_counter()
                    store(cfg, generate(model, tokenizer, problem, cfg, backend=backend))
                    log.debug("%s %s: %.1fs", problem.task_id, cfg.compact, time.perf_counter() - t0)
    out = {}
    for name, cfgs in groups.items():
        results = [done.get(c.compact) for c in cfgs]
        if not all_agents:   # agents after the settling one are not part of this task's answer
            cut = settled_at(results)
            if cut is not None:
                results = results[: cut + 1] + [None] * (len(results) - cut - 1)
        out[name] = select(results, [c.compact for c in cfgs],
                           [c.compact in from_cache and r is not None for c, r in zip(cfgs, results)])
    return out


def model_identity(model) -> str:
    """A stable name for a loaded model: its path, dtype, size and a fingerprint of its weights,
    then the backend, its version, threads and the weights' sha256 (run.json and the cache key).
    A model that names itself (`egcfg_identity()`, e.g. a GGUF on llama.cpp) is taken at its word."""
    import hashlib

    own = getattr(model, "egcfg_identity", None)
    if callable(own):
        return own()
    config = getattr(model, "config", None)
    name = str(getattr(config, "_name_or_path", "") or getattr(config, "name_or_path", "") or "")
    params = list(model.parameters()) if hasattr(model, "parameters") else []
    h = hashlib.sha256(name.encode())
    for p in params[:4]:
        h.update(p.detach().flatten()[:256].float().cpu().numpy().tobytes())
    count = sum(p.numel() for p in params)
    dtype = str(params[0].dtype).replace("torch.", "") if params else "?"
    ident = f"{Path(name).name or 'model'}:{dtype}:{count}:{h.hexdigest()[:16]}"
    if params and hasattr(model, "egcfg_weights_sha256"):   # loaded by egcfg_plugin.core.models
        import torch
        import transformers

        sha = model.egcfg_weights_sha256 or "unhashed"
        ident += f":hf:{transformers.__version__}:threads{torch.get_num_threads()}:{sha[:16]}"
    return ident
