"""The figures behind `egcfg report`: per-method pass@1 on all scored tests and on never-seen tests
only (task_adapters.base's test taxonomy), Wilson intervals, and paired sign tests.

Only tasks with a record for every method count, so a run cut short compares like with like.
Tasks the adapter marks unscorable (CodeContests special judges, DS-1000 rows needing a missing
module) are left out of every figure and counted.
"""
from __future__ import annotations

import logging
import math
import statistics
from dataclasses import dataclass

log = logging.getLogger(__name__)

METHOD_ORDER = ("baseline", "egcfg", "control")
ALL, NEVER_SEEN = "all", "never_seen"
METRIC_LABELS = {ALL: "all scored tests", NEVER_SEEN: "never-seen tests only"}


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for k successes in n trials."""
    if n == 0:
        return 0.0, 0.0
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


def sign_test(wins: int, losses: int) -> float:
    """Exact two-sided sign test (binomial, p=1/2) on the discordant pairs: the chance of a split
    at least this uneven if either side were equally likely to win each. 1.0 with no discordant pair."""
    if wins < 0 or losses < 0:
        raise ValueError(f"sign_test needs counts >= 0, got {wins}, {losses}")
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def outcome(rec: dict, metric: str) -> bool | None:
    """Solved on all scored tests, or on the never-seen ones (None: the task has none, or the
    record predates the taxonomy)."""
    if metric == ALL:
        return bool(rec["solved"])
    v = rec.get("solved_never_seen")
    return None if v is None else bool(v)


@dataclass
class MethodStats:
    method: str
    label: str
    configs: str
    tasks: int
    solved: int
    never_seen_tasks: int       # tasks that have never-seen tests
    never_seen_solved: int
    visible: int
    only: int
    median_time_s: float
    tokens: float
    any_agent: int | None       # the oracle (any agent passes the scoring tests); None when not every agent ran

    @property
    def pass_at_1(self) -> float:
        return self.solved / self.tasks if self.tasks else 0.0


@dataclass
class Pair:
    """EG-CFG against another method on one metric, over the tasks both can be scored on."""

    other: str
    metric: str
    tasks: int
    egcfg_only: int
    other_only: int

    @property
    def p_value(self) -> float:
        return sign_test(self.egcfg_only, self.other_only)


def paired_tasks(by_method: dict) -> list[str]:
    """Task ids with a record for every method, in run order."""
    methods = [m for m in METHOD_ORDER if m in by_method] or list(by_method)
    if not methods:
        return []
    common = set.intersection(*(set(by_method[m]) for m in methods))
    first = by_method[methods[0]]
    return sorted(common, key=lambda t: (first[t].get("index", 0), str(t)))


def unscorable_reason(meta: dict, rec: dict) -> str | None:
    """Why a task cannot be scored: the record's own note, or for records written before the note
    existed, the adapter's (looked up lazily; None when the adapter has no such notion)."""
    if "unscorable" in rec:
        return rec["unscorable"]
    name = meta.get("adapter") or meta.get("task")
    if not name or not any(k in name for k in ("codecontests", "ds1000")):
        return None
    try:
        from task_adapters.registry import get_adapter

        adapter = get_adapter(name)
        row = adapter.find({"task_id": rec["task_id"], "name": rec["task_id"]})
        return adapter.unscorable(row)
    except Exception as e:   # data missing here: keep the task, say so
        log.warning("cannot tell whether %s is scorable (%s); counting it", rec.get("task_id"), e)
        return None


def split_unscorable(meta: dict, by_method: dict, tasks: list[str]) -> tuple[list[str], dict[str, str]]:
    """(tasks kept, {task: reason} left out as unscorable)."""
    methods = [m for m in METHOD_ORDER if m in by_method]
    excluded = {}
    for t in tasks:
        for m in methods:
            why = unscorable_reason(meta, by_method[m][t])
            if why:
                excluded[t] = why
                break
    return [t for t in tasks if t not in excluded], excluded


def compute(meta: dict, by_method: dict) -> tuple[list[MethodStats], list[str], dict[str, str], list[Pair]]:
    """(per-method stats, tasks counted, unscorable tasks left out, EG-CFG's paired comparisons)."""
    tasks, excluded = split_unscorable(meta, by_method, paired_tasks(by_method))
    methods = [m for m in METHOD_ORDER if m in by_method]
    stats = []
    for m in methods:
        recs = [by_method[m][t] for t in tasks]
        others = [o for o in methods if o != m]
        only = sum(1 for t in tasks if by_method[m][t]["solved"] and not any(by_method[o][t]["solved"] for o in others))
        ns = [outcome(r, NEVER_SEEN) for r in recs]
        any_agent = None
        if m == "egcfg" and meta.get("all_agents") and recs and all(r.get("any_agent_solved") is not None for r in recs):
            any_agent = sum(bool(r["any_agent_solved"]) for r in recs)
        stats.append(MethodStats(
            method=m, label=label(meta, m), configs=configs(meta, m), tasks=len(recs),
            solved=sum(bool(r["solved"]) for r in recs),
            never_seen_tasks=sum(v is not None for v in ns), never_seen_solved=sum(bool(v) for v in ns),
            visible=sum(bool(r["visible_pass"]) for r in recs), only=only,
            median_time_s=statistics.median([r["time_s"] for r in recs]) if recs else 0.0,
            tokens=statistics.fmean([r["tokens"] for r in recs]) if recs else 0.0, any_agent=any_agent))
    pairs = []
    if "egcfg" in by_method:
        for other in (m for m in methods if m != "egcfg"):
            for metric in (ALL, NEVER_SEEN):
                both = [(outcome(by_method["egcfg"][t], metric), outcome(by_method[other][t], metric)) for t in tasks]
                both = [(e, o) for e, o in both if e is not None and o is not None]
                pairs.append(Pair(other=other, metric=metric, tasks=len(both),
                                  egcfg_only=sum(1 for e, o in both if e and not o),
                                  other_only=sum(1 for e, o in both if o and not e)))
    return stats, tasks, excluded, pairs


def label(meta: dict, method: str) -> str:
    if method == "baseline":
        b = meta.get("baseline", "baseline")
        return "baseline (greedy)" if b == "baseline" else f"baseline ({b})"
    if method == "control":
        return f"control ({meta.get('control') or 'sample-filter'})"
    n = len(meta.get("egcfg", []))
    agents = f"{n} agent{'s' if n != 1 else ''}"
    name = meta.get("egcfg_name", "")
    if n == 1:
        return f"EG-CFG ({meta['egcfg'][0]})"
    return f"EG-CFG ({name}, {agents})" if name and not name.startswith("custom") else f"EG-CFG ({agents})"


def configs(meta: dict, method: str) -> str:
    if method == "baseline":
        return meta.get("baseline", "baseline")
    if method == "control":
        return meta.get("control") or ""
    return " > ".join(meta.get("egcfg", []))
