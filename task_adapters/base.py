"""The adapter contract: a benchmark row becomes a `Problem` (the prompt and the visible tests,
what the decoding loop is given) and hidden tests, kept apart, for scoring."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from sandbox.types import ExecResult, TestCase

FUNCTION = "function"   # the answer defines `entry_point`; tests call it
STDIO = "stdio"         # the answer is a script; tests feed stdin and read stdout


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
    """How a solution did on one test set."""

    passed: int
    total: int
    results: list[ExecResult] = field(default_factory=list, repr=False)

    @property
    def all_passed(self) -> bool:
        return self.total > 0 and self.passed == self.total

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
        """The tests used for scoring. Never shown to the model."""

    def score(self, row: dict, code: str) -> Score:
        """Run `code` on the hidden tests in the sandbox."""
