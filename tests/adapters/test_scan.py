"""The one tokenize-based scanner for brackets, strings and comments (issue 16)."""
import tokenize

import pytest

from egcfg_plugin.core.lines import def_complete
from task_adapters import scan as scan_mod
from task_adapters.scan import bracket_depth, closing_bracket, header_colon, scan, split_top_level, strip_comment


def test_the_quote_case_issue_16():
    assert def_complete('def f(s=")"):\n', "f")
    assert header_colon('def f(s=")"):\n', 0) == len('def f(s=")")')


@pytest.mark.parametrize("text, depth", [
    ("f(1, [2", 2),
    ('f(")", "(")', 0),
    ("f(1)  # (", 0),
    ("x)", -1),
    ("f(it's", 1),           # a lone apostrophe in prose is skipped, not a string to the end
])
def test_bracket_depth(text, depth):
    assert bracket_depth(text) == depth


def test_closing_bracket_spans_lines_and_skips_strings():
    text = 'see f(1, ")", [2,\n   3]) == 4'
    assert closing_bracket(text, text.index("(")) == text.index(" ==")
    assert closing_bracket("f(1, 2", 1) == -1


@pytest.mark.parametrize("text, out", [
    ("x = 1  # note", "x = 1  "),
    ('x = "#"  # note', 'x = "#"  '),
    ("s = 'a#b'", "s = 'a#b'"),
])
def test_strip_comment(text, out):
    assert strip_comment(text) == out


def test_split_top_level():
    assert split_top_level("a = (1, 2), b = 'x,y'", ",") == ["a = (1, 2)", " b = 'x,y'"]
    assert split_top_level("1 + 9 = 10", "=") == ["1 + 9 ", " 10"]
    assert split_top_level("a == b = c", "=") == ["a == b ", " c"]       # `==` is no separator
    assert split_top_level("a = [1,\n 2]\nb = 3", ",\n") == ["a = [1,\n 2]", "b = 3"]


def test_indentation_is_ignored():
    s = scan("    f(1,\n  2)\n x = '#'\n")
    assert s.depth == 0 and [p.kind for p in s.pieces if p.kind == "comment"] == []
    assert s.logical_line_starts() == [0, len("    f(1,\n  2)\n"), len("    f(1,\n  2)\n x = '#'\n")]


def test_unterminated_triple_quoted_string_runs_to_the_end():
    text = 'def f(x):\n    """doc (\n    ```\n'
    s = scan(text)
    assert s.open_string == text.index('"""') and s.depth == 0
    assert s.in_string(text.index("```")) and not s.in_string(3)


def test_fstring_and_bytes_are_strings():
    # 3.11 reads an f-string as one STRING token, 3.12+ as parts: either way it is one string
    s = scan("x = f'{a}(' + b')'\n")
    assert s.depth == 0 and [p.text for p in s.pieces if p.kind == "string"] == ["f'{a}('", "b')'"]
    assert bracket_depth("x = rb')' + r'('") == 0


def test_rejected_characters_are_skipped_whether_yielded_or_raised(monkeypatch):
    """Python 3.11 yields an ERRORTOKEN for a character it rejects; 3.12+ raises. Both scan alike."""
    text = "f(x) ➞ g(\"a\") # c\ny = $ (1,\n2)\n"
    yielded = scan(text)
    real = tokenize.generate_tokens

    def raising(readline):
        for tok in real(readline):
            if tok.type == tokenize.ERRORTOKEN and not tok.string.isspace():
                raise SyntaxError("invalid character", ("<s>", tok.start[0], tok.start[1] + 1, ""))
            yield tok

    monkeypatch.setattr(scan_mod.tokenize, "generate_tokens", raising)
    raised = scan(text)
    assert [(p.kind, p.text, p.start, p.depth) for p in raised.pieces] == \
        [(p.kind, p.text, p.start, p.depth) for p in yielded.pieces]
    assert [p.text for p in raised.pieces if p.kind == "error"] == ["➞", "$"]
    assert raised.depth == 0 and strip_comment("g('a') # c") == "g('a') "
