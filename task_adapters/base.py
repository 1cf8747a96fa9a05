"""The adapter contract: a benchmark row becomes a Problem (visible tests) and hidden tests."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from egcfg_plugin.problem import Problem
from sandbox.types import ExecResult, TestCase


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
