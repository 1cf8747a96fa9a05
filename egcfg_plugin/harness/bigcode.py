"""bigcode-evaluation-harness (PyPI: nvidia-bigcode-eval, import name bigcode_eval), from egcfg.

bigcode_eval pins tree_sitter~=0.21, which clashes with evalplus, so it lives in its own
virtualenv (scripts/setup_bigcode.sh -> .venv-bigcode, or $EGCFG_BIGCODE_VENV). Everything that
needs bigcode_eval runs there through `bigcode_runner.py`, a standalone script: its prompts
(Task.get_prompt), its postprocessing (Task.postprocess_generation) and its scorer (bigcode_eval.main
with --load_generations_path). This module, in egcfg's venv, writes the task's dataset for it from
EGCFG_DATA_DIR (so nothing touches the dataset hub), builds our Problems from bigcode's prompts
and our adapters' visible tests, and runs the runner.

    task = bigcode_task("mbpp")
    prompts = bigcode_prompts(task)                   # [(task_id, prompt)] in bigcode's order
    gens = postprocess(task, [[prompt + continuation], ...])
    metrics, details = evaluate(task, "gens.json", limit=len(gens))
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("bigcode_runner.py")
SETUP_SCRIPT = "scripts/setup_bigcode.sh"


class BigcodeError(RuntimeError):
    """The bigcode venv is missing, or a bigcode_eval step failed."""


@dataclass(frozen=True)
class BigcodeTask:
    name: str          # bigcode's task name (--tasks)
    module: str        # its module under bigcode_eval.tasks
    data_key: str      # task_adapters.data key of the rows
    adapter: str       # task_adapters registry name (visible tests, our scorer)
    split: str | None  # the MBPP split bigcode evaluates (its `test`), None: every row
    # The row field whose tests bigcode's get_reference runs, when it runs fewer than our adapter
    # scores: MBPP's reference is test_list only; our hidden tests are test_list, then
    # challenge_test_list (11 of the 500 test docs have some). None: the same tests (HumanEval check()).
    reference_field: str | None = None


TASKS: dict[str, BigcodeTask] = {t.name: t for t in (
    BigcodeTask("humaneval", "humaneval", "humaneval", "egcfg_humaneval", None),
    BigcodeTask("mbpp", "mbpp", "mbpp", "egcfg_mbpp", "test", reference_field="test_list"),
)}


def bigcode_task(name: str) -> BigcodeTask:
    if name not in TASKS:
        raise ValueError(f"unsupported bigcode task {name!r}; supported: {', '.join(TASKS)}")
    return TASKS[name]


def parse_tasks(text: str) -> list[BigcodeTask]:
    """`--tasks humaneval,mbpp` -> tasks; an unsupported name is a one-line ValueError."""
    names = [n.strip() for n in str(text).split(",") if n.strip()]
    if not names:
        raise ValueError(f"--tasks {text!r} names no task; supported: {', '.join(TASKS)}")
    return [bigcode_task(n) for n in names]


# -- the bigcode venv --------------------------------------------------------------------------
def venv_python() -> Path:
    """The bigcode venv's python ($EGCFG_BIGCODE_VENV or .venv-bigcode in the project root)."""
    venv = Path(os.environ.get("EGCFG_BIGCODE_VENV") or PROJECT_ROOT / ".venv-bigcode")
    return venv / "bin" / "python"


def venv_ready() -> bool:
    return venv_python().is_file()


def run_runner(args: list[str], *, timeout: float = 1800) -> str:
    """Run bigcode_runner.py in the bigcode venv; its stdout. Errors carry its stderr's tail."""
    python = venv_python()
    if not python.is_file():
        raise BigcodeError(f"no bigcode virtualenv at {python.parent.parent}; create it with "
                           f"{SETUP_SCRIPT} (or set EGCFG_BIGCODE_VENV to one with nvidia-bigcode-eval)")
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false")
    proc = subprocess.run([str(python), str(RUNNER), *args], capture_output=True, text=True,
                          timeout=timeout, env=env)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise BigcodeError(f"bigcode_eval {args[0]} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


# -- data --------------------------------------------------------------------------------------
def rows(task: BigcodeTask) -> list[dict]:
    """The rows bigcode evaluates, in its order, from egcfg's local data (EGCFG_DATA_DIR)."""
    from task_adapters.data import load_rows

    out = load_rows(task.data_key)
    if task.split is not None:
        from task_adapters.mbpp import split_of

        out = [r for r in out if split_of(r["task_id"]) == task.split]
    return out


def data_dir(task: BigcodeTask) -> Path:
    """A folder with `test.jsonl` for bigcode's loader (a local DATASET_PATH), written once per
    content under egcfg's cache folder, so the datasets cache is reused."""
    from task_adapters.data import cache_dir

    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows(task))
    folder = cache_dir() / "bigcode_data" / task.name
    path = folder / "test.jsonl"
    if not (path.is_file() and path.read_text(encoding="utf-8") == text):
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name("test.jsonl.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return folder


# -- bigcode's own steps -------------------------------------------------------------------------
def bigcode_prompts(task: BigcodeTask) -> list[tuple[object, str]]:
    """(task_id, Task.get_prompt(doc)) for every doc, in bigcode's dataset order."""
    out = json.loads(run_runner(["prompts", "--task", task.name, "--data", str(data_dir(task))]))
    return [(d["task_id"], d["prompt"]) for d in out]


def postprocess(task: BigcodeTask, texts: list[list[str]]) -> list[list[str]]:
    """bigcode's Task.postprocess_generation on each prompt+continuation text (texts[i] belongs
    to doc i). Its --load_generations_path flow does not postprocess what it loads."""
    with tempfile.TemporaryDirectory(prefix="egcfg-bigcode-") as tmp:
        src, dst = Path(tmp) / "texts.json", Path(tmp) / "out.json"
        src.write_text(json.dumps(texts), encoding="utf-8")
        run_runner(["postprocess", "--task", task.name, "--data", str(data_dir(task)),
                    "--texts", str(src), "--out", str(dst)])
        return json.loads(dst.read_text(encoding="utf-8"))


def evaluate(task: BigcodeTask, generations: str | os.PathLike, *, limit: int | None = None,
             metrics_path: str | os.PathLike | None = None) -> tuple[dict, list[list[dict]]]:
    """bigcode_eval.main --load_generations_path GENERATIONS --allow_code_execution [--limit N]:
    its metrics for the task, and per doc the per-sample {"passed", "result"} of its code_eval."""
    with tempfile.TemporaryDirectory(prefix="egcfg-bigcode-") as tmp:
        metrics = Path(metrics_path) if metrics_path else Path(tmp) / "metrics.json"
        details = Path(tmp) / "details.json"
        args = ["evaluate", "--task", task.name, "--module", task.module, "--data", str(data_dir(task)),
                "--generations", str(Path(generations).resolve()), "--metrics", str(metrics.resolve()),
                "--details", str(details)]
        if limit:
            args += ["--limit", str(limit)]
        run_runner(args)
        result = json.loads(metrics.read_text(encoding="utf-8"))
        return result.get(task.name, {}), json.loads(details.read_text(encoding="utf-8"))


# -- our side ----------------------------------------------------------------------------------
def problem_for(task: BigcodeTask, task_id, prompt: str):
    """The Problem for one bigcode doc: bigcode's prompt as plain text (a direct completion, as
    bigcode_eval generates without instruction tokens), our adapter's visible tests and entry point.
    HumanEval's prompt ends inside the function, so it is the code the answer starts with; the
    signal goes before the code (a comment block)."""
    import dataclasses

    from egcfg_plugin.core.lines import def_complete
    from task_adapters.registry import get_adapter

    adapter = get_adapter(task.adapter)
    row = adapter.find({"task_id": task_id})
    base = adapter.problem(row, style="base")
    code_prefix = prompt if def_complete(prompt, base.entry_point) else ""
    return dataclasses.replace(base, prompt=prompt, code_prefix=code_prefix, response_prefix="",
                               signal_at=len(prompt) - len(code_prefix), chat_rendered=False,
                               visible_tests=shown_tests(adapter, row, prompt)), row


def shown_tests(adapter, row: dict, prompt: str) -> tuple:
    """The adapter's visible tests that bigcode's prompt shows. Our MBPP prompts show all of
    test_list, bigcode's only test_list[0]: the other asserts stay out of guidance and selection
    (bigcode scores them). HumanEval's visible tests are its docstring examples, all in the prompt."""
    tests = tuple(adapter.visible_tests(row))
    asserts = getattr(adapter, "visible_asserts", None)
    if asserts is None:
        return tests
    texts = asserts(row)
    if len(texts) != len(tests):
        raise ValueError(f"{adapter.name} task {adapter.task_id(row)}: {len(tests)} visible tests for "
                         f"{len(texts)} asserts; cannot tell which ones the bigcode prompt shows")
    lines = {line.strip() for line in prompt.splitlines()}
    return tuple(t for t, a in zip(tests, texts) if a in lines)


def our_verdicts(task: BigcodeTask, row: dict, program: str) -> dict:
    """Our adapter's hidden tests on one program, in the sandbox: `all` (every test we score) and
    `same_tests` (only the tests bigcode's reference also runs, the like-for-like verdict)."""
    from task_adapters.registry import get_adapter

    score = get_adapter(task.adapter).score(row, program)
    results = score.results
    if task.reference_field is not None:   # our hidden tests start with that field's tests, in order
        results = results[: len(row[task.reference_field])]
    return {"all": score.all_passed, "same_tests": bool(results) and all(r.passed for r in results)}
