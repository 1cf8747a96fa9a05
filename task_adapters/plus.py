"""HumanEval+ and MBPP+ (EvalPlus files): hidden tests are base_input and plus_input.

Expected outputs are the canonical solution's, computed once in the sandbox (one execution per
task runs every input) and cached under ``<cache>/expected/`` keyed by the task's content. Each
hidden test is ONE execution that runs all inputs of a set and stops at the first wrong one
(`task_adapters.plus_harness`); so a row has two hidden tests, "base" and "plus", in that order,
and a Score's results read like EvalPlus's base and plus verdicts. Outputs too big to inline
(HumanEval/15 and /130 produce tens of MB) are recomputed by the reference inside the check.

Visible tests are those of the base benchmark: the checked docstring examples for HumanEval+,
and for MBPP+ the one assert its prompt shows. base_input and plus_input never reach a Problem.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re

from task_adapters.base import NEVER_SEEN, SEEN, Problem, Taxonomy
from sandbox.types import Status, TestCase
from task_adapters import data, plus_harness, prompts
from task_adapters.common import Adapter, assert_as_call, function_problem, run_pairs
from task_adapters.humaneval import HumanEvalAdapter
from task_adapters.inputs import input_key, literal_call_args
from task_adapters.mbpp import mbpp_int_id

log = logging.getLogger(__name__)

MIN_TIME_LIMIT = 1.0          # evalplus DEFAULT_MIN_TIME_LIMIT
TIME_LIMIT_FACTOR = 4.0       # evalplus DEFAULT_GT_TIME_LIMIT_FACTOR
TASK_TIMEOUT_CAP = 60.0       # evalplus EVALPLUS_TIMEOUT_PER_TASK default
COMPUTE_TIMEOUT_S = 300.0
MEMORY_MB = 4096              # evalplus allows 4 GB
_CACHE = data.JsonCache("expected")


class PlusMixin:
    """Hidden tests from base_input/plus_input; mixed into an Adapter."""

    plus_dataset = ""   # "humaneval" | "mbpp", for EvalPlus's special oracles
    hidden_fields = ("canonical_solution", "base_input", "plus_input")

    def _memo(self) -> dict:
        if not hasattr(self, "_plus_memo"):
            self._plus_memo = {}
        return self._plus_memo

    def inputs(self, row) -> tuple[list, list]:
        """(base, plus) inputs as the function receives them (MBPP+ turns lists into tuples etc.)."""
        base, plus = row["base_input"], row["plus_input"] or []   # Mbpp/793 has plus_input = {}
        return self.deserialize(row, list(base)), self.deserialize(row, list(plus))

    def deserialize(self, row, inputs: list) -> list:
        return inputs

    def output_not_none(self, row) -> bool:
        return False

    def reference(self, row) -> str:
        return row["prompt"] + row["canonical_solution"]

    def _key(self, row) -> str:
        memo = self._memo()
        hit = memo.get(("key", id(row)))
        if hit is not None and hit[0] is row:
            return hit[1]
        h = hashlib.sha256(json.dumps([row["base_input"], row["plus_input"]], default=repr).encode())
        key = data.content_key("plus-expected", plus_harness.COMPUTE_VERSION, self.plus_dataset,
                               str(row["task_id"]), row["entry_point"], self.reference(row), h.hexdigest())
        memo[("key", id(row))] = (row, key)
        return key

    def prepare_expected(self, rows: list[dict]) -> None:
        """Compute and cache the reference outputs of `rows` that are not cached yet, in one batch."""
        todo = [r for r in rows if _CACHE.get(self._key(r)) is None]
        if not todo:
            return
        log.info("%s: computing expected outputs for %d tasks in the sandbox", self.name, len(todo))
        pairs = []
        for row in todo:
            base, plus = self.inputs(row)
            code = plus_harness.compute_code(row["entry_point"], base + plus, self.output_not_none(row))
            pairs.append((self.reference(row), TestCase.call(code, name="expected")))
        # one wall limit for the batch; rows with more inputs go first (run_pairs orders by limit)
        sizes = [len(r["base_input"]) + len(r["plus_input"] or []) for r in todo]
        limits = [COMPUTE_TIMEOUT_S + n / 1e6 for n in sizes]
        results = run_pairs(pairs, limits, memory_mb=MEMORY_MB)
        for row, r in zip(todo, results):
            got = plus_harness.parse_computed(r.stdout) if r.status is Status.PASSED else None
            if got is None:
                raise RuntimeError(f"{self.family} task {self.task_id(row)}: the canonical solution did not "
                                   f"produce expected outputs ({r.status.value}: {r.error})")
            n_base = len(row["base_input"])
            record = {}
            for name, sl in (("base", slice(0, n_base)), ("plus", slice(n_base, None))):
                record[name] = {"expected": plus_harness.encode(got["values"][sl]), "times": got["times"][sl]}
            _CACHE.put(self._key(row), record)

    def prepare(self, rows: list[dict]) -> None:
        """Expected outputs of every selected row in one sandbox batch, before any model loads
        (compare calls this; scoring row by row would compute them one task at a time)."""
        self.prepare_expected([r for r in rows if "base_input" in r])

    def expected(self, row) -> dict:
        rec = _CACHE.get(self._key(row))
        if rec is None:
            self.prepare_expected([row])
            rec = _CACHE.get(self._key(row))
        return rec

    taxonomy = Taxonomy(seen="the base/plus inputs equal to a visible example's input (the prompt shows them)",
                        never_seen="every other base and plus input (EvalPlus's tests, never shown)")

    def plus_tests(self, row) -> list[TestCase]:
        """Up to four executions: per input set (base, plus), the inputs a visible test shows
        ("base:seen", "plus:seen") and the rest ("base", "plus"), in that order; empty parts are
        left out. All pass exactly when EvalPlus's base and plus verdicts both pass."""
        return [t for t, _ in self._plus_parts(row)]

    def input_parts(self, row) -> list[tuple[str, str, list, list[int]]]:
        """(test name, kind, the set's inputs, indices in this part) for each part of `plus_tests`."""
        shown = self.shown_inputs(row)
        parts = []
        for name, inputs in zip(("base", "plus"), self.inputs(row)):
            seen_idx = [i for i, x in enumerate(inputs) if shown is None or input_key(x) in shown]
            rest_idx = [i for i in range(len(inputs)) if i not in set(seen_idx)]
            for suffix, idx, kind in ((":seen", seen_idx, SEEN), ("", rest_idx, NEVER_SEEN)):
                if idx:
                    parts.append((name + suffix, kind, inputs, idx))
        return parts

    def _plus_parts(self, row) -> list[tuple[TestCase, str]]:
        memo = self._memo()
        hit = memo.get(("tests", id(row)))
        if hit is not None and hit[0] is row:
            return hit[1]
        self.check_hidden(row)
        rec = self.expected(row)
        parts = [(self._inputs_test(row, rec, name.split(":")[0], name, inputs, idx), kind)
                 for name, kind, inputs, idx in self.input_parts(row)]
        memo[("tests", id(row))] = (row, parts)
        return parts

    def _inputs_test(self, row, rec: dict, set_name: str, test_name: str, inputs: list, idx: list[int]) -> TestCase:
        times = [rec[set_name]["times"][i] for i in idx]
        expected_all = plus_harness.decode(rec[set_name]["expected"])
        expected = [expected_all[i] for i in idx]
        limits = [max(MIN_TIME_LIMIT, TIME_LIMIT_FACTOR * t) for t in times]
        case = {"entry_point": row["entry_point"], "dataset": self.plus_dataset, "name": set_name,
                "expected": expected, "limits": limits, "atol": float(row.get("atol") or 0),
                "output_not_none": self.output_not_none(row),
                "reference": self.reference(row) if any(e[0] == "r" for e in expected) else ""}
        recompute = sum(t for t, e in zip(times, expected) if e[0] == "r")
        # EvalPlus's per-task cap, but never under twice what the reference itself needs
        # (Mbpp/599's reference takes ~30-70 s here, over EvalPlus's own 60 s cap).
        case["budget"] = max(min(TASK_TIMEOUT_CAP, sum(limits)), 2.0 * sum(times))
        timeout = 2.0 * (case["budget"] + 2.0 * recompute) + 5.0
        return TestCase.call(plus_harness.check_code(case, [inputs[i] for i in idx]),
                             name=f"{test_name}:{timeout:.1f}")

    def shown_inputs(self, row) -> set[str] | None:
        """Keys (`input_key`) of the inputs the visible tests call the entry point with; None when
        a visible test's input cannot be read as a literal (then every input counts as seen)."""
        keys = set()
        for t in self.visible_tests(row):
            args = literal_call_args(t.code, row["entry_point"])
            if args is None:
                return None
            keys.add(input_key(args))
        return keys

    def test_kinds(self, row) -> list[str]:
        if "base_input" not in row:   # a hub copy scored by its own check(): HumanEval's taxonomy
            return HumanEvalAdapter.test_kinds(self, row)
        return [kind for _, kind in self._plus_parts(row)]

    def test_timeout(self, row, test: TestCase) -> float:
        if ":" in test.name:
            try:
                return float(test.name.rsplit(":", 1)[1])
            except ValueError:
                pass
        return self.timeout_s

    def score_many(self, items):
        self.prepare([row for row, _ in items])
        return super().score_many(items)

    def memory_mb(self, row) -> int:
        return MEMORY_MB


class HumanEvalPlusAdapter(PlusMixin, HumanEvalAdapter):
    """HumanEval+ v0.1.10: visible = checked docstring examples; hidden = base + plus inputs."""

    name = "humaneval_plus"
    family = "HumanEval+"
    dataset = "humaneval_plus"
    plus_dataset = "humaneval"
    required_fields = ("task_id", "prompt", "entry_point")

    @staticmethod
    def hub_copy(row) -> bool:
        """A hub copy of HumanEval+ inlines its tests in `test` instead of base/plus inputs."""
        return "base_input" not in row and bool(row.get("test"))

    def check_hidden(self, row) -> None:
        if not self.hub_copy(row):
            super().check_hidden(row)

    def hidden_tests(self, row) -> list[TestCase]:
        self.check_row(row)
        if self.hub_copy(row):
            return HumanEvalAdapter.hidden_tests(self, row)
        return self.plus_tests(row)


class MBPPPlusAdapter(PlusMixin, Adapter):
    """MBPP+ v0.2.0 (378 tasks, ids "Mbpp/N"): visible = the assert in the prompt."""

    name = "mbpp_plus"
    family = "MBPP+"
    dataset = "mbpp_plus"
    plus_dataset = "mbpp"
    required_fields = ("task_id", "prompt", "entry_point")

    def task_id(self, row) -> str:
        return f"Mbpp/{mbpp_int_id(row['task_id'])}"

    def normalize_id(self, task_id) -> str:
        return f"Mbpp/{mbpp_int_id(task_id)}"

    def deserialize(self, row, inputs):
        try:
            from evalplus.data.mbpp import mbpp_deserialize_inputs
        except ImportError as e:
            raise ImportError("MBPP+ inputs need evalplus's deserializer: pip install 'evalplus>=0.3.1'") from e
        return mbpp_deserialize_inputs(self.task_id(row), inputs)

    def output_not_none(self, row) -> bool:
        return row["entry_point"] in ("check_str", "text_match_three", "text_starta_endb")

    @staticmethod
    def _docstring(prompt: str) -> str:
        m = re.search(r'"""(.*?)"""', prompt, re.S) or re.search(r"'''(.*?)'''", prompt, re.S)
        return m.group(1) if m else prompt

    def visible_asserts(self, row) -> list[str]:
        return [ln.strip() for ln in self._docstring(row["prompt"]).splitlines()
                if ln.strip().startswith("assert ")]

    def description(self, row) -> str:
        lines = [ln for ln in self._docstring(row["prompt"]).splitlines()
                 if not ln.strip().startswith("assert ")]
        return "\n".join(lines).strip()

    def visible_tests(self, row) -> list[TestCase]:
        self.check_row(row)
        return [assert_as_call(a, setup=_module_imports(a), name=f"visible{i}")
                for i, a in enumerate(self.visible_asserts(row))]

    def hidden_tests(self, row) -> list[TestCase]:
        self.check_row(row)
        return self.plus_tests(row)

    def problem(self, row, style: str = "chat", wording: str | None = None) -> Problem:
        self.check_row(row)
        wording = prompts.check_wording(wording)
        entry = row["entry_point"]
        if wording == prompts.STANDARD:   # EvalPlus's instruct flow
            return function_problem(self, row, style, chat_text=prompts.evalplus_user(row["prompt"]),
                                    base_text=row["prompt"], entry_point=entry,
                                    visible=self.visible_tests(row), meta={"prompt_wording": wording},
                                    response_prefix=prompts.evalplus_response_prefix())
        asserts = "\n".join(self.visible_asserts(row))
        chat = (f"{self.description(row)}\n\nWrite it as a Python function named `{entry}`. "
                f"It must pass this test:\n```python\n{asserts}\n```\n"
                f"Answer with the complete function in one ```python code block.")
        return function_problem(self, row, style, chat_text=chat, base_text=row["prompt"],
                                entry_point=entry, visible=self.visible_tests(row),
                                meta={"prompt_wording": wording})


def _module_imports(code: str) -> str:
    """`import math` for `assert math.isclose(...)`: the prompt's asserts use standard modules
    that the dataset imports in its (hidden) assertion block, not in the prompt."""
    import ast
    import sys

    try:
        names = {n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name)}
    except SyntaxError:
        return ""
    return "\n".join(f"import {m}" for m in sorted(names & sys.stdlib_module_names))


