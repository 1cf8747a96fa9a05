"""CodeContests (stdin/stdout programs).

Visible tests: `public_tests` (the examples in the statement). Hidden tests: the private and
generated tests; this project's file merges them as `private_and_generated_tests`, and upstream
rows with separate `private_tests` / `generated_tests` are accepted too. Output is compared token
by token with a 1e-4 numeric tolerance.

Four problems of the test split accept any valid answer (a special judge) or are interactive, so
output comparison cannot score them; their Problem carries ``meta["unscorable"]`` with the reason.
The time limit per test is the problem's limit times `TIME_FACTOR` (Python is slower than the
C++ the limits were set for), within [MIN_TIMEOUT_S, MAX_TIMEOUT_S]; a row without a limit (or
with a zero one) gets DEFAULT_LIMIT_S, and `meta["time_limit_s"]` says what was used.
"""
from __future__ import annotations

from task_adapters.base import NEVER_SEEN, SEEN, STDIO, Problem, Taxonomy
from sandbox.types import TestCase
from task_adapters import data, prompts
from task_adapters.common import RESPONSE_PREFIX, Adapter, check_style

ATOL = 1e-4
TIME_FACTOR = 3.0
MIN_TIMEOUT_S = 2.0
MAX_TIMEOUT_S = 20.0
DEFAULT_LIMIT_S = 2.0      # when a row gives no limit: the most common Codeforces limit
UNSCORABLE = {
    (1579, "D"): "special judge: any valid answer is accepted",
    (1586, "A"): "special judge: any valid answer is accepted",
    (1594, "A"): "special judge: any valid answer is accepted",
    (1586, "D"): "interactive problem",
}


def _pairs(tests) -> list[tuple[str, str]]:
    if not tests:
        return []
    return list(zip(tests.get("input") or [], tests.get("output") or []))


class CodeContestsAdapter(Adapter):
    name = "codecontests"
    family = "CodeContests"
    dataset = "codecontests"
    required_fields = ("name", "description", "public_tests")
    default_style = "chat"

    def task_id(self, row) -> str:
        return str(row["name"])

    def raw_id(self, doc):
        return doc.get("name", doc.get("task_id"))

    def check_hidden(self, row) -> None:
        self.problem_time_limit_s(row)      # a malformed limit is named at load time
        if not self.hidden_pairs(row):
            raise data.MalformedRow(f"{self.family} task {self.task_id(row)}: row without tests "
                                    f"(no private_and_generated_tests, private_tests or generated_tests)")

    def hidden_pairs(self, row) -> list[tuple[str, str]]:
        if row.get("private_and_generated_tests"):
            return _pairs(row["private_and_generated_tests"])
        return _pairs(row.get("private_tests")) + _pairs(row.get("generated_tests"))

    def unscorable(self, row) -> str | None:
        """Why output comparison cannot score this problem, or None."""
        try:
            key = (int(row.get("cf_contest_id")), str(row.get("cf_index")))
        except (TypeError, ValueError):
            key = None
        if key in UNSCORABLE:
            return UNSCORABLE[key]
        head = str(row.get("name", "")).split(".")[0]
        for (contest, index), why in UNSCORABLE.items():
            if head == f"{contest}_{index}":
                return why
        return None

    def problem_time_limit_s(self, row) -> float | None:
        """The statement's time limit in seconds; None when the row gives none (missing, null or
        zero: upstream rows carry {"seconds": 0, "nanos": 0} for "not recorded"). A negative or
        non-numeric limit is a MalformedRow naming the value."""
        tl = row.get("time_limit")
        if tl is None:
            return None
        try:
            seconds = float(tl.get("seconds") or 0) + float(tl.get("nanos") or 0) / 1e9
        except (AttributeError, TypeError, ValueError):
            seconds = -1.0
        if seconds < 0 or seconds != seconds:
            raise data.MalformedRow(f"{self.family} task {self._id_for_errors(row)}: time_limit {tl!r} is not a "
                                    f"time (expected {{'seconds': N, 'nanos': N}}, N >= 0)")
        return seconds or None

    def time_limit_s(self, row) -> float:
        """Seconds per test for Python: the statement's limit (DEFAULT_LIMIT_S when it gives none)
        times TIME_FACTOR, within [MIN_TIMEOUT_S, MAX_TIMEOUT_S]."""
        seconds = self.problem_time_limit_s(row) or DEFAULT_LIMIT_S
        return min(MAX_TIMEOUT_S, max(MIN_TIMEOUT_S, TIME_FACTOR * seconds))

    def test_timeout(self, row, test) -> float:
        return self.time_limit_s(row)

    def visible_tests(self, row) -> list[TestCase]:
        return [TestCase.stdio(i, o, atol=ATOL, name=f"public{k}")
                for k, (i, o) in enumerate(_pairs(row["public_tests"]))]

    def hidden_tests(self, row) -> list[TestCase]:
        self.check_row(row)
        self.check_hidden(row)
        return [TestCase.stdio(i, o, atol=ATOL, name=f"hidden{k}")
                for k, (i, o) in enumerate(self.hidden_pairs(row))]

    taxonomy = Taxonomy(seen="private/generated tests equal to a public example (input and output)",
                        never_seen="the private and generated tests")

    def test_kinds(self, row) -> list[str]:
        public = {(i.strip(), o.strip()) for i, o in _pairs(row["public_tests"])}
        return [SEEN if (i.strip(), o.strip()) in public else NEVER_SEEN for i, o in self.hidden_pairs(row)]

    def meta(self, row) -> dict:
        m = super().meta(row)
        m["time_limit_s"] = self.time_limit_s(row)
        return m

    def problem(self, row, style: str = "chat", wording: str | None = None) -> Problem:
        check_style(style)   # one wording: no chat prompt of record (task_adapters.prompts)
        prompts.check_wording(wording)
        self.check_row(row)
        desc = row["description"].strip()
        if style == "chat":
            text = ("Solve this competitive programming problem in Python 3. Read the input from "
                    "standard input and print the answer to standard output.\n\n"
                    f"{desc}\n\nAnswer with the complete program in one ```python code block.")
            prompt: str | tuple = ({"role": "user", "content": text},)
            signal_at = None
        else:
            body = desc.replace('"""', '\\"\\"\\"')
            prompt = (f'"""\n{body}\n\nA Python 3 program that reads standard input and prints '
                      f'the answer.\n"""\n')
            signal_at = len(prompt)
        return Problem(task_id=self.task_id(row), prompt=prompt, visible_tests=tuple(self.visible_tests(row)),
                       entry_point=None, kind=STDIO, code_prefix="", response_prefix=RESPONSE_PREFIX,
                       signal_at=signal_at, meta=self.meta(row))
