"""Bad rows for CodeContests and DS-1000: each gets a classified result or a one-line error that
names the value. Time limits come from the problem, scaled for Python."""
from __future__ import annotations

import copy

import pytest

from task_adapters.codecontests import DEFAULT_LIMIT_S, MAX_TIMEOUT_S, MIN_TIMEOUT_S, TIME_FACTOR, CodeContestsAdapter
from task_adapters.data import DataNotFound, MalformedRow
from task_adapters.ds1000 import DS1000Adapter

CC_ROW = {"name": "9999_Z. Sums", "description": "Print a+b for each pair.",
          "public_tests": {"input": ["2\n1 2\n3 4\n"], "output": ["3\n7\n"]},
          "private_and_generated_tests": {"input": ["1\n5 6\n", "2\n1 2\n3 4\n"], "output": ["11\n", "3\n7\n"]},
          "time_limit": {"seconds": 2, "nanos": 500000000}}
SUMS = "t = int(input())\nfor _ in range(t):\n    a, b = map(int, input().split())\n    print(a + b)\n"


def cc_row(**changes) -> dict:
    row = copy.deepcopy(CC_ROW)
    row.update(changes)
    return row


@pytest.mark.parametrize("limit, seconds", [
    ({"seconds": 2, "nanos": 500000000}, TIME_FACTOR * 2.5),
    ({"seconds": 0, "nanos": 250000000}, MIN_TIMEOUT_S),          # 0.75 s scaled is under the floor
    ({"seconds": 30, "nanos": 0}, MAX_TIMEOUT_S),
    ({"seconds": 0, "nanos": 0}, TIME_FACTOR * DEFAULT_LIMIT_S),  # zero: upstream's "not recorded"
    (None, TIME_FACTOR * DEFAULT_LIMIT_S),
])
def test_codecontests_time_limit_from_the_problem_scaled_for_python(limit, seconds):
    adapter = CodeContestsAdapter()
    row = cc_row(time_limit=limit)
    assert adapter.time_limit_s(row) == seconds
    assert adapter.problem(row).meta["time_limit_s"] == seconds
    assert all(adapter.test_timeout(row, t) == seconds for t in adapter.hidden_tests(row))


@pytest.mark.parametrize("limit", [{"seconds": -1, "nanos": 0}, {"seconds": "two"}, "2 seconds", 2])
def test_codecontests_malformed_time_limit_is_one_line_naming_the_value(limit):
    adapter = CodeContestsAdapter()
    with pytest.raises(MalformedRow) as e:
        adapter.check_hidden(cc_row(time_limit=limit))
    message = str(e.value)
    assert "\n" not in message and "9999_Z. Sums" in message and repr(limit) in message


def test_codecontests_zero_time_limit_row_is_scored():
    pytest.importorskip("sandbox.runner")
    adapter = CodeContestsAdapter()
    row = cc_row(time_limit={"seconds": 0, "nanos": 0})
    assert adapter.score(row, SUMS).all_passed
    s = adapter.score(row, "t = int(input())\n")                       # prints nothing
    assert s.passed == 0 and "no output" in s.first_failure
    s = adapter.score(row, "print(input())\nprint(input())\nprint(input())\n")   # reads past the input
    assert s.results[0].status.value == "error" and "EOFError" in s.results[0].error


def ds_row(code_context: str) -> dict:
    return {"prompt": "x = 1\nresult = ... # put solution in this variable\nBEGIN SOLUTION\n<code>\n",
            "reference_code": "result = x + 1\n", "code_context": code_context,
            "metadata": {"problem_id": 4242, "library": "Numpy"}}


def test_ds1000_row_without_test_execution_is_one_line_naming_the_row():
    adapter = DS1000Adapter()
    row = ds_row("import numpy as np\ndef test_string(solution: str):\n    pass\n")
    with pytest.raises(MalformedRow) as e:
        adapter.hidden_tests(row)
    assert str(e.value) == ("DS-1000 task DS1000/4242: row without tests (code_context defines no "
                            "test_execution)")


def test_ds1000_file_with_such_a_row_names_it_at_load(tmp_path):
    import json

    path = tmp_path / "ds1000.jsonl"
    path.write_text(json.dumps(ds_row("import numpy as np\n")) + "\n")
    with pytest.raises((MalformedRow, DataNotFound)) as e:
        DS1000Adapter(path=path).load()
    assert "DS1000/4242" in str(e.value) and "test_execution" in str(e.value)
