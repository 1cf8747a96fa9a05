"""EG-CFG as an EvalPlus decoder (`evalplus.provider.base.DecoderBase`).

EvalPlus hands a decoder only the prompt text (`task["prompt"].strip() + "\\n"`), so the decoder
maps that text back to its task (`PromptIndex`) to find the entry point and the visible tests.

The prompt is EvalPlus's own: for a chat model the same instruction, fenced task and response
prefix that `evalplus.provider.utility.make_raw_chat_prompt` renders for `--backend hf`; for a
model without a chat template (or `force_base_prompt`) the task prompt as is. With gamma=0 the
decoding is plain greedy on that prompt, i.e. what `evalplus.codegen --backend hf --greedy` does.
The execution signal goes at the end of the user turn.

Honesty: the visible tests come from the prompt only (HumanEval+ docstring examples, the one
assert in an MBPP+ prompt). The task's hidden fields (base_input, plus_input, the canonical
solution, the test code) are removed before the row reaches the adapter.

    decoder = EGCFGDecoder.for_dataset("humaneval", model, tokenizer, configs=[EGCFGConfig.parse("baseline")])
    decoder.codegen(task["prompt"].strip() + "\\n", do_sample=False, num_samples=1)
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from evalplus.provider.base import DecoderBase

from egcfg_plugin.core.config import EGCFGConfig
from task_adapters.base import Problem

log = logging.getLogger(__name__)

# The instruction and response prefixes that evalplus 0.3.1 `run_codegen` passes to every chat
# backend (plain, non-evalperf prompts). tests/test_evalplus_decoder.py checks them against its source.
INSTRUCTION_PREFIX = ("Please provide a self-contained Python script that solves the following problem "
                      "in a markdown code block:")
RESPONSE_PREFIX = ("Below is a Python script with a self-contained function that solves the problem "
                   "and passes corresponding tests:")

# Fields of an EvalPlus task that hold hidden tests or their answers: never given to guidance.
HIDDEN_FIELDS = ("base_input", "plus_input", "canonical_solution", "test", "assertion")


@dataclass(frozen=True)
class DatasetSpec:
    name: str            # EvalPlus's --dataset value
    env: str             # EvalPlus's override variable
    relpath: str         # the file under a data root (the name the error message suggests)
    release: str         # EvalPlus's release file stem, e.g. HumanEvalPlus-v0.1.10
    adapter: str         # our task_adapters registry name
    id_prefix: str       # every task id starts with this


DATASETS = {
    "humaneval": DatasetSpec("humaneval", "HUMANEVAL_OVERRIDE_PATH",
                             "humaneval_plus/HumanEvalPlus-v0.1.10.jsonl.gz", "HumanEvalPlus-v0.1.10",
                             "humaneval_plus", "HumanEval/"),
    "mbpp": DatasetSpec("mbpp", "MBPP_OVERRIDE_PATH", "mbpp_plus/MbppPlus-v0.2.0.jsonl.gz",
                        "MbppPlus-v0.2.0", "mbpp_plus", "Mbpp/"),
}


def dataset_spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        import difflib

        close = difflib.get_close_matches(str(name), DATASETS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown EvalPlus dataset {name!r}.{hint} Use one of: {', '.join(DATASETS)} "
                         f"(EvalPlus's names for HumanEval+ and MBPP+)")
    return DATASETS[name]


def dataset_of_task(task_id: str) -> str | None:
    for spec in DATASETS.values():
        if str(task_id).startswith(spec.id_prefix):
            return spec.name
    return None


def dataset_file(name: str) -> Path:
    """The dataset file to read: EvalPlus's override variable when set, else the first copy under
    the data roots the task adapters search (task_adapters.data: EGCFG_DATA_DIR, ../shared/data).
    Errors say how to fix a missing file."""
    from task_adapters import data

    spec = dataset_spec(name)
    override = os.environ.get(spec.env)
    if override:
        if not Path(override).is_file():
            raise FileNotFoundError(f"{spec.release} not found at {override} (from {spec.env}); point {spec.env} "
                                    f"at the .jsonl/.jsonl.gz file or unset it")
        return Path(override)
    found = data.find_file(spec.adapter)
    if found is None:
        roots = ", ".join(str(r) for r in data.data_roots()) or "none exist"
        raise FileNotFoundError(f"{spec.release} not found under the data roots ({roots}); set EGCFG_DATA_DIR "
                                f"to the folder holding {spec.relpath}, or {spec.env} to the .jsonl/.jsonl.gz file")
    return found


def read_task_lines(path: str | os.PathLike) -> list[tuple[dict, str]]:
    """(task, raw line) pairs of an EvalPlus dataset file, in file order (.jsonl or .jsonl.gz).
    Any unreadable line, the last one included, is an error naming the file and line (a
    JSONLError, from agents.jsonl); so is a truncated .gz."""
    from egcfg_plugin.agents.jsonl import read_jsonl

    return [(row.record, row.text) for row in read_jsonl(path, cut_last="error")]


def load_tasks(name: str) -> dict[str, dict]:
    """task_id -> EvalPlus task row, in dataset order."""
    return {task["task_id"]: task for task, _ in read_task_lines(dataset_file(name))}


def evalplus_prompt(task: dict) -> str:
    """The prompt text `evalplus.codegen.codegen` hands to a decoder for this task."""
    return task["prompt"].strip() + "\n"


class PromptIndex:
    """Maps the prompt text EvalPlus gives a decoder back to its task id."""

    def __init__(self, tasks: dict[str, dict]):
        self.by_prompt: dict[str, str] = {}
        self.by_stripped: dict[str, str] = {}
        for task_id, task in tasks.items():
            key = evalplus_prompt(task)
            if key in self.by_prompt:
                raise ValueError(f"tasks {self.by_prompt[key]} and {task_id} have the same prompt; "
                                 f"the decoder could not tell them apart")
            self.by_prompt[key] = task_id
            self.by_stripped[key.strip()] = task_id

    def __len__(self) -> int:
        return len(self.by_prompt)

    def lookup(self, prompt: str) -> str:
        task_id = self.by_prompt.get(prompt) or self.by_stripped.get(prompt.strip())
        if task_id is None:
            first = prompt.strip().splitlines()[0][:80] if prompt.strip() else ""
            raise KeyError(f"prompt starting {first!r} matches no task of this dataset "
                           f"({len(self)} tasks); was the decoder built for another dataset?")
        return task_id


def visible_row(task: dict) -> dict:
    """The task without its hidden fields: what the visible-test extraction may read."""
    return {k: v for k, v in task.items() if k not in HIDDEN_FIELDS}


def visible_tests(dataset: str, task: dict) -> tuple:
    """The visible tests of an EvalPlus task, from the task adapters (prompt examples only)."""
    from task_adapters.registry import get_adapter

    adapter = get_adapter(dataset_spec(dataset).adapter)
    return tuple(adapter.visible_tests(visible_row(task)))


def build_problem(task: dict, tokenizer, tests: tuple, *, direct: bool,
                  instruction_prefix: str = INSTRUCTION_PREFIX, response_prefix: str = RESPONSE_PREFIX) -> Problem:
    """The Problem whose unconditional prompt is exactly the text EvalPlus's hf backend feeds the model."""
    prompt = evalplus_prompt(task)
    meta = {"source": "evalplus"}
    if direct:
        # A base model continues the task prompt; HumanEval's prompt already ends in the signature.
        prefix = prompt if _ends_inside_function(prompt, task["entry_point"]) else ""
        return Problem(task_id=task["task_id"], prompt=prompt, visible_tests=tests, entry_point=task["entry_point"],
                       code_prefix=prefix, response_prefix="", meta=meta)
    user = f"{instruction_prefix}\n```\n{prompt.strip()}\n```\n"
    chat = Problem(task_id=task["task_id"], prompt=({"role": "user", "content": user},), visible_tests=tests,
                   entry_point=task["entry_point"], response_prefix=f"{response_prefix}\n```python\n", meta=meta)
    reference = _evalplus_chat_text(prompt, tokenizer, instruction_prefix, response_prefix)
    from egcfg_plugin.core.prompts import split_prompt

    if split_prompt(chat, tokenizer).text == reference:
        return chat
    # The chat template renders an open assistant turn differently from EvalPlus's cut of a closed
    # one: use EvalPlus's text verbatim, with the signal at the end of the user's content.
    at = reference.find(user)
    log.warning("task %s: the chat template's generation prompt differs from EvalPlus's rendering; "
                "using EvalPlus's prompt text as plain text (the signal is then a comment block)", task["task_id"])
    return Problem(task_id=task["task_id"], prompt=reference, visible_tests=tests, entry_point=task["entry_point"],
                   response_prefix="", signal_at=(at + len(user)) if at >= 0 else None, meta=meta)


def _evalplus_chat_text(prompt: str, tokenizer, instruction_prefix: str, response_prefix: str) -> str:
    from evalplus.provider.utility import make_raw_chat_prompt

    return make_raw_chat_prompt(prompt, instruction_prefix, response_prefix, tokenizer)


def _ends_inside_function(prompt: str, entry_point: str) -> bool:
    from egcfg_plugin.core.lines import def_complete

    return def_complete(prompt, entry_point)


class EGCFGDecoder(DecoderBase):
    """An EvalPlus decoder that writes each answer with EG-CFG through `agents.solve`, as the
    other faces do: one config is a grid of one agent; several are the agents, which take the
    first visible pass. `cache` (an agents.cache GenerationCache or MemoryCache) reads back a
    (model, prompt, config) already generated by any face.

    `last` holds the task id, Result and selection of the latest call, for the caller's log.
    """

    def __init__(self, name: str, dataset: str, tasks: dict[str, dict], model, tokenizer, *,
                 configs: list[EGCFGConfig], cache=None, model_id: str | None = None,
                 force_base_prompt: bool = False,
                 instruction_prefix: str = INSTRUCTION_PREFIX, response_prefix: str = RESPONSE_PREFIX):
        if not configs:
            raise ValueError("EGCFGDecoder needs at least one EGCFGConfig (e.g. EGCFGConfig.parse('baseline'))")
        super().__init__(name=name, batch_size=1, temperature=0.0,
                         max_new_tokens=max(c.max_new_tokens for c in configs),
                         instruction_prefix=instruction_prefix, response_prefix=response_prefix)
        self.dataset = dataset_spec(dataset).name
        self.tasks = tasks
        self.index = PromptIndex(tasks)
        self.model = model
        self.tokenizer = tokenizer
        self.configs = list(configs)
        self.cache = cache
        self.model_id = model_id
        self.force_base_prompt = force_base_prompt
        self.skip_special_tokens = True
        self.last: dict = {}

    @classmethod
    def for_dataset(cls, dataset: str, model, tokenizer, *, name: str = "egcfg", **kw) -> "EGCFGDecoder":
        return cls(name, dataset, load_tasks(dataset), model, tokenizer, **kw)

    def is_direct_completion(self) -> bool:
        return self.force_base_prompt or getattr(self.tokenizer, "chat_template", None) is None

    def problem(self, task_id: str) -> Problem:
        task = self.tasks[task_id]
        return build_problem(task, self.tokenizer, visible_tests(self.dataset, task),
                             direct=self.is_direct_completion(), instruction_prefix=self.instruction_prefix,
                             response_prefix=self.response_prefix)

    def codegen(self, prompt: str, do_sample: bool = False, num_samples: int = 1) -> list[str]:
        """One answer for `prompt`: the code after the prompt (base models) or the whole program
        (chat models), as EvalPlus's codegen() expects. EG-CFG's final decoding is deterministic,
        so one sample per task (run EvalPlus with --greedy / n_samples=1)."""
        if num_samples != 1:
            raise ValueError(f"EG-CFG writes one deterministic answer per task, got num_samples={num_samples}; "
                             f"use greedy codegen (n_samples=1)")
        task_id = self.index.lookup(prompt)
        problem = self.problem(task_id)
        result, selection = self._solve(problem)
        self.last = {"task_id": task_id, "result": result, "selection": selection, "problem": problem}
        return [result.text if self.is_direct_completion() else result.code]

    def _solve(self, problem: Problem):
        from egcfg_plugin.agents.solve import model_identity, solve

        if self.cache is not None and self.model_id is None:
            self.model_id = model_identity(self.model)
        selection = solve(self.model, self.tokenizer, problem, self.configs, cache=self.cache,
                          model_id=self.model_id)
        return selection.result, selection
