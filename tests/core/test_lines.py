import pytest

from egcfg_plugin.core.lines import TokenTable, code_end, def_complete
from task_adapters.base import Problem
from egcfg_plugin.core.prompts import split_prompt, wrap_signal


@pytest.mark.parametrize("text, entry, end", [
    ("def f(x):\n    return x\n```\n", "f", len("def f(x):\n    return x\n")),
    ("def f(x):\n    return x\n```", "f", len("def f(x):\n    return x\n")),   # fence without newline
    ("def f(x):\n    return x\n", "f", None),
    ("def f(x):\n    return x\n\nassert f(1) == 1\n", "f", len("def f(x):\n    return x\n\n")),
    ("def f(x):\n    return x\nprint(f(2))\n", "f", len("def f(x):\n    return x\n")),
    ("def f(x):\n    return x\nif __name__ == '__main__':\n", "f", len("def f(x):\n    return x\n")),
    # test code before the target def is not an end (it may be a helper's doctest-like use)
    ("import math\nprint(1)\ndef f(x):\n", "f", None),
    # indented asserts inside the function are code, not the end
    ("def f(x):\n    assert x > 0\n    return x\n", "f", None),
    # an unfinished last line is not judged
    ("def f(x):\n    return x\nassert f(1", "f", None),
    ("x = int(input())\nprint(x)\n```\n", None, len("x = int(input())\nprint(x)\n")),
    # an indented closing fence ends the code too (issue 12)
    ("def f(x):\n    return x\n    ```\n", "f", len("def f(x):\n    return x\n")),
    ("x = int(input())\nprint(x)\n  ```", None, len("x = int(input())\nprint(x)\n")),
    # a fence inside a docstring is text, not the end
    ('def f(x):\n    """Use:\n    ```\n    f(1)\n    ```\n    """\n    return x\n```\n', "f",
     len('def f(x):\n    """Use:\n    ```\n    f(1)\n    ```\n    """\n    return x\n')),
    # a `# Test` / `# Example` comment is not the end: a helper may follow it (issue 12)
    ("def f(x):\n    return g(x)\n\n# Example helper\ndef g(x):\n    return x\n", "f", None),
    ("def f(x):\n    return g(x)\n# Test\ndef g(x):\n    return x\nassert f(1) == 1\n", "f",
     len("def f(x):\n    return g(x)\n# Test\ndef g(x):\n    return x\n")),
    # a top-level call after the function is demo code
    ("def f(x):\n    return x\ncheck_solution()\n", "f", len("def f(x):\n    return x\n")),
    # the entry function may itself be named check / test_* (MBPP 56, 349, 19, 46)
    ("import math\n\ndef check(n):\n    return n\n", "check", None),
    ("def rev(n):\n    return n\ndef check(n):\n    return rev(n)\nprint(check(1))\n", "check",
     len("def rev(n):\n    return n\ndef check(n):\n    return rev(n)\n")),
    ("def test_duplicate(a):\n    return len(a) != len(set(a))\n", "test_duplicate", None),
    # lines inside a multi-line call or string are not statements
    ("def f(x):\n    return x\ny = f(1,\nprint(2))\n", "f", None),
])
def test_code_end(text, entry, end):
    assert code_end(text, entry) == end


@pytest.mark.parametrize("code, done", [
    ("def f(x):\n", True),
    ("def f(x):", False),
    ("def f(x, y: dict = {'a': 1},\n      z=(1, 2)) -> int:\n", True),
    ("def f(x, y: dict = {'a': 1},\n", False),
    ("def g(x):\n    pass\n", False),
    ("import os\n\ndef f(items: list[int]) -> list[int]:\n    \"\"\"doc\"\"\"\n", True),
    # brackets and colons inside strings and comments do not count (issue 16)
    ('def f(s=")"):\n', True),
    ("def f(s='('):\n", True),
    ('def f(s=":", t=1\n', False),
    ("def f(x,  # (a comment\n      y):\n", True),
    ("def f(k=lambda: 0):\n", True),
    ('def f(s="""a):\n', False),
])
def test_def_complete(code, done):
    assert def_complete(code, "f") is done


def test_def_complete_without_entry_point():
    assert def_complete("", None)


def test_token_table(tiny):
    _, tok = tiny
    table = TokenTable.for_tokenizer(tok)
    assert TokenTable.for_tokenizer(tok) is table          # built once per tokenizer
    nl = tok("\n", add_special_tokens=False).input_ids
    assert len(nl) == 1 and table.count_newlines(nl[0]) == 1
    two = tok("\n\n", add_special_tokens=False).input_ids
    assert sum(table.count_newlines(t) for t in two) == 2
    word = tok("return", add_special_tokens=False).input_ids[0]
    assert table.count_newlines(word) == 0
    assert tok.convert_tokens_to_ids("<|im_end|>") in table.stop_ids
    # every token's count equals what decoding says
    ids = tok("def f(x):\n    if x:\n        return 1\n\n\n    return 2\n", add_special_tokens=False).input_ids
    assert sum(table.count_newlines(t) for t in ids) == 6


def test_split_prompt_chat(tiny):
    _, tok = tiny
    p = Problem(task_id="t", prompt=[{"role": "user", "content": "Write f."}], entry_point="f",
                code_prefix="def f(x):\n")
    sp = split_prompt(p, tok)
    assert sp.chat and sp.before.endswith("Write f.")
    assert sp.after.endswith("```python\ndef f(x):\n")
    full = tok.apply_chat_template([{"role": "user", "content": "Write f."}], tokenize=False,
                                   add_generation_prompt=True)
    assert sp.text == full + "```python\ndef f(x):\n"


def test_split_prompt_text():
    p = Problem(task_id="t", prompt="Task: add.\n\ndef add(a, b):\n", entry_point="add",
                code_prefix="def add(a, b):\n")
    sp = split_prompt(p, tokenizer=None)
    assert (sp.before, sp.after) == ("Task: add.\n\n", "def add(a, b):\n")
    p2 = Problem(task_id="t", prompt="abc", entry_point="add", signal_at=1)
    assert split_prompt(p2, None).before == "a"
    with pytest.raises(ValueError, match="signal_at=9"):
        split_prompt(Problem(task_id="t", prompt="abc", entry_point="add", signal_at=9), None)


def test_wrap_signal():
    assert wrap_signal("a\nb", chat=True) == "\n\na\nb"
    assert wrap_signal("a\n\nb", chat=False) == "# a\n#\n# b\n\n"
