"""The visible-test check: how many of a problem's visible tests (the examples its prompt shows)
a program passes. One function and one timeout for every face: the decoding loop's result, the
sample-filter control, lm-eval's visible_pass@1 and EvalPlus codegen all count the same way.

Only tests that state an expected value (or assert) count: a bare call passes whatever it returns,
so it says nothing about the program. The selection rule (agents.selection) reads these counts.
"""
from __future__ import annotations

from typing import Iterable

VISIBLE_TIMEOUT_S = 5.0   # per test; generous, as the examples in a prompt are small


def visible_score(tests: Iterable, code: str) -> tuple[int, int]:
    """(passed, total) of `code` on the `tests` (sandbox TestCases) that state an expectation."""
    tests = [t for t in tests if t.has_expectation]
    if not tests:
        return 0, 0
    from sandbox import run_many

    results = run_many([(code, t) for t in tests], timeout_s=VISIBLE_TIMEOUT_S, trace=False)
    return sum(r.passed for r in results), len(tests)


def passes_all(tests: Iterable, code: str) -> bool:
    """True when `code` passes every visible test that states an expectation, and there is one."""
    passed, total = visible_score(tests, code)
    return total > 0 and passed == total
