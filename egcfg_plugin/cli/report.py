"""Render an `egcfg compare` run from its records: summary.md, summary.csv, compare.png, flips.md.

    egcfg report runs/compare/mbpp-quick        # or: render(Path(...))

Reads `run.json` and every `tasks*.jsonl` in the folder (one record per task and method) and
never reruns anything. Only tasks with a record for every method count, so a run cut short
compares like with like.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

METHOD_ORDER = ("baseline", "egcfg")
OUTCOMES = (("both", "solved by both", "#4c72b0"), ("egcfg_only", "EG-CFG only", "#55a868"),
            ("baseline_only", "baseline only", "#c44e52"), ("neither", "neither", "#8c8c8c"))


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for k successes in n trials."""
    if n == 0:
        return 0.0, 0.0
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


@dataclass
class MethodStats:
    method: str
    label: str
    configs: str
    tasks: int
    solved: int
    visible: int
    only: int
    median_time_s: float
    tokens: float
    any_agent: int | None       # the upper bound; None when not every agent ran

    @property
    def pass_at_1(self) -> float:
        return self.solved / self.tasks if self.tasks else 0.0


def load_run(out_dir: Path) -> tuple[dict, dict[str, dict[str, dict]]]:
    """(run.json, {method: {task_id: record}}); each record gains `_where` (file#Lline)."""
    out_dir = Path(out_dir)
    meta_path = out_dir / "run.json"
    if not meta_path.exists():
        raise FileNotFoundError(f"{out_dir} holds no compare run (no run.json); run `egcfg compare --out {out_dir}` first")
    meta = json.loads(meta_path.read_text())
    by_method: dict[str, dict[str, dict]] = {}
    for path in sorted(out_dir.glob("tasks*.jsonl")):
        with open(path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if not isinstance(rec, dict) or "method" not in rec or "task_id" not in rec:
                    continue
                rec["_where"] = f"{path.name}#L{n}"
                by_method.setdefault(rec["method"], {})[rec["task_id"]] = rec
    return meta, by_method


def paired_tasks(by_method: dict) -> list[str]:
    """Task ids with a record for every method, in run order."""
    methods = [m for m in METHOD_ORDER if m in by_method] or list(by_method)
    if not methods:
        return []
    common = set.intersection(*(set(by_method[m]) for m in methods))
    first = by_method[methods[0]]
    return sorted(common, key=lambda t: (first[t].get("index", 0), str(t)))


def compute(meta: dict, by_method: dict) -> tuple[list[MethodStats], list[str]]:
    tasks = paired_tasks(by_method)
    methods = [m for m in METHOD_ORDER if m in by_method]
    stats = []
    for m in methods:
        recs = [by_method[m][t] for t in tasks]
        others = [o for o in methods if o != m]
        only = sum(1 for t in tasks if by_method[m][t]["solved"] and not any(by_method[o][t]["solved"] for o in others))
        any_agent = None
        if m == "egcfg" and meta.get("all_agents") and recs and all(r.get("any_agent_solved") is not None for r in recs):
            any_agent = sum(bool(r["any_agent_solved"]) for r in recs)
        stats.append(MethodStats(
            method=m, label=_label(meta, m), configs=_configs(meta, m), tasks=len(recs),
            solved=sum(bool(r["solved"]) for r in recs), visible=sum(bool(r["visible_pass"]) for r in recs),
            only=only, median_time_s=statistics.median([r["time_s"] for r in recs]) if recs else 0.0,
            tokens=statistics.fmean([r["tokens"] for r in recs]) if recs else 0.0, any_agent=any_agent))
    return stats, tasks


def _label(meta: dict, method: str) -> str:
    if method == "baseline":
        b = meta.get("baseline", "baseline")
        return "baseline (greedy)" if b == "baseline" else f"baseline ({b})"
    n = len(meta.get("egcfg", []))
    agents = f"{n} agent{'s' if n != 1 else ''}"
    name = meta.get("egcfg_name", "")
    if n == 1:
        return f"EG-CFG ({meta['egcfg'][0]})"
    return f"EG-CFG ({name}, {agents})" if name and not name.startswith("custom") else f"EG-CFG ({agents})"


def _configs(meta: dict, method: str) -> str:
    return meta.get("baseline", "baseline") if method == "baseline" else " > ".join(meta.get("egcfg", []))


def _pct(k: int, n: int) -> str:
    return f"{100 * k / n:.1f}% ({k}/{n})" if n else "-"


def summary_markdown(meta: dict, stats: list[MethodStats], by_method: dict, tasks: list[str]) -> str:
    device = meta.get("device", "?")
    out = io.StringIO()
    out.write(f"# egcfg compare: {meta.get('task')} with {meta.get('model')}\n\n")
    out.write(f"{len(tasks)} tasks; command: `{meta.get('command', '?')}`\n\n")
    out.write("| method | pass@1 (hidden tests) | 95% CI | passes visible tests | solved by this side only "
              "| median time / task (s) | tokens / task | hardware |\n|---|---|---|---|---|---|---|---|\n")
    for s in stats:
        lo, hi = wilson(s.solved, s.tasks)
        out.write(f"| {s.label} | {_pct(s.solved, s.tasks)} | {100 * lo:.1f}-{100 * hi:.1f}% | {_pct(s.visible, s.tasks)} "
                  f"| {s.only} | {s.median_time_s:.1f} | {s.tokens:.0f} | {device} |\n")
    out.write("\n")
    for s in stats:
        if s.any_agent is not None:
            out.write(f"- Upper bound, not a pass@1: some EG-CFG agent's solution passes the hidden tests on "
                      f"{_pct(s.any_agent, s.tasks)} of tasks (every agent was run: --all-agents).\n")
    eg = by_method.get("egcfg", {})
    if eg and tasks:
        recs = [eg[t] for t in tasks]
        rules = {}
        for r in recs:
            rules[r.get("rule")] = rules.get(r.get("rule"), 0) + 1
        winners = {}
        for r in recs:
            winners[r.get("config")] = winners.get(r.get("config"), 0) + 1
        out.write(f"- EG-CFG agents: {_configs(meta, 'egcfg')} (tried in this order). Agents run per task: "
                  f"{statistics.fmean(r['agents_run'] for r in recs):.2f} on average; selection rule used: "
                  + ", ".join(f"{k} {v}" for k, v in sorted(rules.items(), key=lambda kv: str(kv[0]))) + "; answer came from: "
                  + ", ".join(f"{k} {v}" for k, v in winners.items()) + ".\n")
    out.write("- pass@1: the selected answer (first agent passing every visible test, else the most visible "
              "tests passed) scored on the hidden tests only. Time: model + sandbox seconds of the agents run "
              "for the task, as generated (cache hits keep their original cost). Tokens: generated plus "
              "sampled candidate tokens.\n")
    out.write("- Per-task records: `tasks*.jsonl`; tasks solved by one side only: [flips.md](flips.md); "
              "plot: [compare.png](compare.png).\n")
    return out.getvalue()


def summary_csv(stats: list[MethodStats], device: str) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["method", "configs", "tasks", "solved_hidden", "pass_at_1", "ci95_low", "ci95_high", "pass_visible",
                "solved_only_by_this", "median_time_per_task_s", "tokens_per_task", "any_agent_upper_bound", "hardware"])
    for s in stats:
        lo, hi = wilson(s.solved, s.tasks)
        w.writerow([s.method, s.configs, s.tasks, s.solved, f"{s.pass_at_1:.4f}", f"{lo:.4f}", f"{hi:.4f}",
                    f"{s.visible / s.tasks if s.tasks else 0:.4f}", s.only, f"{s.median_time_s:.2f}", f"{s.tokens:.1f}",
                    "" if s.any_agent is None else s.any_agent, device])
    return buf.getvalue()


def flips_markdown(by_method: dict, tasks: list[str]) -> str:
    base, eg = by_method.get("baseline", {}), by_method.get("egcfg", {})
    out = io.StringIO()
    out.write("# Tasks solved by one side only\n\n")
    for title, want in (("Solved only by EG-CFG", "egcfg"), ("Solved only by the baseline", "baseline")):
        rows = [t for t in tasks if eg[t]["solved"] != base[t]["solved"] and (eg[t]["solved"] == (want == "egcfg"))]
        out.write(f"## {title} ({len(rows)})\n\n")
        for t in rows:
            e, b = eg[t], base[t]
            out.write(f"- `{t}`: EG-CFG {_outcome(e)} with `{e.get('config')}` (agent {e.get('agent')}), "
                      f"[log]({e.get('log')}), [record]({e['_where']}); baseline {_outcome(b)}, "
                      f"[log]({b.get('log')}), [record]({b['_where']})\n")
        if not rows:
            out.write("(none)\n")
        out.write("\n")
    return out.getvalue()


def _outcome(rec: dict) -> str:
    text = f"{rec['hidden_passed']}/{rec['hidden_total']} hidden"
    if not rec["solved"] and rec.get("first_failure"):
        text += f" (first failure: {rec['first_failure'][:80].splitlines()[0] if rec['first_failure'] else ''})"
    return text


def plot(path: Path, stats: list[MethodStats], by_method: dict, tasks: list[str], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [1, 1.2]})
    names, vals, errs, colors = [], [], [[], []], []
    for s in stats:
        lo, hi = wilson(s.solved, s.tasks)
        names.append(s.label.replace(" (", "\n("))
        vals.append(100 * s.pass_at_1)
        errs[0].append(100 * (s.pass_at_1 - lo))
        errs[1].append(100 * (hi - s.pass_at_1))
        colors.append("#8c8c8c" if s.method == "baseline" else "#55a868")
    bars = ax1.bar(names, vals, yerr=errs, capsize=8, color=colors)
    for bar, s in zip(bars, stats):
        top = 100 * wilson(s.solved, s.tasks)[1]
        ax1.text(bar.get_x() + bar.get_width() / 2, top + 2, f"{100 * s.pass_at_1:.1f}% ({s.solved}/{s.tasks})",
                 ha="center", va="bottom", fontweight="bold")
    ax1.set_ylim(0, 112)
    ax1.set_ylabel("pass@1 on hidden tests (%)")
    ax1.set_title("pass@1 with 95% Wilson interval")
    base, eg = by_method.get("baseline", {}), by_method.get("egcfg", {})
    if base and eg and tasks:
        for key, label, color in OUTCOMES:
            pts = [(base[t]["time_s"], eg[t]["time_s"]) for t in tasks if _outcome_key(base[t], eg[t]) == key]
            if pts:
                ax2.scatter([max(p[0], 0.01) for p in pts], [max(p[1], 0.01) for p in pts], c=color,
                            label=f"{label} ({len(pts)})", alpha=0.8, edgecolors="black", linewidths=0.4)
        all_t = [max(base[t]["time_s"], 0.01) for t in tasks] + [max(eg[t]["time_s"], 0.01) for t in tasks]
        if max(all_t) / min(all_t) > 30:      # a wide spread reads better on log axes
            lo, hi = min(all_t) / 1.5, max(all_t) * 1.5
            ax2.set_xscale("log")
            ax2.set_yscale("log")
            from matplotlib.ticker import FuncFormatter

            for axis in (ax2.xaxis, ax2.yaxis):
                axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        else:
            lo, hi = 0.0, max(all_t) * 1.1
        ax2.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="same time")
        ax2.set_xlim(lo, hi)
        ax2.set_ylim(lo, hi)
        ax2.legend(fontsize=8, loc="lower right")
    ax2.set_xlabel("baseline time per task (s)")
    ax2.set_ylabel("EG-CFG time per task (s)")
    ax2.set_title("time per task (each point is a task)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _outcome_key(b: dict, e: dict) -> str:
    if b["solved"] and e["solved"]:
        return "both"
    if e["solved"]:
        return "egcfg_only"
    return "baseline_only" if b["solved"] else "neither"


def render(out_dir, *, png: bool = True) -> str:
    """Write summary.md, summary.csv, flips.md (and compare.png) under `out_dir`; return summary.md."""
    out_dir = Path(out_dir)
    meta, by_method = load_run(out_dir)
    stats, tasks = compute(meta, by_method)
    if not tasks:
        raise ValueError(f"{out_dir} has no task with a record for every method yet; nothing to report")
    md = summary_markdown(meta, stats, by_method, tasks)
    (out_dir / "summary.md").write_text(md)
    (out_dir / "summary.csv").write_text(summary_csv(stats, meta.get("device", "?")))
    if "baseline" in by_method and "egcfg" in by_method:
        (out_dir / "flips.md").write_text(flips_markdown(by_method, tasks))
    if png:
        try:
            plot(out_dir / "compare.png", stats, by_method, tasks,
                 f"{meta.get('task')} · {meta.get('model')} · {len(tasks)} tasks · {meta.get('device', '')}")
        except ImportError:
            log.warning("matplotlib is not installed, so compare.png was not drawn: pip install 'egcfg[plot]'")
    return md
