"""HumanEval-ET and MBPP-ET (CodeScore's extended tests).

Visible tests are those of the base benchmark: HumanEval's checked docstring examples, MBPP's
first three asserts (the ET `test_list` starts with MBPP's original asserts). Hidden tests are
the extended asserts (`test_case_list` for HumanEval-ET; the whole extended `test_list` plus any
`challenge_test_list` for MBPP-ET), run as ONE execution that stops at the first failing assert
and names it. As in plain MBPP, MBPP-ET's three visible asserts are also among the scored ones.

Only 3-row samples of these sets ship in ../shared/data/samples; the full files are what a user
supplies (see task_adapters.data for the file names and where to get them).
"""
from __future__ import annotations

import json

from sandbox.types import TestCase
from task_adapters import data
from task_adapters.humaneval import HumanEvalAdapter
from task_adapters.mbpp import MBPPAdapter

ASSERT_RUNNER = '''
def _egcfg_run_asserts(ns, asserts):
    for i, src in enumerate(asserts):
        try:
            exec(src, ns)
        except AssertionError:
            raise AssertionError("extended test #%d failed: %s" % (i, src[:300])) from None
        except MemoryError:
            raise
        except Exception as exc:
            raise AssertionError("extended test #%d raised %s: %s; test: %s"
                                 % (i, type(exc).__name__, str(exc)[:200], src[:300])) from None
    return len(asserts)
'''


def asserts_test(asserts: list[str], setup: str = "", head: str = "", name: str = "extended") -> TestCase:
    """One test running `asserts` in order after the program (and `head`, e.g. MBPP setup code)."""
    code = ASSERT_RUNNER
    if head:
        code += head + "\n"
    code += f"_egcfg_run_asserts(globals(), {json.dumps(asserts)})\n"
    return TestCase.call(code, setup=setup, name=name)


class HumanEvalETAdapter(HumanEvalAdapter):
    """HumanEval-ET: visible = HumanEval's docstring examples; hidden = test_case_list."""

    name = "humaneval_et"
    family = "HumanEval-ET"
    dataset = "humaneval_et"
    hidden_fields = ("test_case_list",)
    timeout_s = 20.0

    def check_hidden(self, row) -> None:
        super().check_hidden(row)
        if not row["test_case_list"]:
            raise data.MalformedRow(f"{self.family} task {self.task_id(row)}: row without tests "
                                    f"(test_case_list is empty)")

    def hidden_tests(self, row) -> list[TestCase]:
        self.check_row(row)
        self.check_hidden(row)
        return [asserts_test([t.strip() for t in row["test_case_list"]])]


class MBPPETAdapter(MBPPAdapter):
    """MBPP-ET: visible = the 3 original asserts; hidden = the extended test_list."""

    name = "mbpp_et"
    family = "MBPP-ET"
    dataset = "mbpp_et"
    timeout_s = 20.0
    default_split = "all"      # the ET file holds what its publisher kept; no split by id

    def visible_asserts(self, row) -> list[str]:
        return [t.strip() for t in row["test_list"][:3]]

    def hidden_tests(self, row) -> list[TestCase]:
        self.check_row(row)
        return [asserts_test(self.hidden_asserts(row), setup=self.imports(row), head=self.setup_code(row))]
