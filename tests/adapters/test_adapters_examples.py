"""HumanEval visible tests: docstring example extraction, the visible examples of all 164 tasks
(from the prompt alone), and the report of those the reference disagrees with."""
from __future__ import annotations

import pytest

from task_adapters.examples import docstring_source, extract_examples, parse_value


def doc(body: str, sig: str = "def f(x):") -> str:
    lines = "\n".join("    " + ln if ln else "" for ln in body.strip("\n").splitlines())
    return f'{sig}\n    """\n{lines}\n    """\n'


def pairs(prompt: str, entry: str = "f"):
    return [(e.code, e.expected) for e in extract_examples(prompt, entry)]


@pytest.mark.parametrize("body, expected", [
    (">>> f(1)\n2\n>>> f([1, 2])\n[2, 3]", [("f(1)", "2"), ("f([1, 2])", "[2, 3]")]),
    (">>> f(1) == 2", [("f(1)", "2")]),
    (">>> f([])\n\n>>> f(2)\n3", [("f([])", "None"), ("f(2)", "3")]),          # empty output: None
    (">>> round(f(1), 2)  # a comment\n0.5", [("round(f(1), 2)", "0.5")]),
    (">>> f(['a',\n...    'b'])\n['A',\n 'B']", [("f(['a', 'b'])", "['A', 'B']")]),
    (">>> f(1) [0, 1]", [("f(1)", "[0, 1]")]),                                     # a missing ==
    ("f(1) == 2\nf(2) ➞ 3\nf(3) -> 4\nf(4) => 5\nf(5) ==> 6\nf(6) = 7",
     [("f(1)", "2"), ("f(2)", "3"), ("f(3)", "4"), ("f(4)", "5"), ("f(5)", "6"), ("f(6)", "7")]),
    ("f(1) should return 2.\nf(2) returns 'b'\nf(3)   # returns \"c\"\nf(4) # => 'd'",
     [("f(1)", "2"), ("f(2)", "'b'"), ("f(3)", "'c'"), ("f(4)", "'d'")]),
    ("f([1, 3]) == 1 + 9 = 10", [("f([1, 3])", "10")]),                           # a worked chain
    ("f(1) => true\nf(2) => False", [("f(1)", "True"), ("f(2)", "False")]),
    ("* f(1) => 2\n- f(2) => 3\nfor f(3) == 4", [("f(1)", "2"), ("f(2)", "3"), ("f(3)", "4")]),
    ("f([\n  1,\n  2]) == [2, 3]", [("f([1, 2])", "[2, 3]")]),                      # call over lines
    ("f(abc) => True", [("f('abc')", "True")]),                                    # bare word: a string
    ("g(1) ==> 2", [("f(1)", "2")]),                                               # another name, line start
    ("For example f(1) should\nreturn 2 and f(3) should\nreturn 4.", [("f(1)", "2"), ("f(3)", "4")]),
    ("Input: [1, 2]\nOutput: 3\nInput: []\nOutput: 0  # empty", [("f([1, 2])", "3"), ("f([])", "0")]),
    ("For x = 3 the output should be 9.\nFor x = [1] the result should be (1, True)",
     [("f(3)", "9"), ("f([1])", "(1, True)")]),
    ("x = [2, 1]\n   -> sort -> [1, 2]\nreturn [1, 2]", [("f([2, 1])", "[1, 2]")]),
    ("f(x) == f(x - 1) + 1", []),                                                  # a rule, not an example
    ("no examples here", []),
])
def test_forms(body, expected):
    assert pairs(doc(body)) == expected


def test_named_inputs_follow_the_signature():
    prompt = doc("Input: b = 2, a = [1]\nOutput: 5\n\nInput:\n    a : [3]\n    b : 4\nOutput: 7", sig="def f(a, b):")
    assert pairs(prompt) == [("f([1], 2)", "5"), ("f([3], 4)", "7")]
    prompt = doc("For a = 1, the weight is heavy the output should be 2", sig="def f(a):")
    assert pairs(prompt) == [("f(1)", "2")]


def test_only_the_entry_points_docstring_is_read():
    prompt = ('def helper(x):\n    """\n    >>> helper(1)\n    5\n    """\n    return 5\n\n\n'
              + doc(">>> f(1)\n2"))
    assert pairs(prompt) == [("f(1)", "2")]


def test_escapes_stay_as_written_in_the_source():
    prompt = 'def f(s):\n    """\n    >>> f("a\\nb")\n    \'a\\nb\'\n    """\n'
    assert docstring_source(prompt, "f").count("\\n") == 2
    assert pairs(prompt) == [("f('a\\nb')", "'a\\nb'")]


def test_calls_without_a_value_are_kept_as_calls():
    exs = extract_examples(doc("Try f(1), it is nice."), "f")
    assert [(e.code, e.expected, e.form) for e in exs] == [("f(1)", None, "call")]


def test_parse_value_takes_the_longest_literal_prefix_at_a_word_boundary():
    assert parse_value("15 and f(3) should") == "15"
    assert parse_value("[1, 2].") == "[1, 2]"
    assert parse_value("'x' # note") == "'x'"
    assert parse_value('""abc"') is None
    assert parse_value("nothing") is None


def test_extraction_is_deterministic_on_humaneval():
    from task_adapters.data import locate, read_rows

    rows = read_rows(locate("humaneval"))
    first = [extract_examples(r["prompt"], r["entry_point"]) for r in rows]
    again = [extract_examples(r["prompt"], r["entry_point"]) for r in rows]
    assert first == again
    assert sum(any(e.expected is not None for e in ex) for ex in first) == 159


# -- the visible examples of the 164 HumanEval tasks (the report uses the sandbox) ----------------
# Found by running the extraction; any change to these sets is a change in what the model sees.
NO_VISIBLE = {  # the prompt shows no example and no call
    "HumanEval/38": "the docstring has no example", "HumanEval/41": "the docstring has no example",
    "HumanEval/50": "the docstring has no example", "HumanEval/83": "the docstring has no example",
    "HumanEval/160": "the example is prose (operator['+', '*', '-'] ... => result = 9)",
}
DISAGREE = {  # visible examples the canonical solution (which passes check()) does not reproduce
    ("HumanEval/47", "median([-10, 4, 6, 1000, 10, 20])", "15.0"),        # a typo: check() says 8.0
    ("HumanEval/116", "sort_array([1, 5, 2, 3, 4])", "[1, 2, 3, 4, 5]"),  # contradicts its own rule
    ("HumanEval/116", "sort_array([-2, -3, -4, -5, -6])", "[-6, -5, -4, -3, -2]"),
    ("HumanEval/116", "sort_array([1, 0, 2, 3, 4])", "[0, 1, 2, 3, 4]"),
    # the recurrence's values, read as examples (tri() returns the list, `tri(3) = [1, 3, 2, 8]`)
    ("HumanEval/130", "tri(1)", "3"), ("HumanEval/130", "tri(2)", "2"), ("HumanEval/130", "tri(4)", "3"),
    ("HumanEval/148", "bf('Earth', 'Mercury')", "'Venus'"),   # ("Venus") is a str, the answer a tuple
}


@pytest.fixture(scope="module")
def humaneval():
    pytest.importorskip("sandbox.runner")
    from task_adapters.humaneval import HumanEvalAdapter

    adapter = HumanEvalAdapter()
    return adapter, adapter.load()


def test_humaneval_visible_example_figures(humaneval):
    adapter, rows = humaneval
    records = {adapter.task_id(r): adapter.visible_record(r) for r in rows}
    with_examples = {t for t, rec in records.items() if rec["examples"]}
    assert len(records) == 164 and len(with_examples) == 159
    assert set(records) - with_examples == set(NO_VISIBLE)
    assert not any(rec["calls"] for rec in records.values())
    stats = adapter.example_stats(rows)
    assert stats == {"tasks": 164, "with_examples": 159, "calls_only": 0, "no_visible_test": 5,
                     "examples": sum(len(rec["examples"]) for rec in records.values()),
                     "examples_disagreeing_with_reference": len(DISAGREE),
                     "tasks_with_disagreeing_examples": ["HumanEval/47", "HumanEval/116", "HumanEval/130",
                                                         "HumanEval/148"],
                     "unchecked_tasks": 0}
    found = {(t, d[0], d[1]) for t, ds in adapter.disagreements(rows).items() for d in ds or []}
    assert found == DISAGREE
    visible = {(t, code, expected) for t, rec in records.items() for code, expected, _ in rec["examples"]}
    assert DISAGREE <= visible     # reported, still shown: a user would see them


def test_visible_tests_come_from_the_prompt_alone(humaneval):
    """Neither the canonical solution nor check() decides what is visible (issue 12, 6c)."""
    adapter, rows = humaneval
    row = next(r for r in rows if r["task_id"] == "HumanEval/47")
    tests = [(t.code, t.expected) for t in adapter.visible_tests(row)]
    assert ("median([-10, 4, 6, 1000, 10, 20])", "15.0") in tests
    wrong_reference = {**row, "canonical_solution": "    return 0\n"}
    prompt_only = {"task_id": "x/1", "prompt": row["prompt"], "entry_point": row["entry_point"]}
    for other in (wrong_reference, prompt_only):
        assert [(t.code, t.expected) for t in adapter.visible_tests(other)] == tests


def test_canonical_solutions_pass_their_visible_tests_but_the_disagreeing_ones(humaneval):
    from task_adapters.common import run_pairs

    adapter, rows = humaneval
    pairs, names, wrong = [], [], []
    for r in rows:
        for t in adapter.visible_tests(r):
            pairs.append((r["prompt"] + r["canonical_solution"], t))
            names.append((r["task_id"], t.code, t.expected))
            if t.expected is not None:
                wrong.append((r["prompt"] + "    return 'wrong'\n", t))
    results = run_pairs(pairs, [20.0] * len(pairs))
    assert len(pairs) >= 159
    assert {n for n, r in zip(names, results) if not r.passed} == DISAGREE
    results = run_pairs(wrong, [20.0] * len(wrong))
    assert sum(r.passed for r in results) <= 2    # only an example whose answer is the string 'wrong'
