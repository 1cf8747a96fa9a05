"""`egcfg evalplus`: EvalPlus codegen with EG-CFG, and a checked call of EvalPlus's own scorer.

    egcfg evalplus codegen --dataset humaneval --model default --config s3t0.7d2k1g1.0 --limit 10
    egcfg evalplus evaluate --dataset humaneval --samples evalplus_results/humaneval/<name>.jsonl

codegen writes, in EvalPlus's layout, `ROOT/DATASET/<model>_egcfg-<config>_temp_0.0[-limitN].jsonl`
({"task_id", "solution"}: the sanitized full program, as `evalplus.codegen` writes it) and the
matching `.raw.jsonl` (the unsanitized program plus our per-task log). Both are resumable: a task
in the samples file is never generated again; a corrupt line is reported, set aside and redone.
`--limit N` also writes `ROOT/DATASET/<release>-limitN.jsonl`, the first N tasks, for EvalPlus's
override variable, since `evalplus.evaluate` insists on every task of its dataset.

evaluate checks the samples (right dataset, parseable, one per task), points EvalPlus's override
variable at the matching dataset file (the full copy under EGCFG_DATA_DIR, or a subset), and runs
`python -m evalplus.evaluate` unchanged. It prints the plain EvalPlus command it ran.
"""
from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_ROOT = "evalplus_results"      # evalplus.codegen's default --root
DEFAULT_CONFIG = "s3t0.7d2k1g1.0"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="egcfg evalplus", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="{codegen,evaluate}")
    _codegen_args(sub.add_parser("codegen", help="write EvalPlus samples with EG-CFG (resumable)",
                                 description=CODEGEN_ABOUT))
    _evaluate_args(sub.add_parser("evaluate", help="check samples, then run evalplus.evaluate on them"))
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from egcfg_plugin.cli.checks import one_line_errors

    return one_line_errors(f"egcfg evalplus {args.command}",
                           lambda: codegen(args) if args.command == "codegen" else evaluate(args))


# -- codegen -------------------------------------------------------------------------------------
CODEGEN_ABOUT = (
    "Write EvalPlus samples with EG-CFG (resumable), in evalplus.codegen's layout. EvalPlus's own "
    "--backend, --greedy and --n_samples are absent on purpose: the backend is EG-CFG's decoding loop on "
    "--model (transformers or llama.cpp, named in the model spec), and its final decoding is greedy and "
    "deterministic, so there is one sample per task (pass@1 at temperature 0).")


def _codegen_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help="humaneval (HumanEval+) or mbpp (MBPP+)")
    p.add_argument("--model", default="default",
                   help="'default', a pinned model name, a local folder, a .gguf file or a hub name")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--config", default=None,
                       help=f"one EG-CFG config, e.g. s3t0.7d2k1g1.0, or 'baseline' (gamma=0, greedy); "
                            f"default {DEFAULT_CONFIG}")
    group.add_argument("--grid", default=None, help="agents: a grid YAML (configs/NAME.yaml) or a shipped grid name")
    p.add_argument("--limit", type=int, default=None, help="only the first N tasks (writes a subset dataset file)")
    p.add_argument("--root", default=DEFAULT_ROOT, help=f"output root, as evalplus.codegen's (default {DEFAULT_ROOT})")
    p.add_argument("--samples", default=None, help="explicit samples path (.jsonl) instead of the EvalPlus naming")
    p.add_argument("--max-new-tokens", type=int, default=None,
                   help="per task, for every config (default: the config's own, 512; EvalPlus's hf uses 768)")
    p.add_argument("--cache", default=None,
                   help="generation cache folder, shared with egcfg compare and lm_eval (default ~/.cache/egcfg/generations)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the generation cache")
    p.add_argument("--force-base-prompt", action="store_true",
                   help="prompt with the bare task text even if the model has a chat template (as EvalPlus's flag)")


def codegen(args) -> int:
    from egcfg_plugin.harness.evalplus_decoder import dataset_file, dataset_spec, read_task_lines

    spec = dataset_spec(args.dataset)
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be a positive number of tasks, got {args.limit}")
    configs, label = _configs(args)
    from egcfg_plugin.cli.checks import check_model

    check_model(args.model, "egcfg evalplus codegen")
    source = dataset_file(spec.name)
    pairs = read_task_lines(source)
    log.info("dataset %s: %d tasks from %s", spec.name, len(pairs), source)
    override = source
    if args.limit is not None and args.limit < len(pairs):
        pairs = pairs[: args.limit]
        override = Path(args.root) / spec.name / f"{spec.release}-limit{args.limit}.jsonl"
    tasks = {task["task_id"]: task for task, _ in pairs}
    samples_path = Path(args.samples) if args.samples else default_samples_path(
        args.root, spec.name, args.model, label, args.limit if override != source else None)
    if samples_path.suffix != ".jsonl":
        raise ValueError(f"--samples {samples_path} must end in .jsonl (EvalPlus's sample-file format)")
    raw_path = Path(str(samples_path)[: -len(".jsonl")] + ".raw.jsonl")
    samples = open_resumable(samples_path, spec.name, check_solution=True)
    raw = open_resumable(raw_path, spec.name)
    todo = [t for t in tasks if t not in samples]
    log.info("%s: %d of %d tasks already written; %d to generate", samples_path, len(tasks) - len(todo),
             len(tasks), len(todo))
    failed = _generate(args, spec.name, tasks, todo, configs, label, samples, raw) if todo else []
    if override != source:    # written once samples exist, so a failed start leaves no stray file
        write_subset(override, [line for _, line in pairs])
    _summary(spec, samples_path, raw_path, override, tasks, raw)
    if failed:                # a partial run: exit 1 (not 2, which is for bad arguments)
        sys.stderr.write(f"egcfg evalplus: {len(failed)} task(s) failed on the endpoint and have no sample: "
                         f"{', '.join(failed[:20])}; rerun the same command to resume them\n")
        return 1
    return 0


def _configs(args):
    from egcfg_plugin.core.config import EGCFGConfig

    if args.grid:
        try:
            from egcfg_plugin.agents.grid import load_grid
        except ImportError as e:
            raise ValueError(f"--grid needs egcfg_plugin.agents, which this install lacks ({e}); "
                             f"use --config instead") from None
        configs = load_grid(args.grid)
    else:
        configs = [EGCFGConfig.parse(args.config or DEFAULT_CONFIG)]
    if args.max_new_tokens is not None:
        configs = [c.replace(max_new_tokens=args.max_new_tokens) for c in configs]
    label = "grid-" + Path(args.grid).stem if args.grid else configs[0].compact
    return configs, label


def model_label(model: str) -> str:
    """The model part of EvalPlus's file name (`model.strip("./").replace("/", "--")`); the
    default model is named by its pinned name."""
    from egcfg_plugin.core.models import DEFAULT_MODEL, DEFAULT_MODELS

    if model in ("default", ""):
        return DEFAULT_MODEL
    if model in DEFAULT_MODELS:
        return model
    return model.strip("./").replace("/", "--")


def default_samples_path(root, dataset: str, model: str, label: str, limit: int | None) -> Path:
    """EvalPlus's naming: ROOT/DATASET/<model>_<backend>_temp_<T>.jsonl, backend = egcfg-<config>."""
    name = f"{model_label(model)}_egcfg-{label.replace('/', '--')}_temp_0.0"
    if limit is not None:
        name += f"-limit{limit}"
    return Path(root) / dataset / f"{name}.jsonl"


def write_subset(path: Path, lines: list[str]) -> None:
    """Write dataset lines verbatim (same bytes for the same tasks, so EvalPlus's ground-truth cache,
    keyed by the file's md5, is reused)."""
    text = "".join(lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    log.info("wrote subset dataset %s (%d tasks)", path, len(lines))


def open_resumable(path: Path, dataset: str, *, check_solution: bool = False):
    """A ResumableJSONL over `path`, after checking it belongs to `dataset`. Corrupt or duplicate
    lines are reported, the file is set aside as `<name>.corrupt[.N]` and rewritten clean, so
    that EvalPlus (which stops at the first bad line) can read it; those tasks run again."""
    from egcfg_plugin.harness.evalplus_decoder import dataset_of_task
    from egcfg_plugin.agents.jsonl import ResumableJSONL

    out = ResumableJSONL(path, key="task_id")
    foreign = [t for t in out.records if dataset_of_task(t) != dataset]
    if foreign:
        other = dataset_of_task(foreign[0]) or "an unknown dataset"
        raise ValueError(f"{path} holds task {foreign[0]!r} ({len(foreign)} such) from {other}, not from "
                         f"{dataset}; it is another dataset's file: pass the matching --dataset, or another "
                         f"--root/--samples")
    bad = [f"line {n} (cut short)" for n in out.bad_lines]
    if check_solution:
        for key, rec in list(out.records.items()):
            if not isinstance(rec.get("solution"), str):
                bad.append(f"{key} (no string 'solution')")
                del out.records[key]
    if bad or out.lines != len(out.records) + len(out.bad_lines):
        backup = _free_name(path.with_name(path.name + ".corrupt"))
        path.replace(backup)
        out.rewrite()
        what = f"{len(bad)} corrupt line(s) {bad[:5]}" if bad else "duplicate task lines"
        log.warning("resume: %s: skipped %s; the original is kept at %s and the file rewritten with %d "
                    "good records; the skipped tasks will be generated again", path, what, backup, len(out.records))
    return out


def _free_name(path: Path) -> Path:
    n, candidate = 1, path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.{n}")
    return candidate


def _generate(args, dataset, tasks, todo, configs, label, samples, raw) -> list[str]:
    """Generate the `todo` tasks; returns those that failed on a served model (no sample written)."""
    from evalplus.sanitize import sanitize
    from tqdm import tqdm

    from egcfg_plugin.harness.evalplus_decoder import EGCFGDecoder, evalplus_prompt
    from egcfg_plugin.core.models import load_model
    from egcfg_plugin.core.endpoint_client import EndpointError

    from egcfg_plugin.agents.cache import GenerationCache, MemoryCache

    model, tokenizer = load_model(args.model)
    cache = MemoryCache() if args.no_cache else GenerationCache(args.cache)
    decoder = EGCFGDecoder(f"{model_label(args.model)}_egcfg-{label}", dataset, tasks, model, tokenizer,
                           configs=configs, cache=cache, force_base_prompt=args.force_base_prompt)
    done = [raw.get(t) for t in tasks if t in samples and raw.get(t)]
    solved = sum(_visible_solved(r) for r in done)
    with_tests = sum(r.get("visible_total", 0) > 0 for r in done)
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc=f"{dataset} {label}", unit="task")
    bar.set_postfix_str(f"visible solved {solved}/{with_tests}")
    no_code, failed = [], []
    for task_id in todo:
        task = tasks[task_id]
        prompt = evalplus_prompt(task)
        try:
            impl = decoder.codegen(prompt, do_sample=False, num_samples=1)[0]
        except EndpointError as e:   # a served model failed on this task: the others go on
            failed.append(f"{task_id} ({e.kind})")
            log.error("%s: %s; no sample written, a rerun of this command resumes it", task_id, e)
            bar.update(1)
            continue
        # exactly what evalplus.codegen.codegen does with a decoder's output
        solution = prompt + impl if decoder.is_direct_completion() else impl
        sanitized = sanitize(solution, entrypoint=task["entry_point"])
        record = raw_record(decoder.last, solution, sanitized)
        if record["no_code"]:
            no_code.append(task_id)
            log.warning("%s: the model wrote no code defining %s() (its output starts %r); the sample is "
                        "written as is and will fail", task_id, task["entry_point"], solution.strip()[:80])
        raw.append(record)
        samples.append({"task_id": task_id, "solution": sanitized})
        solved += _visible_solved(record)
        with_tests += record["visible_total"] > 0
        bar.update(1)
        bar.set_postfix_str(f"visible solved {solved}/{with_tests}")
    bar.close()
    if no_code:
        log.warning("%d task(s) got no code: %s", len(no_code), ", ".join(no_code[:20]))
    return failed


def raw_record(last: dict, solution: str, sanitized: str) -> dict:
    """The raw line: EvalPlus's {"task_id", "solution"} (unsanitized) plus our per-task log."""
    result, selection, problem = last["result"], last["selection"], last["problem"]
    entry = problem.entry_point
    record = {
        "task_id": last["task_id"], "solution": solution, "config": result.config,
        "stop_reason": result.stop_reason, "visible_passed": result.visible_passed,
        "visible_total": result.visible_total,
        "visible_tests": [t.describe() for t in problem.visible_tests],
        "no_code": f"def {entry}(" not in sanitized if entry else not sanitized.strip(),
        "sanitized_changed": sanitized.strip() != solution.strip(),
        "counters": result.counters, "lines": result.lines,
    }
    if selection is not None:
        record["selection"] = {"agent": selection.agent, "rule": selection.rule, "configs": selection.configs,
                               "agents_run": selection.agents_run,
                               "any_visible_pass": selection.any_visible_pass}
    return record


def _visible_solved(record: dict) -> bool:
    total = record.get("visible_total", 0)
    return total > 0 and record.get("visible_passed") == total


def _summary(spec, samples_path, raw_path, override, tasks, raw) -> None:
    done = [raw.get(t) for t in tasks if raw.get(t)]
    solved = sum(_visible_solved(r) for r in done)
    cmd = evalplus_command(spec.name, samples_path)
    out = sys.stdout
    out.write(f"samples: {samples_path}\nraw:     {raw_path}\n")
    out.write(f"visible tests solved: {solved}/{sum(r.get('visible_total', 0) > 0 for r in done)} "
              f"(guidance only; the score is EvalPlus's)\n")
    out.write("score with EvalPlus's own scorer:\n")
    out.write(f"  {spec.env}={shlex.quote(str(override))} {shlex.join(cmd)}\n")
    out.write(f"or: egcfg evalplus evaluate --dataset {spec.name} --samples {shlex.quote(str(samples_path))}\n")
    out.write(TAXONOMY_NOTE.format(dataset=spec.name))


# The test taxonomy (task_adapters.base) as it applies to EvalPlus's two figures.
TAXONOMY_NOTE = ("test taxonomy: EvalPlus's base and base+plus figures are both on all scored tests; the base "
                 "inputs include the examples the prompt shows (seen). For pass@1 on never-seen tests only: "
                 "egcfg compare --task {dataset}_plus\n")


# -- evaluate ------------------------------------------------------------------------------------
def _evaluate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help="humaneval or mbpp")
    p.add_argument("--samples", required=True, help="a samples .jsonl ({task_id, solution} per line)")
    p.add_argument("--parallel", type=int, default=None, help="EvalPlus's worker count")
    p.add_argument("--dry-run", action="store_true", help="check and print the command, do not run it")


def evaluate(args) -> int:
    import subprocess

    var, override, cmd = prepare_evaluate(args.dataset, args.samples, parallel=args.parallel)
    sys.stdout.write(f"running: {var}={shlex.quote(str(override))} {shlex.join(cmd)}\n")
    sys.stdout.flush()
    if args.dry_run:
        return 0
    env = dict(os.environ, **{var: str(override)})
    return subprocess.run(evalplus_command_argv(cmd), env=env).returncode


def evalplus_command(dataset: str, samples, parallel: int | None = None) -> list[str]:
    """EvalPlus's scorer command line, as a user types it."""
    cmd = ["evalplus.evaluate", "--dataset", dataset, "--samples", str(samples)]
    if parallel:
        cmd += ["--parallel", str(parallel)]
    return cmd


def evalplus_command_argv(cmd: list[str]) -> list[str]:
    """The same command run with this interpreter (`python -m evalplus.evaluate`)."""
    return [sys.executable, "-m", "evalplus.evaluate"] + cmd[1:]


def prepare_evaluate(dataset: str, samples: str | os.PathLike, *, parallel: int | None = None):
    """Check `samples` against `dataset`; return (override variable, dataset file, command) for EvalPlus's scorer."""
    from egcfg_plugin.harness.evalplus_decoder import dataset_file, dataset_of_task, dataset_spec, read_task_lines

    spec = dataset_spec(dataset)
    path = Path(samples)
    if not path.is_file() or path.suffix != ".jsonl":
        raise FileNotFoundError(f"samples file {path} not found (expected a .jsonl written by "
                                f"`egcfg evalplus codegen` or `evalplus.codegen`)")
    ids = read_sample_ids(path)
    foreign = [t for t in ids if dataset_of_task(t) != spec.name]
    if foreign:
        other = dataset_of_task(foreign[0]) or "an unknown dataset"
        raise ValueError(f"{path} holds task {foreign[0]!r} from {other}, not from {spec.name}: it is another "
                         f"dataset's samples file; pass --dataset {dataset_of_task(foreign[0]) or '...'} or the "
                         f"{spec.name} samples")
    source = dataset_file(spec.name)
    pairs = read_task_lines(source)
    known = {task["task_id"] for task, _ in pairs}
    missing = sorted(set(ids) - known)
    if missing:
        raise ValueError(f"{path} holds tasks {missing[:5]} that {source} does not have")
    dupes = sorted({t for t in ids if ids.count(t) > 1})
    if dupes:
        log.warning("%s has several samples for %s; EvalPlus averages them into pass@1", path, dupes[:5])
    chosen = [(task, line) for task, line in pairs if task["task_id"] in set(ids)]
    override = source
    if len(chosen) < len(pairs):
        prefix = [t["task_id"] for t, _ in pairs[: len(chosen)]]
        if set(prefix) == set(ids):
            name = f"{spec.release}-limit{len(chosen)}.jsonl"
        else:
            import hashlib

            digest = hashlib.sha256("\n".join(sorted(set(ids))).encode()).hexdigest()[:8]
            name = f"{spec.release}-subset{len(chosen)}-{digest}.jsonl"
        override = path.parent / name
        write_subset(override, [line for _, line in chosen])
        log.info("%s covers %d of %d tasks: scoring with the subset dataset %s", path, len(chosen), len(pairs),
                 override)
    _set_aside_stale_results(path)
    return spec.env, override, evalplus_command(spec.name, path, parallel)


def read_sample_ids(path: Path) -> list[str]:
    """Task ids of a samples file, strictly: EvalPlus stops at the first unreadable line, so we
    name it first (a cut last line too, which a resumed codegen would have set aside)."""
    from egcfg_plugin.agents.jsonl import JSONLError, read_jsonl

    ids = []
    try:
        rows = read_jsonl(path, cut_last="error")
    except JSONLError as e:
        raise JSONLError(f"{e}; or rerun `egcfg evalplus codegen` with the same arguments to set the line "
                         f"aside and redo that task") from None
    for row in rows:
        rec = row.record
        if "task_id" not in rec or not isinstance(rec.get("solution", rec.get("completion")), str):
            raise ValueError(f"{path}, line {row.line}: lacks task_id or a string solution/completion")
        ids.append(rec["task_id"])
    if not ids:
        raise ValueError(f"{path} holds no samples")
    return ids


def _set_aside_stale_results(samples: Path) -> None:
    """EvalPlus reuses <samples>_eval_results.json whenever it exists; one older than the samples
    would report stale numbers, so it is renamed."""
    results = Path(str(samples)[: -len(".jsonl")] + "_eval_results.json")
    if results.is_file() and results.stat().st_mtime < samples.stat().st_mtime:
        stale = _free_name(results.with_name(results.name + ".stale"))
        results.replace(stale)
        log.warning("%s is older than the samples; moved to %s so EvalPlus scores afresh", results, stale)
