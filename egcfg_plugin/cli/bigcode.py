"""`egcfg bigcode`: generations for bigcode-evaluation-harness, and a checked call of its scorer.

    egcfg bigcode generate --tasks humaneval,mbpp --model default --config s3t0.7d2k1g1.0 --out gens.json
    egcfg bigcode evaluate --tasks mbpp --generations gens_mbpp.json

generate writes, per task, `<out stem>_<task>.json` (bigcode's own naming for saved generations):
a JSON list, in bigcode's dataset order, of one-item lists holding bigcode's postprocessed program,
which is what `bigcode_eval.main --load_generations_path` reads (it does not postprocess what it
loads). Prompts are bigcode's Task.get_prompt(doc), read in the bigcode venv; the visible tests are
our adapters'; each task is solved by egcfg's agents through the generation cache. A per-doc log
`<out stem>_<task>.egcfg.jsonl` makes the run resumable. --limit N writes the first N docs; score
them with bigcode's --limit N. evaluate runs bigcode_eval.main on such a file, offline, and scores
the same programs with our adapter's hidden tests, doc by doc, to show that the two agree.
"""
from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_CONFIG = "s3t0.7d2k1g1.0"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="egcfg bigcode", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="{generate,evaluate}")
    _generate_args(sub.add_parser("generate", help="write bigcode --load_generations_path files with EG-CFG"))
    _evaluate_args(sub.add_parser("evaluate", help="run bigcode's scorer on such a file, and ours beside it"))
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from egcfg_plugin.cli.checks import one_line_errors
    from egcfg_plugin.harness.bigcode import BigcodeError

    return one_line_errors(f"egcfg bigcode {args.command}",
                           lambda: generate(args) if args.command == "generate" else evaluate(args), (BigcodeError,))


def output_path(out: str, task: str) -> Path:
    """bigcode's naming for a task's saved generations: `<stem of out>_<task>.json`."""
    p = Path(out)
    if p.suffix != ".json":
        raise ValueError(f"--out {out} must end in .json (bigcode's generations file is JSON)")
    return p.with_name(f"{p.stem}_{task}.json")


# -- generate ------------------------------------------------------------------------------------
def _generate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tasks", required=True, help="comma-separated bigcode task names: humaneval, mbpp")
    p.add_argument("--model", default="default", help="'default', a pinned name, a folder, or 'NAME,backend=llamacpp'")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--config", default=None,
                       help=f"one EG-CFG config, e.g. {DEFAULT_CONFIG}, or 'baseline' (default {DEFAULT_CONFIG})")
    group.add_argument("--grid", default=None, help="agents: a grid YAML (configs/NAME.yaml) or a shipped grid name")
    p.add_argument("--out", required=True, help="generations path; each task writes <stem>_<task>.json")
    p.add_argument("--limit", type=int, default=None, help="only the first N docs of each task")
    p.add_argument("--max-new-tokens", type=int, default=None, help="per doc, for every config")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the generation cache")


def generate(args) -> int:
    from egcfg_plugin.harness import bigcode

    tasks = bigcode.parse_tasks(args.tasks)
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be a positive number of docs, got {args.limit}")
    configs = _configs(args)
    outs = {t.name: output_path(args.out, t.name) for t in tasks}
    state = {}
    for task in tasks:
        docs = bigcode.bigcode_prompts(task)[: args.limit]
        log.info("bigcode %s: %d docs, prompts from bigcode_eval's Task.get_prompt", task.name, len(docs))
        state[task.name] = docs
    model = _Model(args)
    for task in tasks:
        _generate_task(task, state[task.name], configs, model, outs[task.name])
    for task in tasks:
        out, n = outs[task.name], len(state[task.name])
        sys.stdout.write(f"{task.name}: {out} ({n} docs)\n  score: egcfg bigcode evaluate --tasks {task.name} "
                         f"--generations {shlex.quote(str(out))}\n  or, with the hub reachable: "
                         f"{shlex.join(bigcode_command(task.name, out, n))}\n")
    return 0


def bigcode_command(task: str, generations, n: int) -> list[str]:
    return [".venv-bigcode/bin/python", "-m", "bigcode_eval.main", "--tasks", task, "--load_generations_path",
            str(generations), "--allow_code_execution", "--limit", str(n)]


def _configs(args):
    from egcfg_plugin.core.config import EGCFGConfig

    if args.grid:
        from egcfg_plugin.agents.grid import load_grid

        configs = load_grid(args.grid)
    else:
        configs = [EGCFGConfig.parse(args.config or DEFAULT_CONFIG)]
    if args.max_new_tokens is not None:
        configs = [c.replace(max_new_tokens=args.max_new_tokens) for c in configs]
    return configs


class _Model:
    """The model, loaded on first use (a fully resumed run loads none), and the generation cache."""

    def __init__(self, args):
        self.spec, self.no_cache = args.model, args.no_cache
        self.loaded = None

    def solve(self, problem, configs):
        from egcfg_plugin.agents.solve import model_identity, solve

        if self.loaded is None:
            from egcfg_plugin.agents.cache import GenerationCache, MemoryCache
            from egcfg_plugin.core.models import load_model

            model, tokenizer = load_model(self.spec)
            cache = MemoryCache() if self.no_cache else GenerationCache()
            self.loaded = (model, tokenizer, cache, model_identity(model))
        model, tokenizer, cache, model_id = self.loaded
        return solve(model, tokenizer, problem, configs, cache=cache, model_id=model_id)


def _generate_task(task, docs, configs, model: _Model, out: Path) -> None:
    from tqdm import tqdm

    from egcfg_plugin.agents.jsonl import ResumableJSONL
    from egcfg_plugin.harness import bigcode

    log_path = out.with_name(out.stem + ".egcfg.jsonl")
    records = ResumableJSONL(log_path, key="task_id")
    label = ",".join(c.compact for c in configs)
    stale = [tid for tid, rec in records.records.items() if rec.get("configs") != label or rec.get("model") != model.spec]
    if stale:
        raise ValueError(f"{log_path} holds docs made with another model or config (e.g. {stale[0]!r}); "
                         f"pass another --out or remove that file")
    for task_id, prompt in tqdm(docs, desc=f"bigcode {task.name}", unit="doc"):
        if task_id in records:
            continue
        problem, _ = bigcode.problem_for(task, task_id, prompt)
        sel = model.solve(problem, configs)
        result = sel.result
        records.append({"task_id": task_id, "model": model.spec, "configs": label, "agent": sel.agent,
                        "prompt": prompt, "continuation": result.text, "stop_reason": str(result.stop_reason),
                        "visible_passed": result.visible_passed, "visible_total": result.visible_total})
    texts = [[records.get(tid)["prompt"] + records.get(tid)["continuation"]] for tid, _ in docs]
    generations = bigcode.postprocess(task, texts)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(generations), encoding="utf-8")
    log.info("wrote %s (%d docs)", out, len(generations))


# -- evaluate ------------------------------------------------------------------------------------
def _evaluate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tasks", required=True, help="one bigcode task name: humaneval or mbpp")
    p.add_argument("--generations", required=True, help="a generations file (JSON list[list[str]])")
    p.add_argument("--limit", type=int, default=None, help="docs to score (default: as many as the file holds)")
    p.add_argument("--metrics", default=None, help="where bigcode writes its metrics JSON")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def evaluate(args) -> int:
    from egcfg_plugin.harness import bigcode

    tasks = bigcode.parse_tasks(args.tasks)
    if len(tasks) != 1:
        raise ValueError(f"--tasks {args.tasks!r}: evaluate scores one task's file at a time")
    task = tasks[0]
    gens = read_generations(args.generations)
    n = args.limit or len(gens)
    if n > len(gens):
        raise ValueError(f"--limit {n} is more than the {len(gens)} docs in {args.generations}")
    metrics, details = bigcode.evaluate(task, args.generations, limit=n, metrics_path=args.metrics)
    ours = our_scores(task, gens[:n])
    theirs = [[s["passed"] for s in doc] for doc in details]
    same = [[v["same_tests"] for v in doc] for doc in ours]
    report = {"task": task.name, "docs": n, "bigcode": metrics, "bigcode_passed": theirs,
              "egcfg_passed_same_tests": same, "egcfg_passed_all_tests": [[v["all"] for v in doc] for doc in ours],
              "agree": theirs == same}
    if args.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        stricter = sum(a != b for d, e in zip(same, report["egcfg_passed_all_tests"]) for a, b in zip(d, e))
        sys.stdout.write(f"{task.name}: bigcode pass@1 {metrics.get('pass@1')} on {n} docs; our scorer on the "
                         f"same tests agrees on {sum(a == b for a, b in zip(theirs, same))}/{n} docs"
                         + (f"; {stricter} sample(s) fail tests that only we run" if stricter else "") + "\n")
    return 0 if report["agree"] else 1


def read_generations(path) -> list[list[str]]:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no generations file at {p}")
    data = json.loads(p.read_text(encoding="utf-8"))
    if not (isinstance(data, list) and data and all(isinstance(d, list) and all(isinstance(s, str) for s in d)
                                                    for d in data)):
        raise ValueError(f"{p} is not a non-empty JSON list of lists of strings (bigcode's generations format)")
    return data


def our_scores(task, generations: list[list[str]]) -> list[list[dict]]:
    """Our verdicts on each program (doc i = bigcode's doc i): see `bigcode.our_verdicts`."""
    from egcfg_plugin.harness import bigcode

    rows = bigcode.rows(task)
    return [[bigcode.our_verdicts(task, rows[i], program) for program in samples]
            for i, samples in enumerate(generations)]
