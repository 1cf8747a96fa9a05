"""Shared adapter machinery: loading, scoring through the sandbox, and prompt assembly.

A concrete adapter names its dataset and says how a row becomes visible tests, hidden tests and
prompt text; `Adapter` does the rest. Scoring runs the hidden tests in the sandbox with tracing
off; `score_many` batches many (row, code) pairs into few sandbox calls.
"""
from __future__ import annotations

import logging
import os
from collections import defaultdict

from task_adapters.base import FUNCTION, SEEN, TEST_KINDS, Problem, Taxonomy
from sandbox.types import ExecResult, Status, TestCase
from task_adapters import data
from task_adapters.base import Score

log = logging.getLogger(__name__)

STYLES = ("chat", "base")
RESPONSE_PREFIX = "```python\n"
DEFAULT_MEMORY_MB = 2048


def run_pairs(pairs: list[tuple[str, TestCase]], timeouts: list[float],
              memory_mb: int | list[int] = DEFAULT_MEMORY_MB, preload: tuple[str, ...] = ()) -> list[ExecResult]:
    """Run (program, test) pairs in the sandbox without tracing, in one parallel `run_many` call
    per memory cap. A call's wall-clock limit is the largest of its pairs' `timeouts` (so each pair
    gets at least its own), and the longest pairs start first. Results come back in input order.
    Tests that need a tighter limit enforce it themselves (the plus harness counts CPU time).
    `preload`: modules a warm sandbox server pre-imports (sandbox.run_many)."""
    from sandbox.runner import run_many  # lazy: the runner starts a fork-server

    memory = memory_mb if isinstance(memory_mb, list) else [memory_mb] * len(pairs)
    results: list[ExecResult | None] = [None] * len(pairs)
    groups: dict[int, list[int]] = defaultdict(list)
    for i, m in enumerate(memory):
        groups[int(m)].append(i)
    for m, idx in groups.items():
        idx.sort(key=lambda i: -timeouts[i])
        out = run_many([pairs[i] for i in idx], timeout_s=max(timeouts[i] for i in idx), memory_mb=m,
                       trace=False, preload=preload)
        for i, r in zip(idx, out):
            results[i] = r
    return results  # type: ignore[return-value]


def check_style(style: str) -> str:
    if style not in STYLES:
        raise ValueError(f"prompt style must be one of {STYLES}, got {style!r}")
    return style


def as_asserts_block(tests: list[TestCase]) -> str:
    """The visible tests as a user would paste them: one assert (or call) per line."""
    lines = []
    for t in tests:
        if t.kind != "call":
            continue
        code = t.code.strip()
        if t.expected is not None:
            code = f"assert {code} == {t.expected}"
        lines.append(code)
    return "\n".join(lines)


def assert_as_call(code: str, **kw) -> TestCase:
    """A visible test from an MBPP-style ``assert A == B``: the call `A` with expected value `B`,
    so a failing candidate's outcome can say what it returned against what was expected (a bare
    assert only says AssertionError). `A == B` is compared as the assert compares it. Anything
    else (a message, another operator, several statements) stays the assert it was."""
    import ast

    try:
        tree = ast.parse(code)
    except SyntaxError:
        return TestCase.call(code, **kw)
    node = tree.body[0] if len(tree.body) == 1 else None
    if not (isinstance(node, ast.Assert) and node.msg is None and isinstance(node.test, ast.Compare)
            and len(node.test.ops) == 1 and isinstance(node.test.ops[0], ast.Eq)):
        return TestCase.call(code, **kw)
    left = ast.get_source_segment(code, node.test.left)
    right = ast.get_source_segment(code, node.test.comparators[0])
    if not left or not right:
        return TestCase.call(code, **kw)
    return TestCase.call(left.strip(), right.strip(), **kw)


class Adapter:
    """Base for the function- and script-style adapters.

    Subclasses set `name`, `dataset` (a key of `task_adapters.data.SPECS`) and `family`, and
    implement `task_id`, `visible_tests`, `hidden_tests` and `problem`.
    """

    name = "base"
    family = "base"
    dataset = ""
    required_fields: tuple[str, ...] = ()   # needed for the Problem and the visible tests
    hidden_fields: tuple[str, ...] = ()     # needed only for the hidden tests
    timeout_s = 10.0          # per hidden test, wall clock
    default_style = "chat"

    def __init__(self, path: str | os.PathLike | None = None, split: str | None = None):
        self.path = path
        self.split = split
        self._rows: list[dict] | None = None
        self._index: dict[str, dict] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    # -- rows ------------------------------------------------------------------------------------
    def all_rows(self) -> list[dict]:
        """Every row of the dataset file (no split selection), cached on the adapter."""
        if self._rows is None:
            rows = data.load_rows(self.dataset, self.path)
            for r in rows:
                self.check_row(r)
                self.check_hidden(r)
            self._rows = rows
        return self._rows

    def select(self, rows: list[dict]) -> list[dict]:
        """The rows of this adapter's split; all of them unless a subclass knows splits."""
        return rows

    def load(self, limit: int | None = None) -> list[dict]:
        rows = self.select(self.all_rows())
        if limit is not None:
            if limit < 0:
                raise ValueError(f"limit must be >= 0, got {limit}")
            rows = rows[:limit]
        return rows

    def check_row(self, row: dict) -> None:
        """MalformedRow unless `row` has what the Problem and visible tests need."""
        data.require(row, self.required_fields, self._id_for_errors(row), self.family)

    def check_hidden(self, row: dict) -> None:
        """MalformedRow unless `row` has what the hidden tests need."""
        data.require(row, self.hidden_fields, self._id_for_errors(row), self.family)

    def _id_for_errors(self, row: dict) -> str:
        try:
            return self.task_id(row)
        except (KeyError, TypeError, ValueError):
            return "<row without an id>"

    def task_id(self, row: dict) -> str:
        return str(row["task_id"])

    def normalize_id(self, task_id) -> str:
        """The id as this adapter writes it (e.g. 11 -> "11", "Mbpp/2" stays)."""
        return str(task_id)

    def find(self, doc: dict) -> dict:
        """The dataset row that `doc` (a row from another copy, e.g. the hub) stands for; `doc`
        itself when the local data has no such row or cannot be found."""
        try:
            if self._index is None:
                self._index = {self.task_id(r): r for r in self.all_rows()}
        except data.DataNotFound:
            self._index = {}
        key = self.normalize_id(self.raw_id(doc))
        return self._index.get(key, doc)

    def raw_id(self, doc: dict):
        if "task_id" in doc:
            return doc["task_id"]
        raise data.MalformedRow(f"{self.family}: a row without task_id cannot be matched "
                                f"(fields: {', '.join(sorted(doc))})")

    # -- tests -------------------------------------------------------------------------------------
    def visible_tests(self, row: dict) -> list[TestCase]:
        raise NotImplementedError

    def hidden_tests(self, row: dict) -> list[TestCase]:
        raise NotImplementedError

    # the test taxonomy (task_adapters.base): each adapter says which scored tests are seen
    taxonomy = Taxonomy(seen="", never_seen="")

    def test_kinds(self, row: dict) -> list[str]:
        """Every scored test counts as seen unless the adapter says otherwise (so an adapter that
        declares nothing never reports a never-seen figure)."""
        return [SEEN] * len(self.hidden_tests(row))

    def checked_kinds(self, row: dict, n_tests: int) -> list[str]:
        """`test_kinds(row)`, checked to name one known kind per hidden test."""
        kinds = list(self.test_kinds(row))
        if len(kinds) != n_tests or any(k not in TEST_KINDS for k in kinds):
            raise ValueError(f"{self.family} task {self.task_id(row)}: test_kinds gave {kinds!r} for "
                             f"{n_tests} hidden tests; need one of {TEST_KINDS} per test")
        return kinds

    def problem(self, row: dict, style: str = "chat", wording: str | None = None) -> Problem:
        raise NotImplementedError

    def meta(self, row: dict) -> dict:
        m = {"benchmark": self.name, "family": self.family}
        why = self.unscorable(row) if hasattr(self, "unscorable") else None   # CodeContests, DS-1000
        if why:
            m["unscorable"] = why
        return m

    # -- scoring -----------------------------------------------------------------------------------
    def program(self, row: dict, code: str) -> str:
        """The program the hidden tests run against; the code itself for most benchmarks."""
        return code

    def test_timeout(self, row: dict, test: TestCase) -> float:
        return self.timeout_s

    def memory_mb(self, row: dict) -> int:
        return DEFAULT_MEMORY_MB

    def sandbox_preload(self) -> tuple[str, ...]:
        """Modules the sandbox pre-imports for this benchmark's runs (a warm fork-server; every run
        is still a fresh child). None by default."""
        return ()

    def score(self, row: dict, code: str) -> Score:
        return self.score_many([(row, code)])[0]

    def score_many(self, items: list[tuple[dict, str]]) -> list[Score]:
        """Score many (row, code) pairs with as few sandbox calls as possible."""
        pairs, timeouts, memory, owner, kinds = [], [], [], [], []
        for k, (row, code) in enumerate(items):
            program = self.program(row, code)
            tests = self.hidden_tests(row)
            kinds.append(self.checked_kinds(row, len(tests)))
            for t in tests:
                pairs.append((program, t))
                timeouts.append(self.test_timeout(row, t))
                memory.append(self.memory_mb(row))
                owner.append(k)
        results = run_pairs(pairs, timeouts, memory, self.sandbox_preload()) if pairs else []
        per: list[list[ExecResult]] = [[] for _ in items]
        for k, r in zip(owner, results):
            per[k].append(r)
        return [Score(passed=sum(r.status is Status.PASSED for r in rs), total=len(rs), results=rs, kinds=ks)
                for rs, ks in zip(per, kinds)]


def function_problem(adapter: Adapter, row: dict, style: str, *, chat_text: str, base_text: str,
                     entry_point: str, visible: list[TestCase], code_prefix: str = "",
                     meta: dict | None = None, response_prefix: str = RESPONSE_PREFIX,
                     chat_code_prefix: str | None = None) -> Problem:
    """A FUNCTION problem in either style. `base_text` must end with `code_prefix`."""
    check_style(style)
    info = adapter.meta(row)
    info.update(meta or {})
    if style == "chat":
        # The user turn ends with a newline, as lm-eval's egcfg_* tasks render it (user text, then
        # the response prefix), so `egcfg compare` and `lm_eval --apply_chat_template` agree.
        text = chat_text if chat_text.endswith("\n") else chat_text + "\n"
        prompt: str | tuple = ({"role": "user", "content": text},)
        signal_at = None
        if chat_code_prefix is not None:   # the chat answer starts elsewhere (EvalPlus: from scratch)
            code_prefix = chat_code_prefix
    else:
        if not base_text.endswith(code_prefix):
            raise ValueError(f"task {adapter.task_id(row)}: base prompt does not end with the code prefix")
        prompt = base_text
        signal_at = len(base_text) - len(code_prefix)
    return Problem(task_id=adapter.task_id(row), prompt=prompt, visible_tests=tuple(visible),
                   entry_point=entry_point, kind=FUNCTION, code_prefix=code_prefix,
                   response_prefix=response_prefix if style == "chat" else RESPONSE_PREFIX,
                   signal_at=signal_at, meta=info)


def call_key(code: str) -> str | None:
    """The first call in `code`, as a syntax tree dump (formatting ignored); None if none."""
    import ast

    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    return ast.dump(calls[0]) if calls else None


def call_keys(code: str, entry_point: str) -> set[str]:
    """Every call in `code` to `entry_point` or `candidate` (check()'s name for it), as dumps with
    the called name replaced by the entry point."""
    import ast

    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    keys = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in (entry_point, "candidate"):
            keys.add(ast.dump(ast.Call(func=ast.Name(id=entry_point, ctx=ast.Load()), args=n.args,
                                       keywords=n.keywords)))
    return keys
