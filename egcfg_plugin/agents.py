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

import difflib
import itertools
import logging
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

from egcfg_plugin.config import EGCFGConfig

log = logging.getLogger(__name__)

# Expansion order, outermost first: the first agents differ in gamma, then d, then t, ...
GRID_ORDER = ("gamma", "d", "t", "s", "k", "prompt_style", "top_p")
GRID_FILE_KEYS = ("description", "agents", "grid", "fixed")
_HINTS = {"temperature": "t", "temp": "t", "samples": "s", "candidates": "s", "n": "s", "horizon": "d",
          "depth": "d", "lines": "d", "guidance": "gamma", "cfg": "gamma", "g": "gamma", "style": "prompt_style"}
SHIPPED_DIRS = (Path(__file__).resolve().parent.parent / "configs", Path(__file__).resolve().parent / "configs")


# -- grids ---------------------------------------------------------------------------------------
def load_grid(spec) -> list[EGCFGConfig]:
    """Agents from a YAML grid file path, a shipped grid name ("quick", "paper_grid"), a list of
    compact config strings, or one string of comma-separated compact configs."""
    if isinstance(spec, EGCFGConfig):
        return [spec]
    if isinstance(spec, (list, tuple)):
        return _dedupe([c if isinstance(c, EGCFGConfig) else EGCFGConfig.parse(str(c)) for c in spec],
                       source="the config list")
    if not isinstance(spec, (str, Path)):
        raise TypeError(f"grid spec must be a path, a grid name or a list of configs, got {type(spec).__name__}")
    text = str(spec).strip()
    path = _grid_path(text)
    if path is not None:
        return read_grid_file(path)
    try:
        configs = [EGCFGConfig.parse(part) for part in text.split(",") if part.strip()]
    except ValueError as e:
        raise ValueError(f"grid {text!r} is not a YAML file, not a shipped grid ({', '.join(shipped_grids())}) "
                         f"and not a list of compact configs: {e}") from None
    if not configs:
        raise ValueError(f"grid {text!r} names no configs; give e.g. 'quick' or 's3t0.7d2k1g1.0'")
    return _dedupe(configs, source=repr(text))


def shipped_grids() -> list[str]:
    names = {p.stem for d in SHIPPED_DIRS if d.is_dir() for p in d.glob("*.yaml")}
    return sorted(names)


def _grid_path(text: str) -> Path | None:
    p = Path(text).expanduser()
    if p.is_file():
        return p
    if text.endswith((".yaml", ".yml")):
        raise FileNotFoundError(f"grid file {text!r} does not exist")
    for d in SHIPPED_DIRS:
        if (d / f"{text}.yaml").is_file():
            return d / f"{text}.yaml"
    return None


def read_grid_file(path) -> list[EGCFGConfig]:
    import yaml

    path = Path(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if data is None:
        raise ValueError(f"grid file {path} is empty: list agents under 'agents:' or values under 'grid:'")
    if not isinstance(data, dict):
        raise ValueError(f"grid file {path} must be a mapping with keys {GRID_FILE_KEYS}, got {type(data).__name__}")
    return expand_grid(data, source=str(path))


def expand_grid(data: dict, source: str = "grid") -> list[EGCFGConfig]:
    """Agents from a grid mapping, in this fixed order:

    1. `agents:` (a list of compact strings), as written;
    2. `grid:` (key -> list of values), the Cartesian product with keys nested in GRID_ORDER
       (gamma outermost, then d, t, s, k, prompt_style, top_p, then any other setting), each
       key's values in the order written.
    `fixed:` settings apply to every agent. Duplicates (e.g. every gamma=0 point, which are all
    plain greedy) keep their first position.
    """
    _check_keys(data, GRID_FILE_KEYS, f"grid file {source}")
    fixed = dict(data.get("fixed") or {})
    known = [f.name for f in fields(EGCFGConfig)]
    _check_keys(fixed, known, f"'fixed' in {source}")
    configs = [EGCFGConfig.parse(str(c), **fixed) for c in (data.get("agents") or [])]
    grid = data.get("grid") or {}
    if not isinstance(grid, dict):
        raise ValueError(f"'grid' in {source} must map setting -> list of values, got {type(grid).__name__}")
    _check_keys(grid, known, f"'grid' in {source}")
    if grid:
        keys = sorted(grid, key=lambda k: (GRID_ORDER.index(k) if k in GRID_ORDER else len(GRID_ORDER), known.index(k)))
        values = []
        for k in keys:
            vals = grid[k] if isinstance(grid[k], list) else [grid[k]]
            if not vals:
                raise ValueError(f"grid key {k!r} in {source} has no values; give at least one or remove the key")
            values.append(vals)
        for combo in itertools.product(*values):
            configs.append(EGCFGConfig.from_dict({**fixed, **dict(zip(keys, combo))}))
    if not configs:
        raise ValueError(f"grid {source} is empty: list agents under 'agents:' or values under 'grid:'")
    return _dedupe(configs, source=source)


def _check_keys(mapping, allowed, where: str) -> None:
    if not isinstance(mapping, dict):
        raise ValueError(f"{where} must be a mapping, got {type(mapping).__name__}")
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            if _HINTS.get(str(key).lower()) in allowed:
                close = [_HINTS[str(key).lower()]]
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown key {key!r} in {where}.{hint} Allowed: {', '.join(allowed)}")


def _dedupe(configs: list[EGCFGConfig], source: str) -> list[EGCFGConfig]:
    seen: dict[str, EGCFGConfig] = {}
    for c in configs:
        seen.setdefault(c.compact, c)
    if len(seen) < len(configs):
        log.info("%s: %d duplicate agent(s) dropped (kept the first of each)", source, len(configs) - len(seen))
    return list(seen.values())


# -- selection -----------------------------------------------------------------------------------
@dataclass
class Selection:
    """The answer for one task, and every agent's result (None where an agent was not run)."""

    result: object                       # the selected decoding.Result
    agent: int                           # its index in the agent list
    results: list                        # Result | None per agent, in agent order
    rule: str                            # first_visible_pass | most_visible | no_visible_tests
    any_visible_pass: bool
    configs: list[str] = field(default_factory=list)
    cached: list[bool] = field(default_factory=list)

    @property
    def agents_run(self) -> int:
        return sum(r is not None for r in self.results)


def passes_visible(result) -> bool:
    return result is not None and result.visible_total > 0 and result.visible_passed == result.visible_total


def settled_at(results: list) -> int | None:
    """The index of the agent that settles the task, once it is decided whatever later agents do:
    the first visible pass with every earlier agent finished. None while undecided."""
    for i, r in enumerate(results):
        if r is None:
            return None
        if passes_visible(r):
            return i
    return None


def select(results: list, configs: list[str] | None = None, cached: list[bool] | None = None) -> Selection:
    """Apply the selection rule to per-agent results (None = not run)."""
    ran = [(i, r) for i, r in enumerate(results) if r is not None]
    if not ran:
        raise ValueError("no agent produced a result; nothing to select")
    any_pass = any(passes_visible(r) for _, r in ran)
    if any_pass:
        agent, rule = next(i for i, r in ran if passes_visible(r)), "first_visible_pass"
    elif all(r.visible_total == 0 for _, r in ran):
        agent, rule = ran[0][0], "no_visible_tests"
    else:
        best = max(r.visible_passed for _, r in ran)
        agent, rule = next(i for i, r in ran if r.visible_passed == best), "most_visible"
    return Selection(result=results[agent], agent=agent, results=list(results), rule=rule,
                     any_visible_pass=any_pass, configs=list(configs or []),
                     cached=list(cached or [False] * len(results)))


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
        from egcfg_plugin.decoding import generate

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
    """A stable name for a loaded model: its path, dtype, size and a fingerprint of its weights."""
    import hashlib

    config = getattr(model, "config", None)
    name = str(getattr(config, "_name_or_path", "") or getattr(config, "name_or_path", "") or "")
    params = list(model.parameters()) if hasattr(model, "parameters") else []
    h = hashlib.sha256(name.encode())
    for p in params[:4]:
        h.update(p.detach().flatten()[:256].float().cpu().numpy().tobytes())
    count = sum(p.numel() for p in params)
    dtype = str(params[0].dtype).replace("torch.", "") if params else "?"
    return f"{Path(name).name or 'model'}:{dtype}:{count}:{h.hexdigest()[:16]}"
