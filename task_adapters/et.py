"""HumanEval-ET and MBPP-ET (CodeScore's extended tests).

Visible tests are those of the base benchmark: HumanEval's checked docstring examples, MBPP's
first three asserts (the ET `test_list` starts with MBPP's original asserts). Hidden tests are
the extended asserts (`test_case_list` for HumanEval-ET; the whole extended `test_list` plus any
`challenge_test_list` for MBPP-ET), run as two executions, each stopping at its first failing
assert and naming it: the asserts a visible test shows (seen: MBPP-ET's three original asserts,
HumanEval-ET asserts making a docstring example's call) and the rest (never seen).

Only 3-row samples of these sets ship in ../shared/data/samples; the full files are what a user
supplies (see task_adapters.data for the file names and where to get them).
"""
from __future__ import annotations

import json

from sandbox.types import TestCase
from task_adapters import data
from task_adapters.base import NEVER_SEEN, SEEN, Taxonomy
from task_adapters.common import call_key
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

    taxonomy = Taxonomy(seen="extended asserts making a call a visible docstring example makes",
                        never_seen="the other extended asserts (test_case_list)")

    def _parts(self, row) -> list[tuple[list[str], str]]:
        shown = {call_key(t.code) for t in self.visible_tests(row)} - {None}
        return split_asserts([t.strip() for t in row["test_case_list"]], lambda a: call_key(a) in shown)

    def hidden_tests(self, row) -> list[TestCase]:
        self.check_row(row)
        self.check_hidden(row)
        return [asserts_test(a, name=f"extended-{k}") for a, k in self._parts(row)]

    def test_kinds(self, row) -> list[str]:
        return [k for _, k in self._parts(row)]


class MBPPETAdapter(MBPPAdapter):
    """MBPP-ET: visible = the 3 original asserts; hidden = the extended test_list."""

    name = "mbpp_et"
    family = "MBPP-ET"
    dataset = "mbpp_et"
    timeout_s = 20.0
    default_split = "all"      # the ET file holds what its publisher kept; no split by id

    def visible_asserts(self, row) -> list[str]:
        return [t.strip() for t in row["test_list"][:3]]

    taxonomy = Taxonomy(seen="the 3 original asserts shown in the prompt (the start of the extended test_list)",
                        never_seen="the other extended asserts")

    def _parts(self, row) -> list[tuple[list[str], str]]:
        shown = set(self.visible_asserts(row))
        keys = {call_key(a) for a in shown} - {None}
        return split_asserts(self.hidden_asserts(row), lambda a: a in shown or call_key(a) in keys)

    def hidden_tests(self, row) -> list[TestCase]:
        self.check_row(row)
        return [asserts_test(a, setup=self.imports(row), head=self.setup_code(row), name=f"extended-{k}")
                for a, k in self._parts(row)]

    def test_kinds(self, row) -> list[str]:
        return [k for _, k in self._parts(row)]


def split_asserts(asserts: list[str], is_seen) -> list[tuple[list[str], str]]:
    """(asserts, kind) for the seen and then the never-seen asserts, each group kept in order;
    empty groups are left out."""
    seen = [a for a in asserts if is_seen(a)]
    rest = [a for a in asserts if not is_seen(a)]
    return [(group, kind) for group, kind in ((seen, SEEN), (rest, NEVER_SEEN)) if group]
