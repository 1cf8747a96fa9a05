"""`egcfg compare`: the baseline and EG-CFG side by side on one benchmark, and `egcfg report`.

    egcfg compare --task mbpp --model default --egcfg quick --limit 10
    egcfg report runs/compare/mbpp-quick-default

Every input is checked before the model loads. Per task: the baseline runs, then the EG-CFG
agents (see egcfg_plugin.agents for the selection rule); both answers are scored on the hidden
tests and appended to tasks.jsonl, so an interrupted run resumes where it stopped. Generations
are cached (egcfg_plugin.agents.cache), so a rerun regenerates nothing.

Several GPUs: `accelerate launch -m egcfg_plugin.cli compare ...` splits the tasks between the
processes (one model copy per GPU); each writes tasks.rank<N>.jsonl and the main one renders.
"""
from __future__ import annotations

import argparse
import json
import logging
import shlex
import shutil
import sys
from pathlib import Path

from egcfg_plugin.cli.run_info import grid_name

log = logging.getLogger(__name__)

OUR_FILES = ("run.json", "summary.md", "summary.csv", "compare.png", "flips.md")
CONTROLS = ("sample-filter", "greedy+sample-filter")


CONFIG_FORMAT = """\
config format (--egcfg, --baseline):
  s3t0.7d2k1g1.0     s candidates per refresh, t their temperature, d horizon in lines,
                     k refresh every k lines, g gamma (guidance strength); p0.9 adds top_p
  baseline           gamma=0: plain greedy decoding on the same code path
  ...+key=value      any other setting, e.g. s3t0.7d2k1g1.0+seed=1+prompt_style=brief
  a,b,c              several configs: the agents, tried in order (see egcfg_plugin.agents)
  quick, paper_grid  a shipped grid; or a grid YAML file (configs/*.yaml)"""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown after each option (unless its help already says it, or it is off/unset); the
    description and epilog kept as written."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "(default" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="egcfg compare", description=__doc__.split("\n\n")[0],
                                formatter_class=HelpFormatter, epilog=CONFIG_FORMAT)
    p.add_argument("--task", required=True, help="benchmark: mbpp, humaneval, mbpp_plus, humaneval_plus, ...")
    p.add_argument("--model", default="default", help="'default', a pinned model name, a local folder or a hub name")
    p.add_argument("--baseline", default="greedy",
                   help="'greedy' (gamma=0 on the same code path) or a compact config; 'sample-filter' and "
                        "'greedy+sample-filter' keep the greedy baseline and add that --control")
    p.add_argument("--control", default=None, choices=CONTROLS,
                   help="a matched-compute control arm: n samples at --control-t/--control-top-p, run on the "
                        "visible tests, picked by the agents' selection rule (greedy+sample-filter: greedy first)")
    p.add_argument("--control-n", default="auto",
                   help="samples per task, or 'auto': sample until the EG-CFG arm's mean tokens per task are spent")
    p.add_argument("--control-t", type=float, default=0.8, help="the control's sampling temperature")
    p.add_argument("--control-top-p", type=float, default=0.95, help="the control's nucleus (top_p)")
    p.add_argument("--egcfg", default="quick",
                   help="agents: a shipped grid (quick, paper_grid), a grid YAML file, or compact configs joined by commas")
    p.add_argument("--limit", type=int, default=None, help="run the first N tasks of the benchmark's test split")
    p.add_argument("--ids", default=None, metavar="IDS",
                   help="run only these tasks, in the benchmark's order: ids joined by commas as the benchmark "
                        "writes them or by number (DS1000/0 or 0, Mbpp/2 or 2), or @FILE with one id per line")
    p.add_argument("--split", default=None,
                   help="another split of a benchmark that has several (MBPP: validation, prompt, train, all); "
                        "tune on validation, report on test")
    p.add_argument("--baseline-from", default=None, metavar="DIR",
                   help="take the baseline's records from an earlier compare run of the same task, model, "
                        "baseline and prompt style (rescored on the hidden tests) instead of regenerating them")
    p.add_argument("--out", default=None, help="output folder (default runs/compare/<task>-<grid>-<model>)")
    p.add_argument("--force", action="store_true", help="replace a run of another config found in --out")
    p.add_argument("--workers", type=int, default=1,
                   help="agent worker processes, each with its own model copy (1: agents run in this process)")
    p.add_argument("--all-agents", action="store_true",
                   help="run every agent on every task (slower) to report the 'any agent solves it' upper bound")
    p.add_argument("--prompt-style", default=None,
                   help="the adapter's prompt style, chat or base (default: the task's, chat for the egcfg_* tasks)")
    p.add_argument("--prompt", default="standard", choices=("standard", "project"),
                   help="prompt wording: 'standard' (the literature's: the MBPP paper's prompt, EvalPlus's instruct "
                        "flow) or 'project' (this project's older wording); see task_adapters.prompts")
    p.add_argument("--chosen-on", default=None, metavar="SPLIT",
                   help="where the EG-CFG configs and prompt were chosen (e.g. 'mbpp validation 511-600'); "
                        "recorded in run.json and shown in the summary; 'unknown' when not given")
    p.add_argument("--cache", default=None, help="generation cache folder (default ~/.cache/egcfg/generations)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the generation cache")
    p.add_argument("--device", default=None, help="torch device for the model (default: cpu, or the accelerate device)")
    p.add_argument("--no-plot", action="store_true", help="skip compare.png")
    p.add_argument("--oracle", action="store_true",
                   help="add the any-of-N column to the summary (with --all-agents); not a pass@1")
    return p


def baseline_config(text: str):
    from egcfg_plugin.core.config import EGCFGConfig

    if text.strip().lower() in ("greedy", "baseline"):
        return EGCFGConfig(gamma=0.0)
    return EGCFGConfig.parse(text)


def prepare(args) -> dict:
    """Check every input (grid, task, data rows) and the out dir; return the run's identity, its
    adapter and rows. Loads no model."""
    from egcfg_plugin.agents.grid import load_grid

    if args.limit is not None and args.limit < 1:
        raise SystemExit(f"egcfg compare: --limit {args.limit} selects no task; give a positive number or leave it out")
    if args.workers < 1:
        raise SystemExit(f"egcfg compare: --workers {args.workers}: need at least 1")
    from egcfg_plugin.cli.checks import check_device, check_model

    check_device(args.device, "egcfg compare")
    check_model(args.model, "egcfg compare")
    if args.baseline in CONTROLS:   # the greedy baseline stays: the summary compares EG-CFG with both
        if args.control not in (None, args.baseline):
            raise SystemExit(f"egcfg compare: --baseline {args.baseline} and --control {args.control} disagree")
        args.control, args.baseline = args.baseline, "greedy"
    try:
        grid = load_grid(args.egcfg)
        base = baseline_config(args.baseline)
        control = control_config(args, grid)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f"egcfg compare: {e}") from None
    if control is not None and args.workers > 1:
        raise SystemExit("egcfg compare: --control runs in this process; use --workers 1 with it")
    from task_adapters import registry
    from task_adapters.common import Adapter

    try:
        adapter_name = resolve_task(args.task)
        adapter = registry.get_adapter(adapter_name, **({"split": args.split} if args.split else {}))
    except (KeyError, ValueError) as e:
        raise SystemExit(f"egcfg compare: {e.args[0] if e.args else e}") from None
    try:   # a missing data file or a malformed row is reported here, before any model loads
        rows = adapter.load(None if args.ids else args.limit)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f"egcfg compare: {e}") from None
    if args.ids:
        rows = select_ids(adapter, rows, args.ids)[:args.limit]
    if hasattr(adapter, "prepare"):   # e.g. DS-1000's reference checks, one batch instead of one per row
        adapter.prepare(rows)
    if args.split and getattr(type(adapter), "select", Adapter.select) is Adapter.select:
        raise SystemExit(f"egcfg compare: task {args.task!r} has no splits; leave out --split {args.split}")
    if not rows:
        raise SystemExit(f"egcfg compare: task {args.task!r} loaded no rows; check EGCFG_DATA_DIR")
    style = args.prompt_style or getattr(adapter, "default_style", None) or "chat"
    model_label = Path(args.model).name or args.model
    out = Path(args.out or f"runs/compare/{args.task}-{grid_name(args.egcfg)}-{model_label}")
    identity = {"task": args.task, "adapter": adapter_name, "model": args.model, "baseline": base.compact,
                "egcfg": [c.compact for c in grid], "prompt_style": style, "prompt": args.prompt,
                "all_agents": args.all_agents, "split": args.split, "control": control.name if control else None}
    meta_path = out / "run.json"
    replace = False
    if meta_path.exists():
        old = json.loads(meta_path.read_text())
        diff = ", ".join(differences(old, identity, identity))
        if diff:
            if not args.force:
                raise SystemExit(f"egcfg compare: {out} holds a run with another config ({diff}). "
                                 f"Use another --out, or --force to replace that run.")
            log.warning("--force: replacing the run in %s (%s)", out, diff)
            replace = True
    elif any(out.glob("tasks*.jsonl")):
        if not args.force:
            raise SystemExit(f"egcfg compare: {out} holds task records but no run.json; use another --out or --force")
        replace = True
    source = check_baseline_source(args.baseline_from, identity, out) if args.baseline_from else None
    if replace:
        clear_run(out)
    return {"out": out, "grid": grid, "base": base, "identity": identity, "adapter": adapter, "rows": rows,
            "baseline_from": source, "control": control}


def select_ids(adapter, rows: list, text: str) -> list:
    """The rows whose ids `text` names (see --ids), in the benchmark's order; an id that is not in
    the data is an error that names it."""
    if text.startswith("@"):
        try:
            text = ",".join(Path(text[1:]).read_text().split())
        except OSError as e:
            raise SystemExit(f"egcfg compare: --ids {text}: {e.strerror or e}") from None
    wanted = [x.strip() for x in text.split(",") if x.strip()]
    if not wanted:
        raise SystemExit(f"egcfg compare: --ids {text!r} names no task")
    try:
        keys = {adapter.normalize_id(x): x for x in wanted}
    except (ValueError, TypeError) as e:
        raise SystemExit(f"egcfg compare: --ids: {e}") from None
    picked = [r for r in rows if adapter.task_id(r) in keys]
    found = {adapter.task_id(r) for r in picked}
    missing = [x for k, x in keys.items() if k not in found]
    if missing:
        raise SystemExit(f"egcfg compare: --ids: no task {', '.join(missing)} in the data "
                         f"(ids look like {adapter.task_id(rows[0]) if rows else '?'})")
    return picked


def control_config(args, grid=()):
    """The --control settings as a SampleFilter, or None. Each sample may write as many tokens as
    the EG-CFG grid's largest `max_new_tokens`, so a `+max_new_tokens=` on the grid caps both arms."""
    if not getattr(args, "control", None):
        return None
    from egcfg_plugin.agents.sample_filter import SampleFilter, parse_n

    cap = {"max_new_tokens": max(c.max_new_tokens for c in grid)} if grid else {}
    return SampleFilter(n=parse_n(args.control_n), t=args.control_t, top_p=args.control_top_p,
                        greedy_first=args.control == "greedy+sample-filter", **cap)


def check_baseline_source(path: str, identity: dict, out: Path) -> dict:
    """The run.json of the run that `--baseline-from` names, after checking it ran the same
    baseline (task, model, baseline config, prompt style, split)."""
    src = Path(path)
    meta_path = src / "run.json"
    if not meta_path.exists():
        raise SystemExit(f"egcfg compare: --baseline-from {path}: no run.json there (not an egcfg compare run)")
    if src.resolve() == out.resolve():
        raise SystemExit("egcfg compare: --baseline-from names the --out folder itself")
    meta = json.loads(meta_path.read_text())
    diff = differences(meta, identity, ("task", "adapter", "model", "baseline", "prompt_style", "prompt", "split"))
    if diff:
        raise SystemExit(f"egcfg compare: --baseline-from {path} ran another baseline ({', '.join(diff)})")
    return {"dir": str(src), "model_id": meta.get("model_id")}


OLD_DEFAULTS = {"prompt": "project"}   # run.json written before a key existed: what those runs used


def differences(there: dict, now: dict, keys) -> list[str]:
    """'key: X there, Y now' for each of `keys` where an earlier run's run.json differs from this run."""
    out = []
    for k in keys:
        old = there.get(k, OLD_DEFAULTS.get(k))
        if old != now[k]:
            out.append(f"{k}: {old!r} there, {now[k]!r} now")
    return out


def resolve_task(task: str) -> str:
    """The adapter name for `--task`: our `egcfg_<task>` variant when there is one (so `mbpp` gets
    the same prompts as `lm_eval --tasks egcfg_mbpp`), else the name itself."""
    from task_adapters import registry

    tasks = getattr(registry, "TASKS", {})
    if not task.startswith("egcfg_") and f"egcfg_{task}" in tasks:
        return f"egcfg_{task}"
    return task


def clear_run(out: Path) -> None:
    for name in OUR_FILES:
        (out / name).unlink(missing_ok=True)
    for p in out.glob("tasks*.jsonl"):
        p.unlink()
    shutil.rmtree(out / "logs", ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    prep = prepare(args)
    from egcfg_plugin.agents.jsonl import JSONLError
    from egcfg_plugin.cli.compare_run import run_compare

    try:   # the run's own tasks*.jsonl is read before any model loads
        run_compare(args, prep, command="egcfg compare " + " ".join(shlex.quote(a) for a in (argv or sys.argv[2:])))
    except JSONLError as e:
        raise SystemExit(f"egcfg compare: {e}") from None
    return 0


def report_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="egcfg report", description="Re-render a compare run's summary from its JSONL.")
    p.add_argument("dir", help="the --out folder of an `egcfg compare` run")
    p.add_argument("--no-plot", action="store_true", help="skip compare.png")
    p.add_argument("--oracle", action="store_true",
                   help="add the any-of-N column (needs a run with --all-agents): it uses the scoring tests, so it "
                        "is comparable to the paper's tables but is not a pass@1")
    args = p.parse_args(argv)
    from egcfg_plugin.cli.report import render

    try:
        md = render(Path(args.dir), png=not args.no_plot, oracle=args.oracle)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f"egcfg report: {e}") from None
    sys.stdout.write(md)
    return 0
