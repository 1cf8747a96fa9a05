"""MBPP, full and sanitized.

MBPP puts its three asserts (`test_list`) in the prompt, so they are the visible tests, as the
benchmark defines them. The hidden tests are the same three asserts plus `challenge_test_list`
(non-empty for 11 tasks). So for plain MBPP the visible tests are also scored; only the challenge
asserts are hidden-only.

`test_imports` (sanitized) become the `setup` of every test (run before the program).
`test_setup_code` (full MBPP, tasks 367 and 927) builds objects from classes the solution defines
(`root = Node(1)`), so it must run after the program: it is put at the top of each test's code,
and shown in the prompt.

Splits follow the task ids: prompt 1-10, test 11-510, validation 511-600, train 601-974.
"""
from __future__ import annotations

import ast
import builtins
import warnings

from task_adapters.base import NEVER_SEEN, SEEN, Problem, Taxonomy
from sandbox.types import TestCase
from task_adapters import data, prompts
from task_adapters.common import Adapter, assert_as_call, function_problem

SPLITS = {"prompt": (1, 10), "test": (11, 510), "validation": (511, 600), "train": (601, 974)}


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def split_of(task_id: int) -> str:
    for name, (lo, hi) in SPLITS.items():
        if lo <= task_id <= hi:
            return name
    return "other"


def _parse(code: str) -> ast.Module | None:
    with warnings.catch_warnings():   # old MBPP code has invalid escapes ("\d" in plain strings)
        warnings.simplefilter("ignore")
        try:
            return ast.parse(code)
        except SyntaxError:
            return None


def defined_functions(code: str) -> list[str]:
    """Names of the top-level functions defined in `code` (empty when it does not parse)."""
    tree = _parse(code)
    if tree is None:
        return []
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def called_names(test: str) -> list[str]:
    """Plain names called in a test, in source order."""
    tree = _parse(test)
    if tree is None:
        return []
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    calls.sort(key=lambda n: (n.lineno, n.col_offset))
    return [c.func.id for c in calls]


def entry_point_from(tests: list[str], reference: str = "") -> str | None:
    """The function the asserts test: the first called name the reference code defines, else the
    first called name that is not a builtin."""
    defined = set(defined_functions(reference))
    names = [n for t in tests for n in called_names(t)]
    for n in names:
        if n in defined:
            return n
    for n in names:
        if not hasattr(builtins, n):
            return n
    return None


def mbpp_int_id(task_id) -> int:
    """11, "11" and "Mbpp/11" all give 11."""
    s = str(task_id)
    s = s.rsplit("/", 1)[-1]
    try:
        return int(s)
    except ValueError:
        raise data.MalformedRow(f"MBPP task id {task_id!r} is not a number or 'Mbpp/N'") from None


class MBPPAdapter(Adapter):
    """MBPP (full): 974 rows; `split` picks prompt/test/validation/train, or "all" (default test)."""

    name = "mbpp"
    family = "MBPP"
    dataset = "mbpp"
    required_fields = ("task_id", "text", "test_list")
    timeout_s = 20.0   # per assert; task 123's reference needs ~9 s for amicable_numbers_sum(9999) here
    default_split = "test"

    def __init__(self, path=None, split: str | None = None):
        split = split or self.default_split
        if split != "all" and split not in SPLITS:
            raise ValueError(f"MBPP split must be one of {sorted(SPLITS)} or 'all', got {split!r}")
        super().__init__(path, split)

    def select(self, rows):
        if self.split == "all":
            return rows
        lo, hi = SPLITS[self.split]
        return [r for r in rows if lo <= mbpp_int_id(r["task_id"]) <= hi]

    def task_id(self, row) -> str:
        return str(mbpp_int_id(row["task_id"]))

    def normalize_id(self, task_id) -> str:
        return str(mbpp_int_id(task_id))

    def check_row(self, row) -> None:
        super().check_row(row)
        if not row["test_list"]:
            raise data.MalformedRow(f"{self.family} task {self.task_id(row)}: row without tests "
                                    f"(test_list is empty)")

    # fields that differ between full and sanitized
    def description(self, row) -> str:
        return row["text"].strip()

    def setup_code(self, row) -> str:
        """Code run before each assert, after the program (needs the program's classes)."""
        return _lf(row.get("test_setup_code") or "").strip()

    def imports(self, row) -> str:
        """Code run before the program (TestCase.setup)."""
        return ""

    def reference(self, row) -> str:
        return row.get("code") or ""

    def visible_asserts(self, row) -> list[str]:
        return [_lf(t).strip() for t in row["test_list"]]

    def hidden_asserts(self, row) -> list[str]:
        return [_lf(t).strip() for t in list(row["test_list"]) + list(row.get("challenge_test_list") or [])]

    def entry_point(self, row) -> str:
        if row.get("entry_point"):
            return row["entry_point"]
        name = entry_point_from(self.visible_asserts(row), self.reference(row))
        if not name:
            raise data.MalformedRow(f"{self.family} task {self.task_id(row)}: cannot find the tested "
                                    f"function's name in its asserts")
        return name

    def _tests(self, asserts: list[str], row, prefix: str) -> list[TestCase]:
        before, after = self.imports(row), self.setup_code(row)
        head = after + "\n" if after else ""
        return [TestCase.call(code=head + a, setup=before, name=f"{prefix}{i}") for i, a in enumerate(asserts)]

    def visible_tests(self, row) -> list[TestCase]:
        """The visible asserts; `assert f(..) == y` becomes the call with its expected value, so the
        signal can say what a candidate returned (scoring keeps the hidden asserts verbatim)."""
        self.check_row(row)
        if self.setup_code(row):  # the setup must run between the program and the assert
            return self._tests(self.visible_asserts(row), row, "visible")
        return [assert_as_call(a, setup=self.imports(row), name=f"visible{i}")
                for i, a in enumerate(self.visible_asserts(row))]

    def hidden_tests(self, row) -> list[TestCase]:
        self.check_row(row)
        self.check_hidden(row)
        return self._tests(self.hidden_asserts(row), row, "hidden")

    taxonomy = Taxonomy(seen="the asserts shown in the prompt (test_list), also scored",
                        never_seen="challenge_test_list (11 of the 500 test tasks have any)")

    def test_kinds(self, row) -> list[str]:
        shown = set(self.visible_asserts(row))
        return [SEEN if a in shown else NEVER_SEEN for a in self.hidden_asserts(row)]

    def meta(self, row) -> dict:
        m = super().meta(row)
        m["split"] = split_of(mbpp_int_id(row["task_id"]))
        return m

    def problem(self, row, style: str = "chat", wording: str | None = None) -> Problem:
        self.check_row(row)
        wording = prompts.check_wording(wording)
        visible = self.visible_tests(row)
        asserts = "\n".join(self.visible_asserts(row))
        entry = self.entry_point(row)
        desc = self.description(row)
        setup = self.setup_code(row)
        if wording == prompts.STANDARD:   # the MBPP paper's prompt; setup code runs before the asserts
            chat = prompts.mbpp_paper(desc, (setup + "\n" if setup else "") + asserts)
            base = chat + "\n```python\n"
        else:
            setup_note = f"Before the asserts, the tests run:\n{setup}\n" if setup else ""
            chat = (f"{desc}\n\nWrite it as a Python function named `{entry}`. "
                    f"It must pass these tests:\n```python\n{setup_note}{asserts}\n```\n"
                    f"Answer with the complete function in one ```python code block.")
            base = f'"""\n{desc}\nThe function {entry} must pass these tests:\n{setup_note}{asserts}\n"""\n'
        meta = {"prompt_wording": wording, **({"test_setup_code": setup} if setup else {})}
        return function_problem(self, row, style, chat_text=chat, base_text=base, entry_point=entry,
                                visible=visible, meta=meta)


class MBPPSanitizedAdapter(MBPPAdapter):
    """MBPP sanitized (427 rows, hand-checked prompts and asserts)."""

    name = "mbpp_sanitized"
    family = "MBPP-sanitized"
    dataset = "mbpp_sanitized"
    required_fields = ("task_id", "prompt", "test_list")

    def description(self, row) -> str:
        return row["prompt"].strip()

    def setup_code(self, row) -> str:
        return ""

    def imports(self, row) -> str:
        return "\n".join(row.get("test_imports") or []).strip()
