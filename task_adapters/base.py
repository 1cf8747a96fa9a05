"""The adapter contract: a benchmark row becomes a `Problem` (the prompt and the visible tests,
what the decoding loop is given) and hidden tests, kept apart, for scoring."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from sandbox.types import ExecResult, TestCase

FUNCTION = "function"   # the answer defines `entry_point`; tests call it
STDIO = "stdio"         # the answer is a script; tests feed stdin and read stdout

# The test taxonomy: every scored (hidden) test is one of these. A "seen" test is one a generation
# may have seen: its assert or input is shown in the prompt (the visible tests are drawn from these
# tests, or equal some of them). A "never_seen" test is never in the prompt, the signal or the
# selection. Every report gives pass@1 on all scored tests and on never-seen tests only.
SEEN = "seen"
NEVER_SEEN = "never_seen"
TEST_KINDS = (SEEN, NEVER_SEEN)


@dataclass(frozen=True)
class Taxonomy:
    """What an adapter's scored tests are, in words for reports: `seen` says which scored tests a
    generation may have seen, `never_seen` which it never sees ("" when a benchmark has none)."""

    seen: str
    never_seen: str


@dataclass(frozen=True)
class Problem:
    """One task, as the decoding loop sees it.

    prompt: either chat messages (a list of {"role", "content"} dicts, rendered with the
        tokenizer's chat template; the signal goes at the end of the last user turn) or plain
        text used as is (the signal goes at `signal_at`, a character offset; None means just
        before `code_prefix` when the text ends with it, else at the start).
    code_prefix: code the answer starts with, already written (HumanEval's signature and
        docstring). For chat prompts it is put after `response_prefix` in the assistant turn;
        for text prompts the text must already end with it.
    response_prefix: what the assistant turn starts with before the code, e.g. "```python\\n".
    visible_tests: the examples a user would give. They guide generation and selection.
    chat_rendered: a text prompt that a chat template already rendered (lm-eval's
        --apply_chat_template). The signal is then written as in a chat turn, and the tokenizer
        adds no special tokens of its own.
    """

    task_id: str
    prompt: str | tuple[dict, ...]
    visible_tests: tuple[TestCase, ...] = ()
    entry_point: str | None = None
    kind: str = FUNCTION
    code_prefix: str = ""
    response_prefix: str = "```python\n"
    signal_at: int | None = None
    chat_rendered: bool = False
    meta: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in (FUNCTION, STDIO):
            raise ValueError(f"Problem.kind must be {FUNCTION!r} or {STDIO!r}, got {self.kind!r}")
        if isinstance(self.prompt, list):
            object.__setattr__(self, "prompt", tuple(self.prompt))
        if not isinstance(self.visible_tests, tuple):
            object.__setattr__(self, "visible_tests", tuple(self.visible_tests))
        if self.kind == FUNCTION and not self.entry_point:
            raise ValueError(f"task {self.task_id}: a function problem needs an entry_point")

    @property
    def is_chat(self) -> bool:
        return not isinstance(self.prompt, str)



@dataclass
class Score:
    """How a solution did on one test set. `kinds` (SEEN / NEVER_SEEN, one per result, in the
    order of the adapter's hidden tests) splits the figure by the test taxonomy."""

    passed: int
    total: int
    results: list[ExecResult] = field(default_factory=list, repr=False)
    kinds: list[str] = field(default_factory=list)

    @property
    def all_passed(self) -> bool:
        return self.total > 0 and self.passed == self.total

    def _count(self, kind: str) -> tuple[int, int]:
        picked = [r for r, k in zip(self.results, self.kinds) if k == kind]
        return sum(bool(r.passed) for r in picked), len(picked)

    @property
    def never_seen(self) -> tuple[int, int]:
        """(passed, total) over the never-seen tests."""
        return self._count(NEVER_SEEN)

    @property
    def seen(self) -> tuple[int, int]:
        """(passed, total) over the tests a generation may have seen."""
        return self._count(SEEN)

    @property
    def never_seen_passed(self) -> bool | None:
        """All never-seen tests passed; None when the task has no never-seen test."""
        passed, total = self.never_seen
        return None if total == 0 else passed == total

    @property
    def seen_passed(self) -> bool | None:
        passed, total = self.seen
        return None if total == 0 else passed == total

    @property
    def first_failure(self) -> str | None:
        for r in self.results:
            if not r.passed:
                return f"{r.status.value}: {r.error or ''}".strip()
        return None


class TaskAdapter(Protocol):
    """One benchmark family. The only code that knows a dataset's schema."""

    name: str

    def load(self, limit: int | None = None) -> list[dict]:
        """The rows of the benchmark (local files first, see task_adapters.data)."""

    def task_id(self, row: dict) -> str:
        """The row's id as this benchmark writes it ("HumanEval/0", "Mbpp/2", "11", ...)."""

    def problem(self, row: dict, style: str = "chat") -> Problem:
        """The row as a Problem with visible tests only. style: "chat" (messages for an instruct
        model) or "base" (plain text ending where the code starts)."""

    def visible_tests(self, row: dict) -> list[TestCase]:
        """The examples a user would give: they guide generation and selection."""

    def hidden_tests(self, row: dict) -> list[TestCase]:
        """The tests used for scoring (all of them, seen or not)."""

    taxonomy: Taxonomy

    def test_kinds(self, row: dict) -> list[str]:
        """SEEN or NEVER_SEEN for each of `hidden_tests(row)`, in the same order."""

    def score(self, row: dict, code: str) -> Score:
        """Run `code` on the hidden tests in the sandbox."""
