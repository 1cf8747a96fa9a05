"""Grids of EG-CFG configs: compact strings, shipped grid names, and YAML grid files.

Grid files (configs/*.yaml) are expanded in a fixed order, see `expand_grid`.
"""
from __future__ import annotations

import difflib
import itertools
import logging
from dataclasses import fields
from pathlib import Path

from egcfg_plugin.core.config import EGCFGConfig

log = logging.getLogger(__name__)

# Expansion order, outermost first: the first agents differ in gamma, then d, then t, ...
GRID_ORDER = ("gamma", "d", "t", "s", "k", "prompt_style", "top_p")
GRID_FILE_KEYS = ("description", "agents", "grid", "fixed")
_HINTS = {"temperature": "t", "temp": "t", "samples": "s", "candidates": "s", "n": "s", "horizon": "d",
          "depth": "d", "lines": "d", "guidance": "gamma", "cfg": "gamma", "g": "gamma", "style": "prompt_style"}
_HERE = Path(__file__).resolve().parent
SHIPPED_DIRS = (_HERE.parent.parent / "configs", _HERE.parent / "configs")


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
    if text.replace("_", "").replace("-", "").isalpha() and text != "baseline":   # a grid name, mistyped
        close = difflib.get_close_matches(text, shipped_grids(), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown grid {text!r}.{hint} Give a shipped grid ({', '.join(shipped_grids())}), "
                         f"a grid YAML file or compact configs like s3t0.7d2k1g1.0")
    try:
        configs = [EGCFGConfig.parse(part) for part in text.split(",") if part.strip()]
    except ValueError as e:
        raise ValueError(f"grid {text!r}: {e}") from None
    if not configs:
        raise ValueError(f"grid {text!r} names no configs; give e.g. 'quick' or 's3t0.7d2k1g1.0'")
    return _dedupe(configs, source=repr(text))


def grid_from_settings(settings: dict, source: str = "settings") -> list[EGCFGConfig]:
    """Agents from key=value settings as a harness passes them (lm-eval's --model_args):
    `grid=` names a grid (`load_grid`) whose agents all take the other settings; list values are
    the axes of a grid (`expand_grid`, its order); otherwise one config. Errors are ValueErrors."""
    settings = dict(settings)
    grid_spec = settings.pop("grid", None)
    lists = {k: list(v) for k, v in settings.items() if isinstance(v, (list, tuple))}
    fixed = {k: v for k, v in settings.items() if k not in lists}
    if grid_spec is not None:
        if lists:
            raise ValueError(f"{source}: give either grid= or list values ({sorted(lists)}), not both")
        return [EGCFGConfig.from_dict({**c.to_dict(), **fixed}) for c in load_grid(grid_spec)]
    if not lists:
        return [EGCFGConfig.from_dict(fixed)]
    for key, values in lists.items():
        if not values:
            raise ValueError(f"{source}: {key} is an empty list; give at least one value")
    return expand_grid({"grid": lists, "fixed": fixed}, source=source)


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
