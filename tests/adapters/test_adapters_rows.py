"""Every row of every benchmark: it parses, becomes a Problem in both styles, and its visible and
hidden tests are split as the benchmark defines (no hidden-only test reaches the visible set)."""
from __future__ import annotations

import ast
import json

import pytest

from task_adapters.base import FUNCTION, STDIO
from task_adapters.data import DataNotFound


def as_assert(t) -> str:
    """A call test in one normal form: the AST of its last statement, where a call with an expected
    value counts as `assert call == expected` (the form MBPP's visible asserts are turned into)."""
    code = f"assert ({t.code}) == ({t.expected})" if t.expected is not None else t.code
    try:
        return ast.dump(ast.parse(code).body[-1])
    except SyntaxError:
        return code


def key(t):
    if t.kind == "call":
        return (t.kind, as_assert(t), t.stdin, t.expected_stdout, t.setup)
    return (t.kind, t.code, t.expected, t.stdin, t.expected_stdout, t.setup)


def load(adapter, n: int | None = None):
    try:
        rows = adapter.load()
    except DataNotFound as e:
        pytest.skip(str(e))
    if n is not None:
        assert len(rows) == n
    return rows


def prompt_text(problem) -> str:
    if problem.is_chat:
        return "\n".join(m["content"] for m in problem.prompt)
    return problem.prompt


def check_rows(adapter, rows, shared, *, kind=FUNCTION, hidden=True, hidden_fields=()):
    """Both prompt styles build; the Problem carries exactly the visible tests; the visible and
    hidden sets overlap exactly in `shared(row)` (test keys the benchmark itself shows); and the
    Problem is the same when the row's hidden-test fields are deleted (it cannot depend on them)."""
    ids = set()
    for row in rows:
        tid = adapter.task_id(row)
        ids.add(tid)
        chat, base = adapter.problem(row, style="chat"), adapter.problem(row, style="base")
        assert chat.task_id == base.task_id == tid
        assert chat.kind == base.kind == kind
        assert chat.is_chat and chat.prompt[-1]["role"] == "user" and chat.prompt[-1]["content"].strip()
        assert isinstance(base.prompt, str) and base.prompt.endswith(base.code_prefix)
        assert 0 <= base.signal_at <= len(base.prompt) - len(base.code_prefix)
        assert chat.response_prefix.endswith("```python\n")    # EvalPlus's flow prefixes a sentence
        visible = adapter.visible_tests(row)
        assert tuple(visible) == chat.visible_tests == base.visible_tests, tid
        if hidden_fields:
            blind = {k: v for k, v in row.items() if k not in hidden_fields}
            assert len(blind) < len(row), (tid, "no hidden field to delete")
            assert adapter.problem(blind) == chat and adapter.problem(blind, style="base") == base, tid
        if hidden:
            tests = adapter.hidden_tests(row)
            assert tests, tid
            overlap = {key(t) for t in visible} & {key(t) for t in tests}
            assert overlap == shared(row), tid
    assert len(ids) == len(rows), "task ids must be unique"


def nothing(row):
    return set()


PLUS_HIDDEN = ("base_input", "plus_input", "test", "assertion", "atol", "contract")


# -- MBPP: the three asserts are in the prompt, and they are also scored ----------------------------
def test_mbpp_every_row():
    from task_adapters.mbpp import MBPPAdapter, split_of

    adapter = MBPPAdapter(split="all")
    rows = load(adapter, 974)
    assert [len(MBPPAdapter(split=s).load()) for s in ("prompt", "test", "validation", "train")] == [10, 500, 90, 374]

    def shared(row):   # the visible asserts are exactly test_list; challenge asserts stay hidden
        vis = adapter.visible_tests(row)
        assert [as_assert(t) for t in vis] == [ast.dump(ast.parse(a).body[-1]) for a in row["test_list"]]
        return {key(t) for t in vis}

    check_rows(adapter, rows, shared, hidden_fields=("challenge_test_list",))
    for row in rows:
        chat = adapter.problem(row)
        text = prompt_text(chat)
        for a in row["test_list"]:
            assert a.strip() in text
        for a in row["challenge_test_list"]:
            assert a.strip() not in text
        assert chat.entry_point in row["code"] and chat.meta["split"] == split_of(row["task_id"])
    hidden_only = sum(len(adapter.hidden_tests(r)) - len(adapter.visible_tests(r)) for r in rows)
    assert hidden_only == sum(len(r["challenge_test_list"]) for r in rows) > 0


def test_mbpp_setup_code_runs_after_the_program():
    from task_adapters.mbpp import MBPPAdapter

    adapter = MBPPAdapter(split="all")
    rows = {adapter.task_id(r): r for r in load(adapter)}
    with_setup = [t for t, r in rows.items() if r["test_setup_code"].strip()]
    assert with_setup == ["367", "927"]
    for t in with_setup:
        test = adapter.hidden_tests(rows[t])[0]
        assert test.setup == "" and test.code.startswith("root = Node(1)")
        assert "root = Node(1)" in prompt_text(adapter.problem(rows[t]))


def test_mbpp_sanitized_every_row():
    from task_adapters.mbpp import MBPPSanitizedAdapter

    adapter = MBPPSanitizedAdapter(split="all")
    rows = load(adapter, 427)
    check_rows(adapter, rows, lambda row: {key(t) for t in adapter.visible_tests(row)})
    imports = [r for r in rows if r["test_imports"]]
    assert imports and all(adapter.visible_tests(r)[0].setup == "\n".join(r["test_imports"]) for r in imports)


# -- HumanEval and HumanEval+: docstring examples visible, check()/plus inputs hidden --------------
def test_humaneval_every_row():
    pytest.importorskip("sandbox.runner")
    from task_adapters.humaneval import HumanEvalAdapter

    adapter = HumanEvalAdapter()
    rows = load(adapter, 164)
    check_rows(adapter, rows, nothing, hidden_fields=("test",))
    for row in rows:
        chat, base = adapter.problem(row), adapter.problem(row, style="base")
        own = adapter.problem(row, wording="project")
        assert own.code_prefix == base.code_prefix == base.prompt == row["prompt"]
        assert chat.code_prefix == "" and row["prompt"].strip() in prompt_text(chat)   # EvalPlus: from scratch
        assert row["test"].strip() not in prompt_text(chat)
        for t in chat.visible_tests:
            assert "candidate(" not in t.code and not t.code.startswith("check(")


def test_humaneval_plus_every_row():
    pytest.importorskip("sandbox.runner")
    from task_adapters.plus import HumanEvalPlusAdapter

    adapter = HumanEvalPlusAdapter()
    rows = load(adapter, 164)
    check_rows(adapter, rows, nothing, hidden=False, hidden_fields=PLUS_HIDDEN)
    n_examples = sum(1 for r in rows if adapter.visible_record(r)["examples"])
    assert n_examples == 159
    from task_adapters.humaneval import HumanEvalAdapter

    base = HumanEvalAdapter()
    base_rows = {base.task_id(r): r for r in base.load()}
    same_prompt = [r for r in rows if r["prompt"] == base_rows[adapter.task_id(r)]["prompt"]]
    assert len(same_prompt) >= 160
    for row in same_prompt:     # the visible tests of the base benchmark
        assert adapter.visible_tests(row) == base.visible_tests(base_rows[adapter.task_id(row)])


def test_mbpp_plus_every_row():
    from task_adapters.plus import MBPPPlusAdapter

    adapter = MBPPPlusAdapter()
    rows = load(adapter, 378)
    check_rows(adapter, rows, nothing, hidden=False, hidden_fields=PLUS_HIDDEN)
    for row in rows:
        vis = adapter.visible_tests(row)
        (shown,) = adapter.visible_asserts(row)                       # the one assert in the prompt
        assert len(vis) == 1 and shown in row["prompt"] and shown.startswith("assert ")
        assert as_assert(vis[0]) == ast.dump(ast.parse(shown).body[-1])
        assert ("import math" in vis[0].setup) == ("import math" in row["assertion"])
        assert adapter.problem(row).entry_point == row["entry_point"]


# -- CodeContests: public visible, private + generated hidden ---------------------------------------
def test_codecontests_every_row():
    from task_adapters.codecontests import CodeContestsAdapter

    adapter = CodeContestsAdapter()
    rows = load(adapter)

    def shared(row):   # the dataset lists some public examples among its private tests too
        public = list(zip(row["public_tests"]["input"], row["public_tests"]["output"]))
        both = set(public) & set(adapter.hidden_pairs(row))
        return {key(t) for t in adapter.visible_tests(row) if (t.stdin, t.expected_stdout) in both}

    check_rows(adapter, rows, shared, kind=STDIO,
               hidden_fields=("private_and_generated_tests", "private_tests", "generated_tests"))
    assert sum(len(adapter.visible_tests(r)) for r in rows) == sum(len(r["public_tests"]["input"]) for r in rows)
    flagged = {adapter.task_id(r).split(".")[0] for r in rows if "unscorable" in adapter.problem(r).meta}
    assert flagged == {"1579_D", "1586_A", "1594_A", "1586_D"}
    for row in rows:
        assert all(t.atol == 1e-4 for t in adapter.hidden_tests(row) + adapter.visible_tests(row))


# -- DS-1000: the prompt; a run-without-error visible test; code_context's tests hidden -------------
def test_ds1000_every_row():
    from task_adapters.ds1000 import HEADLESS, DS1000Adapter

    adapter = DS1000Adapter()
    rows = load(adapter, 1000)
    check_rows(adapter, rows, nothing, kind=STDIO)
    with_visible = [r for r in rows if adapter.visible_tests(r)]
    by_library = {}
    for r in with_visible:
        by_library[adapter.library(r)] = by_library.get(adapter.library(r), 0) + 1
    # the rest load their data (`load_data()`: the prompt does not show it) or answer inside a function
    assert by_library == {"Pandas": 275, "Numpy": 207, "Matplotlib": 155, "Tensorflow": 35, "Scipy": 95,
                          "Sklearn": 23, "Pytorch": 5}
    for row in with_visible:     # the visible test is built from the prompt alone (issue 12, 6d)
        (t,) = adapter.visible_tests(row)
        assert t.expected is None and "generate_test_case" not in t.setup + t.code
        assert t.setup.startswith(HEADLESS) and t.setup[len(HEADLESS):].strip() in row["prompt"]
    hidden_data = next(r for r in rows if adapter.task_id(r) == "DS1000/828")   # its DataFrame is hidden
    assert "load_data()" in hidden_data["prompt"] and adapter.visible_tests(hidden_data) == []
    for row in rows:
        assert "test_execution(_egcfg_solution)" in adapter.hidden_tests(row)[0].code
        assert adapter.problem(row, style="base").prompt == row["prompt"]


# -- the ET samples: base-benchmark visible tests, extended tests hidden --------------------------
def test_et_samples_every_row(et_samples):
    pytest.importorskip("sandbox.runner")
    from task_adapters.et import HumanEvalETAdapter, MBPPETAdapter
    from task_adapters.mbpp import MBPPAdapter

    he = HumanEvalETAdapter(path=et_samples / "HumanEval_ET.sample3.jsonl")
    rows = load(he, 3)
    check_rows(he, rows, nothing, hidden_fields=("test_case_list", "test"))
    for row in rows:
        code = "".join(t.code for t in he.hidden_tests(row))   # seen asserts, then the rest
        assert all(json.dumps(a.strip()) in code or json.dumps(a.strip())[1:-1] in code
                   for a in row["test_case_list"][:3])
        assert not any(t.code in row["test_case_list"] for t in he.visible_tests(row))
    mb = MBPPETAdapter(path=et_samples / "MBPP_ET.sample3.jsonl")
    rows = load(mb, 3)
    check_rows(mb, rows, nothing)
    originals = {r["task_id"]: r for r in MBPPAdapter(split="all").load()}
    for row in rows:
        assert [as_assert(t) for t in mb.visible_tests(row)] == \
            [ast.dump(ast.parse(a).body[-1]) for a in originals[row["task_id"]]["test_list"]]
        visible = [a.strip() for a in row["test_list"][:3]]
        hidden_only = [a.strip() for a in row["test_list"][3:] if a.strip() not in visible]
        assert len(hidden_only) > 80
        shown = prompt_text(mb.problem(row))
        assert not any(a in shown for a in hidden_only)
