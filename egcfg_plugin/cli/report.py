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
import statistics
from pathlib import Path

from egcfg_plugin.cli.report_stats import (ALL, METRIC_LABELS, NEVER_SEEN, MethodStats, Pair, compute, configs,
                                           outcome, wilson)

log = logging.getLogger(__name__)

OUTCOMES = (("both", "solved by both", "#4c72b0"), ("egcfg_only", "EG-CFG only", "#55a868"),
            ("baseline_only", "baseline only", "#c44e52"), ("neither", "neither", "#8c8c8c"))
ORACLE_LABEL = "any-of-N, uses the scoring tests; comparable to the paper's tables, not a pass@1"


def load_run(out_dir: Path) -> tuple[dict, dict[str, dict[str, dict]]]:
    """(run.json, {method: {task_id: record}}); each record gains `_where` (file#Lline)."""
    out_dir = Path(out_dir)
    meta_path = out_dir / "run.json"
    if not meta_path.exists():
        raise FileNotFoundError(f"{out_dir} holds no compare run (no run.json); run `egcfg compare --out {out_dir}` first")
    meta = json.loads(meta_path.read_text())
    by_method: dict[str, dict[str, dict]] = {}
    for where, rec in task_records(out_dir):
        rec["_where"] = where
        by_method.setdefault(rec["method"], {})[rec["task_id"]] = rec
    return meta, by_method


def task_records(out_dir: Path) -> list[tuple[str, dict]]:
    """('file#Lline', record) for every record of the run's tasks*.jsonl shards, read with
    agents.jsonl's policy (a cut last line skipped with a warning, any other bad line an error);
    a record without task_id or method is an error naming its line."""
    from egcfg_plugin.agents.jsonl import JSONLError, read_jsonl

    out = []
    for path in sorted(Path(out_dir).glob("tasks*.jsonl")):
        for row in read_jsonl(path):
            if "method" not in row.record or "task_id" not in row.record:
                raise JSONLError(f"{path}, line {row.line}: a record without task_id or method; "
                                 f"not written by egcfg compare")
            out.append((f"{path.name}#L{row.line}", row.record))
    return out


def _pct(k: int, n: int) -> str:
    return f"{100 * k / n:.1f}% ({k}/{n})" if n else "-"


def _ci(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{100 * lo:.1f}-{100 * hi:.1f}%" if n else "-"


def summary_markdown(meta: dict, stats: list[MethodStats], by_method: dict, tasks: list[str],
                     excluded: dict | None = None, pairs: list[Pair] | None = None, oracle: bool = False,
                     plot_link: bool = True) -> str:
    device = meta.get("device", "?")
    excluded = excluded or {}
    out = io.StringIO()
    out.write(f"# egcfg compare: {meta.get('task')} with {meta.get('model')}\n\n")
    out.write(f"{len(tasks)} tasks; command: `{meta.get('command', '?')}`\n\n")
    if excluded:
        out.write(f"- {len(excluded)} unscorable task(s) left out of every figure (output comparison cannot "
                  f"score them): " + ", ".join(f"`{t}` ({why})" for t, why in excluded.items()) + ".\n")
    tax = meta.get("taxonomy") or {}
    out.write(f"- Prompt: {meta.get('prompt', 'project')} wording ({meta.get('prompt_style', '?')} style). "
              f"Configs and prompt chosen on: {meta.get('chosen_on') or 'unknown (not recorded)'}.\n")
    if tax:
        out.write(f"- Scored tests: all of them (seen: {tax.get('seen') or 'none'}; never seen: "
                  f"{tax.get('never_seen') or 'none'}). \"Never-seen only\" counts the tasks that have never-seen "
                  f"tests, scored on those alone.\n")
    out.write("\n| method | pass@1, all scored tests | 95% CI | pass@1, never-seen tests only | 95% CI "
              "| passes visible tests | solved by this side only | median time / task (s) | tokens / task | hardware |"
              + (f" {ORACLE_LABEL} |" if oracle else "") + "\n|" + "---|" * (10 + oracle) + "\n")
    for s in stats:
        ns = _pct(s.never_seen_solved, s.never_seen_tasks) if s.never_seen_tasks else "n/a (no never-seen tests)"
        row = (f"| {s.label} | {_pct(s.solved, s.tasks)} | {_ci(s.solved, s.tasks)} | {ns} "
               f"| {_ci(s.never_seen_solved, s.never_seen_tasks)} | {_pct(s.visible, s.tasks)} | {s.only} "
               f"| {s.median_time_s:.1f} | {s.tokens:.0f} | {device} |")
        if oracle:
            row += f" {_pct(s.any_agent, s.tasks) if s.any_agent is not None else '-'} |"
        out.write(row + "\n")
    out.write("\n")
    if pairs:
        out.write("Paired comparisons: tasks solved by one side only, and the exact two-sided sign test on them.\n\n"
                  "| EG-CFG against | tests | tasks | EG-CFG only | other only | sign test p |\n|---|---|---|---|---|---|\n")
        for p in pairs:
            other = next((s.label for s in stats if s.method == p.other), p.other)
            out.write(f"| {other} | {METRIC_LABELS[p.metric]} | {p.tasks} | {p.egcfg_only} | {p.other_only} "
                      f"| {p.p_value:.3g} |\n")
        out.write("\n")
    if oracle and not any(s.any_agent is not None for s in stats):
        out.write(f"- {ORACLE_LABEL}: needs every agent run on every task (compare --all-agents).\n")
    ctrl = by_method.get("control", {})
    if ctrl and tasks:
        recs = [ctrl[t] for t in tasks]
        budget = meta.get("control_budget_tokens")
        out.write(f"- Control: {meta.get('control')}; programs drawn per task (greedy included when it goes first) {statistics.fmean(r['agents_run'] for r in recs):.2f} "
                  f"on average" + (f", token budget {budget} per task (the EG-CFG arm's mean)" if budget else "")
                  + "; same visible tests and selection rule as the agents.\n")
    eg = by_method.get("egcfg", {})
    if eg and tasks:
        recs = [eg[t] for t in tasks]
        rules = {}
        for r in recs:
            rules[r.get("rule")] = rules.get(r.get("rule"), 0) + 1
        winners = {}
        for r in recs:
            winners[r.get("config")] = winners.get(r.get("config"), 0) + 1
        out.write(f"- EG-CFG agents: {configs(meta, 'egcfg')} (tried in this order). Agents run per task: "
                  f"{statistics.fmean(r['agents_run'] for r in recs):.2f} on average; selection rule used: "
                  + ", ".join(f"{k} {v}" for k, v in sorted(rules.items(), key=lambda kv: str(kv[0]))) + "; answer came from: "
                  + ", ".join(f"{k} {v}" for k, v in winners.items()) + ".\n")
    out.write("- pass@1: the selected answer (first agent passing every visible test, else the most visible "
              "tests passed) scored once. Time: model + sandbox seconds of the agents run "
              "for the task, as generated (cache hits keep their original cost). Tokens: generated plus "
              "sampled candidate tokens.\n")
    out.write("- Per-task records: `tasks*.jsonl`; tasks solved by one side only: [flips.md](flips.md)"
              + ("; plot: [compare.png](compare.png).\n" if plot_link else ".\n"))
    return out.getvalue()


def summary_csv(stats: list[MethodStats], device: str, pairs: list[Pair] | None = None) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    pair_cols = [f"{k}_{m}" for m in (ALL, NEVER_SEEN) for k in ("egcfg_only", "other_only", "sign_test_p")]
    w.writerow(["method", "configs", "tasks", "solved_all_scored", "pass_at_1_all_scored", "ci95_low", "ci95_high",
                "never_seen_tasks", "solved_never_seen", "pass_at_1_never_seen", "never_seen_ci95_low",
                "never_seen_ci95_high", "pass_visible", "solved_only_by_this", "median_time_per_task_s",
                "tokens_per_task", "oracle_any_of_n", "hardware"] + [f"vs_egcfg_{c}" for c in pair_cols])
    by_other = {(p.other, p.metric): p for p in pairs or []}
    for s in stats:
        lo, hi = wilson(s.solved, s.tasks)
        nlo, nhi = wilson(s.never_seen_solved, s.never_seen_tasks)
        ns = f"{s.never_seen_solved / s.never_seen_tasks:.4f}" if s.never_seen_tasks else ""
        extra = []
        for m in (ALL, NEVER_SEEN):
            p = by_other.get((s.method, m))
            extra += [p.egcfg_only, p.other_only, f"{p.p_value:.4g}"] if p else ["", "", ""]
        w.writerow([s.method, s.configs, s.tasks, s.solved, f"{s.pass_at_1:.4f}", f"{lo:.4f}", f"{hi:.4f}",
                    s.never_seen_tasks, s.never_seen_solved, ns, f"{nlo:.4f}" if ns else "", f"{nhi:.4f}" if ns else "",
                    f"{s.visible / s.tasks if s.tasks else 0:.4f}", s.only, f"{s.median_time_s:.2f}", f"{s.tokens:.1f}",
                    "" if s.any_agent is None else s.any_agent, device] + extra)
    return buf.getvalue()


def flips_markdown(by_method: dict, tasks: list[str]) -> str:
    eg = by_method.get("egcfg", {})
    out = io.StringIO()
    out.write("# Tasks solved by one side only (all scored tests)\n\n")
    for other in ("baseline", "control"):
        if other not in by_method:
            continue
        base = by_method[other]
        name = "the baseline" if other == "baseline" else "the control"
        for title, want in ((f"Solved only by EG-CFG (against {name})", "egcfg"), (f"Solved only by {name}", other)):
            rows = [t for t in tasks if eg[t]["solved"] != base[t]["solved"] and (eg[t]["solved"] == (want == "egcfg"))]
            out.write(f"## {title} ({len(rows)})\n\n")
            for t in rows:
                e, b = eg[t], base[t]
                out.write(f"- `{t}`: EG-CFG {_outcome(e)} with `{e.get('config')}` (agent {e.get('agent')}), "
                          f"[log]({e.get('log')}), [record]({e['_where']}); {other} {_outcome(b)}, "
                          f"[log]({b.get('log')}), [record]({b['_where']})\n")
            if not rows:
                out.write("(none)\n")
            out.write("\n")
    return out.getvalue()


def _outcome(rec: dict) -> str:
    text = f"{rec['hidden_passed']}/{rec['hidden_total']} scored tests"
    ns = outcome(rec, NEVER_SEEN)
    if ns is not None:
        text += f", never-seen {'passed' if ns else 'failed'}"
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
        colors.append({"baseline": "#8c8c8c", "control": "#dd8452"}.get(s.method, "#55a868"))
    bars = ax1.bar(names, vals, yerr=errs, capsize=8, color=colors)
    for bar, s in zip(bars, stats):
        top = 100 * wilson(s.solved, s.tasks)[1]
        ax1.text(bar.get_x() + bar.get_width() / 2, top + 2, f"{100 * s.pass_at_1:.1f}% ({s.solved}/{s.tasks})",
                 ha="center", va="bottom", fontweight="bold")
    ax1.set_ylim(0, 112)
    ax1.set_ylabel("pass@1 on all scored tests (%)")
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


def render(out_dir, *, png: bool = True, oracle: bool = False) -> str:
    """Write summary.md, summary.csv, flips.md (and compare.png) under `out_dir`; return summary.md.
    oracle: add the any-of-N column (off by default; it uses the scoring tests)."""
    out_dir = Path(out_dir)
    meta, by_method = load_run(out_dir)
    stats, tasks, excluded, pairs = compute(meta, by_method)
    if not tasks:
        raise ValueError(f"{out_dir} has no task with a record for every method yet; nothing to report")
    drawn = False
    if png:
        try:
            plot(out_dir / "compare.png", stats, by_method, tasks,
                 f"{meta.get('task')} · {meta.get('model')} · {len(tasks)} tasks · {meta.get('device', '')}")
            drawn = True
        except ImportError:
            log.warning("matplotlib is not installed, so compare.png was not drawn: pip install 'egcfg[plot]'")
    md = summary_markdown(meta, stats, by_method, tasks, excluded, pairs, oracle=oracle, plot_link=drawn)
    (out_dir / "summary.md").write_text(md)
    (out_dir / "summary.csv").write_text(summary_csv(stats, meta.get("device", "?"), pairs))
    if "baseline" in by_method and "egcfg" in by_method:
        (out_dir / "flips.md").write_text(flips_markdown(by_method, tasks))
    return md
