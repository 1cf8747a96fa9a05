"""egcfg's offline lm-eval tasks: the dataset loader, scoring and the per-sample EG-CFG summary.

The YAMLs in `egcfg_plugin/harness/tasks/` call these through the folder's small `utils.py`:

* `load_docs(benchmark=...)` (custom_dataset): rows from `task_adapters` (local files first, see
  `task_adapters.data`), one light doc per row. A doc holds the prompt text and the task id, never
  the hidden tests; the adapter's row is looked up again at scoring time.
* `process_results(doc, results)`: pass@1 on all scored tests (the adapter's scorer, our
  sandbox), pass@1_never_seen on the never-seen tests only (task_adapters.base's taxonomy; the
  mean over the tasks that have any) and visible_pass@1 on the visible tests, for any model. A row
  the adapter calls unscorable (CodeContests special judges and interactive problems, DS-1000 rows
  needing a library that is not installed) gets None for all three, left out of every mean
  (`mean_defined`), and counts 1 in `unscorable` (`count`). With `--model egcfg` it adds
  the EG-CFG summary the model's answer carries (`Answer`, `with_summary`); `--log_samples` writes
  it with the sample, and the table shows its aggregate (`guided_share`).

    lm_eval --model egcfg --model_args pretrained=default,gamma=1.0 --tasks egcfg_humaneval \
        --include_path $(egcfg tasks-path) --confirm_run_unsafe_code --limit 3
"""
from __future__ import annotations

import logging
import sys

from egcfg_plugin.core.visible import passes_all
from egcfg_plugin.harness.lm_eval_hook import EGCFGUsageError, tasks_dir

log = logging.getLogger(__name__)


def print_path(argv: list[str] | None = None) -> int:
    """`egcfg tasks-path`: print the folder to pass to lm_eval --include_path."""
    import argparse

    argparse.ArgumentParser(prog="egcfg tasks-path", description=(
        "Print the folder of egcfg's lm-eval task YAMLs (egcfg_mbpp, egcfg_humaneval, ...), for "
        'lm_eval --include_path "$(egcfg tasks-path)". Takes no arguments.')).parse_args(argv or [])
    sys.stdout.write(tasks_dir() + "\n")
    return 0


# -- adapters -------------------------------------------------------------------------------------
def get_adapter(name: str):
    """The task adapter for a benchmark or lm-eval task name; EGCFGUsageError when there is none."""
    try:
        from task_adapters.registry import get_adapter as lookup
    except ImportError as e:
        raise EGCFGUsageError(f"task_adapters.registry is not available ({e}); reinstall egcfg") from None
    try:
        return lookup(name)
    except (KeyError, ValueError) as e:
        raise EGCFGUsageError(f"no task adapter for {name!r}: {_text(e)}") from None


def find_adapter(name: str | None):
    """Like `get_adapter`, but None for names no adapter knows."""
    if not name:
        return None
    try:
        return get_adapter(name)
    except EGCFGUsageError:
        return None


def row_for(adapter, doc: dict) -> dict:
    """The adapter's dataset row for an lm-eval doc (ours, or a stock task's hub row)."""
    try:
        return adapter.find(doc)
    except ValueError as e:   # task_adapters.data.MalformedRow
        raise EGCFGUsageError(f"{adapter.name}: {_text(e)}") from None


def _text(e: BaseException) -> str:
    return str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)


# -- the dataset ----------------------------------------------------------------------------------
def load_docs(benchmark: str | None = None, **_metadata) -> dict:
    """custom_dataset for our YAMLs: {"test": Dataset of docs}. `benchmark` is a
    task_adapters.registry name; lm-eval also passes the task metadata and model_args as keyword
    arguments, which are ignored here."""
    import datasets

    if not benchmark:
        raise EGCFGUsageError("an egcfg task YAML must set dataset_kwargs: {benchmark: <task_adapters name>}")
    adapter = get_adapter(benchmark)
    try:
        rows = adapter.load()
        if hasattr(adapter, "prepare"):   # DS-1000 reference checks, HumanEval+/MBPP+ expected outputs: one batch
            adapter.prepare(rows)
        docs = [make_doc(benchmark, adapter, row) for row in rows]
    except (OSError, ValueError) as e:   # DataNotFound, MalformedRow: messages name file / row
        raise EGCFGUsageError(f"{benchmark}: {_text(e)}") from None
    if not docs:
        raise EGCFGUsageError(f"{benchmark}: the dataset has no rows")
    return {"test": datasets.Dataset.from_list(docs)}


def make_doc(benchmark: str, adapter, row: dict) -> dict:
    """One lm-eval doc: the chat-style prompt split as lm-eval builds it (the user text, then
    `gen_prefix` = the response prefix and the code the answer starts with). The same doc works
    with and without --apply_chat_template, and for every model."""
    problem = adapter.problem(row, style="chat")
    users = [m["content"] for m in problem.prompt if m.get("role") == "user"] if problem.is_chat else [problem.prompt]
    if not users:
        raise ValueError(f"task {problem.task_id}: the adapter's prompt has no user message")
    user_text = users[-1] if users[-1].endswith("\n") else users[-1] + "\n"
    prefix = problem.response_prefix if problem.is_chat else ""
    return {"task_id": problem.task_id, "benchmark": benchmark, "user_text": user_text,
            "gen_prefix": prefix + problem.code_prefix, "code_prefix": problem.code_prefix,
            "entry_point": problem.entry_point or ""}


# -- scoring --------------------------------------------------------------------------------------
def program_of(doc: dict, response: str) -> str:
    """The program to test: the code the answer started with, then the generated text up to where
    the EG-CFG loop would stop (`code_end`: a closing fence, or top-level test or demo code after
    the entry function), so any model's answer is scored as the loop's own would be."""
    from egcfg_plugin.core.lines import code_end

    prefix = doc.get("code_prefix", "")
    program = prefix + response
    end = code_end(program if program.endswith("\n") else program + "\n", doc.get("entry_point") or None)
    if end is not None and end >= len(prefix):
        program = program[:end]
    return program


def process_results(doc: dict, results: list[str]) -> dict:
    adapter = get_adapter(doc["benchmark"])
    row = row_for(adapter, doc)
    # the task's YAML lists `unscorable` and aggregates with mean_defined (None = not measured)
    flags = hasattr(adapter, "unscorable")
    why = adapter.unscorable(row) if flags else None
    if why:
        log.info("%s task %s: not scored (%s)", doc["benchmark"], doc["task_id"], why)
        out = {"pass@1": None, "pass@1_never_seen": None, "visible_pass@1": None, "unscorable": 1.0}
        return _with_summary(out, results)
    program = program_of(doc, results[0])
    try:
        hidden = adapter.score(row, program)
        visible = passes_all(adapter.visible_tests(row), program)
    except ValueError as e:   # a row without tests
        raise EGCFGUsageError(f"{doc['benchmark']} task {doc['task_id']}: {_text(e)}") from None
    if hidden.total == 0:
        raise EGCFGUsageError(f"{doc['benchmark']} task {doc['task_id']}: the row has no hidden tests to score")
    never_seen = hidden.never_seen_passed       # None: the task has no never-seen test (taxonomy)
    out = {"pass@1": float(hidden.all_passed), "pass@1_never_seen": None if never_seen is None else float(never_seen),
           "visible_pass@1": float(visible)}
    if flags:
        out["unscorable"] = 0.0
        if not any(t.has_expectation for t in adapter.visible_tests(row)):
            out["visible_pass@1"] = None     # DS-1000: its visible test states no value (it only runs)
    return _with_summary(out, results)


def _with_summary(out: dict, results: list) -> dict:
    summary = getattr(results[0], "egcfg_summary", None) if results else None
    if summary is not None:
        out["egcfg"] = summary
    return out


def mean_defined(items: list) -> float:
    """Aggregate of `pass@1_never_seen`: the mean over the tasks that have never-seen tests (the
    others give None); NaN when none has any, so a table never shows a figure that was not measured."""
    values = [float(v) for v in items if v is not None]
    return sum(values) / len(values) if values else float("nan")


def count(items: list) -> float:
    """Aggregate of `unscorable`: how many rows were left out of the figures."""
    return float(sum(items))


def guided_share(items: list[dict]) -> float:
    """Aggregate of the `egcfg` metric: the mean share of answer lines decoded with a signal."""
    shares = [s["guided_lines"] / s["lines"] for s in items if isinstance(s, dict) and s.get("lines")]
    return sum(shares) / len(shares) if shares else 0.0


# -- the summary the model hands process_results -------------------------------------------------
class Answer(str):
    """An answer that carries its EG-CFG summary (`egcfg_summary`) from the model's
    generate_until to process_results: lm-eval hands process_results the very object the model
    returned (its default take_first filter), so no state is kept between the two."""

    egcfg_summary: dict | None = None


def with_summary(text: str, summary: dict | None) -> str:
    """`text` as an Answer carrying `summary` (the text itself when there is none)."""
    if summary is None:
        return text
    answer = Answer(text)
    answer.egcfg_summary = summary
    return answer


def summarize(result, selection=None) -> dict:
    """A compact, JSON-ready per-sample record of one EG-CFG generation: per line, whether it was
    guided and what the refresh before it saw."""
    lines = []
    for entry in result.lines:
        line = {"n": entry.get("n"), "text": entry.get("text", ""), "guided": bool(entry.get("guided"))}
        if "refresh" in entry:
            cands = entry.get("candidates") or []
            line.update(refresh=entry["refresh"], candidates=len(cands),
                        candidates_passing=sum(1 for c in cands if c.get("runs")
                                               and all(r.get("status") == "passed" for r in c["runs"])),
                        signal_chars=entry.get("signal_chars", 0))
        lines.append(line)
    counters = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in result.counters.items()}
    out = {"config": result.config, "stop_reason": result.stop_reason,
           "visible_passed": result.visible_passed, "visible_total": result.visible_total,
           "guided_lines": sum(1 for line in lines if line["guided"]), "lines": len(lines),
           "counters": counters, "per_line": lines}
    if selection is not None:
        out.update(agent=selection.agent, rule=selection.rule, agents_run=selection.agents_run,
                   agent_configs=list(selection.configs))
    return out
