"""Partial-program repair: the longest compilable program a generated prefix starts with."""
from __future__ import annotations

import pytest

from sandbox.repair import compiles, is_complete, make_executable

S = "def solve(nums):\n"
PASS = S + "    pass\n"

# (name, prefix, exact repaired program)
CASES = [
    # mid-expression and open brackets: the unfinished statement goes, the signature stays
    ("mid_expression", S + "    total = nums[0] +", PASS),
    ("mid_call_open_paren", S + "    best = max(nums,", PASS),
    ("open_bracket_multiline", S + "    table = [\n        1, 2,\n        3", PASS),
    ("open_dict_after_complete_line", S + "    seen = {}\n    counts = {'a': 1,\n",
     S + "    seen = {}\n"),
    ("line_continuation", S + "    total = nums[0] + \\\n", PASS),
    ("lambda_without_body", S + "    key = lambda x:", PASS),
    # mid-string, including triple-quoted
    ("mid_single_quoted_string", S + "    sep = ', \n", PASS),
    ("mid_fstring", S + "    msg = f\"total={sum(nums)", PASS),
    ("mid_docstring", S + '    """Return the largest\n    element of nums', PASS),
    ("mid_triple_string_in_body", S + "    x = 1\n    text = '''abc\n", S + "    x = 1\n"),
    # dangling blocks get a pass body
    ("dangling_if_no_newline", S + "    if not nums:", S + "    if not nums:\n        pass\n"),
    ("dangling_if", S + "    if not nums:\n", S + "    if not nums:\n        pass\n"),
    ("dangling_for", S + "    total = 0\n    for n in nums:\n",
     S + "    total = 0\n    for n in nums:\n        pass\n"),
    ("dangling_while", S + "    i = 0\n    while i < len(nums):\n",
     S + "    i = 0\n    while i < len(nums):\n        pass\n"),
    ("dangling_else", S + "    if nums:\n        return nums[0]\n    else:\n",
     S + "    if nums:\n        return nums[0]\n    else:\n        pass\n"),
    ("dangling_elif", S + "    if nums[0] > 0:\n        return 1\n    elif nums[0] < 0:",
     S + "    if nums[0] > 0:\n        return 1\n    elif nums[0] < 0:\n        pass\n"),
    ("comment_only_body", S + "    for n in nums:\n        # skip negatives\n",
     S + "    for n in nums:\n        pass\n"),
    ("dangling_with", "def read(path):\n    with open(path) as fh:\n",
     "def read(path):\n    with open(path) as fh:\n        pass\n"),
    # try needs a body and a handler
    ("dangling_try", S + "    try:\n",
     S + "    try:\n        pass\n    except Exception:\n        pass\n"),
    ("try_with_body_no_handler", S + "    try:\n        return nums[0] // nums[1]\n",
     S + "    try:\n        return nums[0] // nums[1]\n    except Exception:\n        pass\n"),
    ("try_with_empty_except", S + "    try:\n        return nums[0] // nums[1]\n"
     "    except ZeroDivisionError:\n",
     S + "    try:\n        return nums[0] // nums[1]\n    except ZeroDivisionError:\n"
     "        pass\n"),
    ("try_with_empty_finally", S + "    try:\n        x = 1\n    finally:\n",
     S + "    try:\n        x = 1\n    finally:\n        pass\n"),
    ("try_inside_loop", S + "    out = []\n    for n in nums:\n        try:\n"
     "            out.append(10 // n)\n",
     S + "    out = []\n    for n in nums:\n        try:\n            out.append(10 // n)\n"
     "        except Exception:\n            pass\n"),
    ("nested_blocks", S + "    for i in range(len(nums)):\n        for j in range(i):\n"
     "            if nums[j] > nums[i]:\n",
     S + "    for i in range(len(nums)):\n        for j in range(i):\n"
     "            if nums[j] > nums[i]:\n                pass\n"),
    # decorators
    ("decorator_without_def", "import functools\n\n@functools.lru_cache(maxsize=None)\n",
     "import functools\n"),
    ("decorator_with_partial_def", "import functools\n\n@functools.lru_cache(maxsize=None)\n"
     "def fib(n", "import functools\n\n@functools.lru_cache(maxsize=None)\ndef fib(n):\n"
     "    pass\n"),
    ("decorated_def_without_body", "import functools\n\n@functools.lru_cache(maxsize=None)\n"
     "def fib(n):\n", "import functools\n\n@functools.lru_cache(maxsize=None)\ndef fib(n):\n"
     "    pass\n"),
    # nested functions and classes
    ("nested_def_without_body", S + "    def helper(x):\n",
     S + "    def helper(x):\n        pass\n"),
    ("nested_def_mid_body", S + "    def helper(x):\n        return x *\n",
     S + "    def helper(x):\n        pass\n"),
    ("nested_def_then_partial_outer", S + "    def helper(x):\n        return x * 2\n"
     "    return [helper(", S + "    def helper(x):\n        return x * 2\n"),
    ("nested_partial_signature", S + "    def helper(x, y", S + "    def helper(x, y):\n"
     "        pass\n"),
    ("method_without_body", "class Solution:\n    def solve(self, nums):\n",
     "class Solution:\n    def solve(self, nums):\n        pass\n"),
    ("class_without_body", "import math\nclass Point:", "import math\nclass Point:\n    pass\n"),
    ("async_def_without_body", "async def fetch(url):\n", "async def fetch(url):\n    pass\n"),
    # signatures
    ("signature_only", S, PASS),
    ("signature_cut_in_parameters", "def solve(nums, k", "def solve(nums, k):\n    pass\n"),
    ("signature_cut_in_default", "def solve(nums, k=", "def solve(nums):\n    pass\n"),
    ("signature_without_colon", "def solve(nums) -> int", "def solve(nums) -> int:\n    pass\n"),
    ("second_function_cut", "def a(x):\n    return x + 1\n\ndef b(y):\n    return a(y) *",
     "def a(x):\n    return x + 1\n\ndef b(y):\n    pass\n"),
    # mixed and broken indentation: cut before the first line Python rejects
    ("tab_after_spaces", S + "    total = 0\n\tfor n in nums:\n\t\ttotal += n\n",
     S + "    total = 0\n"),
    ("dedent_to_no_level", S + "    if nums:\n        x = 1\n      y = 2\n",
     S + "    if nums:\n        x = 1\n"),
    ("tabs_throughout", "def f(x):\n\tif x:\n", "def f(x):\n\tif x:\n\t\tpass\n"),
    ("two_space_indent", "def f(x):\n  y = x\n  if y:\n", "def f(x):\n  y = x\n  if y:\n    pass\n"),
    # errors the compiler (not the parser) finds, and plain syntax errors
    ("return_outside_function", S + "    return 1\nreturn 2\n", S + "    return 1\n"),
    ("syntax_error_then_valid_lines", S + "    x = = 1\n    return x\n", PASS),
    ("match_without_cases", S + "    match nums:\n", PASS),
]

UNCHANGED = [
    ("complete_function", S + "    return sorted(nums)[-1]\n"),
    ("complete_without_trailing_newline", S + "    return max(nums)"),
    ("empty", ""),
    ("only_comment", "# a comment\n"),
    ("script", "n = int(input())\nprint(n * 2)\n"),
]


def test_the_table_is_large_enough():
    assert len(CASES) >= 30
    assert len({name for name, _, _ in CASES}) == len(CASES)


@pytest.mark.parametrize("name,prefix,expected", CASES, ids=[c[0] for c in CASES])
def test_repair_table(name, prefix, expected):
    repaired = make_executable(prefix)
    assert repaired == expected
    assert compiles(repaired)
    assert not compiles(prefix)


@pytest.mark.parametrize("name,prefix,expected", CASES, ids=[c[0] for c in CASES])
def test_repair_keeps_a_prefix_of_the_input_and_adds_only_closers(name, prefix, expected):
    repaired = make_executable(prefix)
    kept_lines = []
    for line in repaired.splitlines(keepends=True):
        so_far = "".join(kept_lines)
        if prefix.startswith(so_far + line) or prefix == so_far + line.rstrip("\n"):
            kept_lines.append(line)
        else:
            break
    added = repaired[len("".join(kept_lines)):]
    allowed = {"pass", "except Exception:"}
    added_lines = [line.strip() for line in added.splitlines() if line.strip()]
    # what is not copied from the input is pass/except, or the closed signature line
    assert all(line in allowed or line.startswith(("def ", "class ", "async def "))
               for line in added_lines), added_lines


@pytest.mark.parametrize("name,program", UNCHANGED, ids=[u[0] for u in UNCHANGED])
def test_complete_programs_come_back_unchanged(name, program):
    assert is_complete(program)
    assert make_executable(program) == program


def test_signature_survives_whatever_follows():
    for tail in ["    x = (", "    '''doc", "    if x:\n        y = [", "    for i in ra",
                 "    return x +", "    @dec\n"]:
        repaired = make_executable("def f(x):\n" + tail)
        assert repaired.startswith("def f(x):\n")
        assert compiles(repaired)


def test_keep_protects_the_given_prefix():
    keep = 'def f(x):\n    """Double x."""\n'
    assert make_executable(keep + "    return (x *", keep=keep) == keep
    assert make_executable(keep + "    y = x * 2\n    return (y", keep=keep) == \
        keep + "    y = x * 2\n"


def test_keep_must_be_the_start_of_prefix():
    with pytest.raises(ValueError, match="keep must be a leading part"):
        make_executable("def g():\n    pass\n", keep="def f():\n")


def test_non_string_input_is_a_type_error():
    with pytest.raises(TypeError, match="bytes"):
        make_executable(b"x = 1\n")


def test_worst_case_is_the_empty_program():
    assert make_executable("x = (1,\n") == ""
    assert make_executable("    indented = 1\n") == ""
    assert make_executable("\x00\n") == ""


def test_is_complete():
    assert is_complete("def f():\n    return 1\n")
    assert not is_complete("def f():\n")
    assert not is_complete("def f():\n    return (1,\n")
    assert not is_complete("x = '''abc\n")
    assert not is_complete("return 1\n")        # a compiler error, not a parser one
