"""Turn a generated code prefix into the longest program that compiles.

EG-CFG runs candidate continuations that usually stop in the middle of something: an open
block (`for x in xs:` with no body yet), an open bracket, an unterminated string or docstring,
a decorator with no `def`, a `try:` with no `except`. `make_executable` keeps the longest run
of complete statements from the start that can be made to compile, then closes what is still
open:

- a block opener with no body gets an indented ``pass`` (so a bare signature stays, as
  ``def f(x):`` + ``pass``);
- a ``try:`` left open gets ``except Exception:`` + ``pass`` after its body;
- an unfinished last statement (mid-expression, open bracket, unterminated string) is dropped,
  as is anything that does not compile after it (an orphan decorator, inconsistent
  indentation).

Nothing is invented beyond ``pass`` and ``except Exception: pass``. Every result is checked
with `compile()`; the worst case is the empty string.

    >>> print(make_executable("def add(a, b):\\n    total = a +"))
    def add(a, b):
        pass
    <BLANKLINE>
"""
from __future__ import annotations

import io
import logging
import tokenize
import warnings
from dataclasses import dataclass

log = logging.getLogger(__name__)

_INDENT_UNIT = "    "


@dataclass
class _Statement:
    """One logical line: where it ends, how it is indented, and whether it opens a block."""

    start_row: int        # first physical row (1-based) of the statement
    end_row: int          # last physical row (1-based) of the statement
    indent: str           # the leading whitespace of its first row
    keyword: str          # its first token ("def", "try", "x", "@", ...)
    opens_block: bool     # ends with ':' (a compound statement header with no body on it)


@dataclass
class _Block:
    indent: str
    keyword: str
    has_body: bool = False


def compiles(code: str) -> bool:
    """True when `code` compiles as a module (syntax, indentation and compiler checks)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(code, "<candidate>", "exec", dont_inherit=True)
        return True
    except (SyntaxError, ValueError, OverflowError, MemoryError, RecursionError):
        return False


def is_complete(code: str) -> bool:
    """True when `code` runs as it is: it compiles, so no block, bracket or string is left open.

    A statement cut in the middle of a name (``retu``) still compiles; nothing can tell it
    from a finished one.
    """
    return compiles(code)


def make_executable(prefix: str, *, keep: str = "") -> str:
    """The longest compilable program that `prefix` starts with, closed where needed.

    `keep`: a leading part of `prefix` that must survive (for example the problem's given
    signature and docstring); cuts never go into it. If even `keep` cannot be made to
    compile, the result may be shorter than it (the empty string at worst).
    Already-compilable input is returned unchanged.
    """
    if not isinstance(prefix, str):
        raise TypeError(f"make_executable needs the code as a str, got {type(prefix).__name__}")
    if keep and not prefix.startswith(keep):
        raise ValueError(f"keep must be a leading part of prefix; prefix starts with "
                         f"{prefix[:60]!r}, keep is {keep[:60]!r}. Pass keep='' or the "
                         f"actual start of the program")
    if compiles(prefix):
        return prefix
    rows = prefix.splitlines(keepends=True)
    statements = _statements(prefix)
    unit = _indent_unit(statements)
    protected = _protected_rows(keep)
    before = statements
    if statements and _is_unfinished_header(rows, statements[-1]):
        before = statements[:-1]   # `def f(x) -> int` tokenizes as complete but is not
    header = _completed_header(rows, before)
    if header is not None:  # an unfinished `def f(a, b` keeps its signature
        done = before[-1].end_row if before else 0
        candidate = _closed("".join(rows[:done]) + header.text, before + [header.statement],
                            unit)
        if compiles(candidate):
            return candidate
    for count in range(len(statements), 0, -1):
        kept = statements[:count]
        if kept[-1].end_row < protected:
            break
        candidate = _closed("".join(rows[: kept[-1].end_row]), kept, unit)
        if compiles(candidate):
            return candidate
    if keep:  # the kept part alone would not compile: fall back to cutting into it
        log.debug("make_executable: nothing compiles with keep=%r intact; cutting into it",
                  keep[:60])
        return make_executable(prefix)
    return ""


@dataclass
class _Header:
    text: str
    statement: _Statement


_HEADER_STARTS = ("def ", "async def ", "class ")


def _is_unfinished_header(rows: list[str], st: _Statement) -> bool:
    text = "".join(rows[st.start_row - 1: st.end_row]).strip()
    return text.startswith(_HEADER_STARTS) and not st.opens_block and not compiles(text + "\n")


def _completed_header(rows: list[str], statements: list[_Statement]) -> _Header | None:
    """A `def`/`class` header cut short after the last complete statement, closed the closest
    way that compiles: as written + ':' or '):', else up to its last complete parameter, else
    with no parameters. None when the tail is not such a header."""
    done = statements[-1].end_row if statements else 0
    tail = "".join(rows[done:])
    stripped = tail.strip()
    if not stripped.startswith(_HEADER_STARTS) or "\n" in stripped:
        return None
    indent = _leading_ws(tail.lstrip("\r\n"))
    line = stripped.rstrip(":")
    options = [line + ":", line + "):"]
    if "," in line:
        options.append(line[: line.rindex(",")] + "):")
    if "(" in line:
        options.append(line[: line.index("(") + 1] + "):")
    if line.startswith("class "):
        options.append(line.split("(")[0] + ":")
    for option in options:
        text = f"{indent}{option}\n"
        if compiles(f"{option}\n    pass\n"):
            statement = _Statement(start_row=done + 1, end_row=done + 1, indent=indent,
                                   keyword=option.split()[0], opens_block=True)
            return _Header(text, statement)
    return None


def _closed(text: str, kept: list[_Statement], unit: str) -> str:
    if not text.endswith("\n"):
        text += "\n"
    return text + "".join(_closers(kept, unit))


def _closers(kept: list[_Statement], unit: str) -> list[str]:
    """`pass` for a block left without a body, `except` for a try left open, innermost first."""
    stack: list[_Block] = []
    for st in kept:
        width = _width(st.indent)
        while stack and width <= _width(stack[-1].indent):
            stack.pop()
        if stack:
            stack[-1].has_body = True
        if st.opens_block:
            stack.append(_Block(st.indent, st.keyword))
    out = []
    for block in reversed(stack):
        inner = block.indent + ("\t" if block.indent and set(block.indent) == {"\t"} else unit)
        if not block.has_body:
            out.append(f"{inner}pass\n")
        if block.keyword == "try":
            out.append(f"{block.indent}except Exception:\n{inner}pass\n")
    return out


def _statements(text: str) -> list[_Statement]:
    """The complete logical lines of `text`, in order, up to the first unfinished one."""
    statements: list[_Statement] = []
    first = None          # first token of the current logical line
    last_significant = None
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            kind = tok.type
            if kind == tokenize.ERRORTOKEN:
                break  # 3.11 reports an unterminated single-quoted string this way
            if kind in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT,
                        tokenize.ENCODING):
                continue
            if kind == tokenize.ENDMARKER:
                break
            if kind == tokenize.NEWLINE:
                if first is not None:
                    statements.append(_Statement(
                        start_row=first.start[0], end_row=tok.start[0], indent=_leading_ws(first.line),
                        keyword=first.string,
                        opens_block=last_significant is not None
                        and last_significant.type == tokenize.OP
                        and last_significant.string == ":"))
                first = last_significant = None
                continue
            if first is None:
                first = tok
            last_significant = tok
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass  # EOF inside a bracket, a string or a continuation: that statement is unfinished
    return statements


def _leading_ws(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t\f"))]


def _width(indent: str) -> int:
    return len(indent.expandtabs(8))


def _indent_unit(statements: list[_Statement]) -> str:
    """The smallest step by which the program indents (spaces), 4 when none is seen."""
    steps = [_width(b.indent) - _width(a.indent) for a, b in zip(statements, statements[1:])
             if a.opens_block and _width(b.indent) > _width(a.indent)]
    return " " * min(steps) if steps else _INDENT_UNIT


def _protected_rows(keep: str) -> int:
    if not keep:
        return 0
    return keep.count("\n") + (0 if keep.endswith("\n") else 1)
