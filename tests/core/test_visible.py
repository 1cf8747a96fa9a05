"""core.visible: the one visible-test check (and its one timeout) that every face uses."""
from sandbox.types import TestCase

from egcfg_plugin.core import visible

ADD = "def f(x):\n    return x + 1\n"


def test_counts_only_tests_that_state_an_expectation():
    tests = [TestCase.call("f(1)", expected="2"), TestCase.call("f(2)", expected="4"), TestCase.call("f(3)")]
    assert visible.visible_score(tests, ADD) == (1, 2)
    assert not visible.passes_all(tests, ADD)
    assert visible.passes_all(tests[:1], ADD)


def test_no_test_with_an_expectation_is_not_a_pass():
    assert visible.visible_score([TestCase.call("f(3)")], ADD) == (0, 0)
    assert not visible.passes_all([], ADD)


def test_every_run_uses_the_one_timeout(monkeypatch):
    import sandbox

    seen = []

    def run_many(pairs, **kw):
        seen.append(kw["timeout_s"])
        return [type("R", (), {"passed": True})() for _ in pairs]

    monkeypatch.setattr(sandbox, "run_many", run_many)
    monkeypatch.setattr(visible, "VISIBLE_TIMEOUT_S", 0.25)
    assert visible.visible_score([TestCase.call("f(1)", expected="2")], ADD) == (1, 1)
    assert seen == [0.25]


def test_a_slow_program_fails_its_test_within_the_timeout(monkeypatch):
    monkeypatch.setattr(visible, "VISIBLE_TIMEOUT_S", 0.5)
    slow = "import time\ndef f(x):\n    time.sleep(30)\n    return x + 1\n"
    assert visible.visible_score([TestCase.call("f(1)", expected="2")], slow) == (0, 1)
