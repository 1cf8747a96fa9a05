"""One scanner for brackets, strings and comments in Python-like text, built on `tokenize`.

Docstring prose (the examples of a HumanEval prompt) and generated code are read the same way:
`scan(text)` lists the pieces that matter (brackets, other operators, strings, comments, line
breaks outside brackets) with their offsets and the bracket depth before each. It never raises:

- indentation is ignored (every line is read as if it started at column 0), so prose indented
  anyhow scans like code;
- a character the tokenizer rejects (``➞``, a lone apostrophe in ``it's``) is skipped as an
  "error" piece, on Python 3.11 (which yields it) and 3.12+ (which raises: the scan restarts
  after it);
- a string still open at the end is `Scan.open_string`; brackets still open are `Scan.depth`.

    >>> s = scan('f(s=")")  # done')
    >>> [p.text for p in s.pieces if p.kind in ("string", "comment")], s.depth
    (['")"', '# done'], 0)
    >>> split_top_level("a = (1, 2), b = 'x,y'", ",")
    ['a = (1, 2)', " b = 'x,y'"]
"""
from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass

OPENERS = "([{"
CLOSERS = ")]}"
_TRIPLE = re.compile(r"[rRbBuUfF]{0,2}(\"\"\"|''')")
_FSTRING_START = getattr(tokenize, "FSTRING_START", -1)   # Python 3.12+ splits f-strings up
_FSTRING_END = getattr(tokenize, "FSTRING_END", -1)
_ERRORS = (tokenize.TokenError, SyntaxError, ValueError)


@dataclass(frozen=True)
class Piece:
    """One token that matters for structure. kind: "open" / "close" (a bracket), "op" (any other
    operator), "string", "comment", "newline" (a line break outside brackets and strings) or
    "error" (a character the tokenizer rejects)."""

    kind: str
    text: str
    start: int
    end: int
    depth: int = 0        # brackets open before this piece


@dataclass(frozen=True)
class Scan:
    text: str
    pieces: tuple[Piece, ...]
    depth: int                    # brackets open at the end (negative: more closers than openers)
    open_string: int | None       # offset of a string left unterminated at the end, if any

    def logical_line_starts(self) -> list[int]:
        """Offsets where a new statement may start: 0 and after each line break that is outside
        brackets and strings (a blank line or a comment line counts as one)."""
        return [0] + [p.end for p in self.pieces if p.kind == "newline" and p.depth == 0]

    def in_string(self, pos: int) -> bool:
        """True when offset `pos` lies inside a string literal (or an unterminated one)."""
        if self.open_string is not None and pos > self.open_string:
            return True
        return any(p.kind == "string" and p.start < pos < p.end for p in self.pieces)


def scan(text: str) -> Scan:
    raw: list[tuple[str, int, int]] = []
    open_string = None
    cursor = 0
    while cursor < len(text):
        feed, where = _unindented(text, cursor)
        try:
            _read(feed, where, raw)
            break
        except _ERRORS as e:
            pos = _error_offset(e, where)
            if pos is None or pos < cursor or pos >= len(text):
                break                         # EOF inside brackets, or nowhere to go on
            raw[:] = [r for r in raw if r[1] < pos]
            if "string" in str(e) and _TRIPLE.match(text, pos) or "multi-line string" in str(e):
                open_string = pos             # an unterminated (triple-quoted) string runs to the end
                break
            if not text[pos].isspace():
                raw.append(("error", pos, pos + 1))
            cursor = pos + 1
    pieces, depth = [], 0
    for kind, start, end in raw:
        pieces.append(Piece(kind, text[start:end], start, end, depth))
        depth += (kind == "open") - (kind == "close")
    return Scan(text, tuple(pieces), depth, open_string)


def _read(feed: str, where, raw: list) -> None:
    fstring_start, nesting = 0, 0
    for tok in tokenize.generate_tokens(io.StringIO(feed).readline):
        start, end = where(*tok.start), where(*tok.end)
        if tok.type == _FSTRING_START:
            fstring_start = start if nesting == 0 else fstring_start
            nesting += 1
        elif tok.type == _FSTRING_END:
            nesting -= 1
            if nesting == 0:
                raw.append(("string", fstring_start, end))
        elif nesting:
            continue
        elif tok.type == tokenize.OP:
            kind = "open" if tok.string in OPENERS else "close" if tok.string in CLOSERS else "op"
            raw.append((kind, start, end))
        elif tok.type == tokenize.STRING:
            raw.append(("string", start, end))
        elif tok.type == tokenize.COMMENT:
            raw.append(("comment", start, end))
        elif tok.type in (tokenize.NEWLINE, tokenize.NL) and "\n" in tok.string:
            raw.append(("newline", start, end))
        elif tok.type == tokenize.ERRORTOKEN and not tok.string.isspace():
            raw.append(("error", start, end))


def _unindented(text: str, cursor: int):
    """The text from `cursor` with each line's leading blanks removed, and a map from the
    tokenizer's (row, col) back to offsets in `text`."""
    origin, lines, pos = [], [], cursor
    for line in text[cursor:].split("\n"):
        body = line.lstrip(" \t\f")
        origin.append(pos + len(line) - len(body))
        lines.append(body)
        pos += len(line) + 1

    def where(row: int, col: int) -> int:
        if row > len(origin):
            return len(text)
        return min(origin[row - 1] + col, len(text))

    return "\n".join(lines), where


def _error_offset(e: Exception, where) -> int | None:
    if isinstance(e, tokenize.TokenError) and len(e.args) > 1 and isinstance(e.args[1], tuple):
        return where(*e.args[1])
    if isinstance(e, SyntaxError) and e.lineno:
        return where(e.lineno, max((e.offset or 1) - 1, 0))
    return None


# -- the questions the adapters and the decoding loop ask -----------------------------------------
def bracket_depth(text: str) -> int:
    """Brackets left open at the end of `text` (strings and comments skipped); negative when
    more close than open."""
    return scan(text).depth


def closing_bracket(text: str, start: int) -> int:
    """Index just past the bracket that closes the one at text[start]; -1 when it never closes."""
    for p in scan(text[start:]).pieces:
        if p.kind == "close" and p.depth == 1:
            return start + p.end
    return -1


def strip_comment(text: str) -> str:
    """`text` up to its first comment (a `#` inside a string is not one)."""
    for p in scan(text).pieces:
        if p.kind == "comment":
            return text[:p.start]
    return text


def split_top_level(text: str, seps: str) -> list[str]:
    """`text` split at the characters in `seps` ("," "=" "\\n" ...) that stand outside brackets,
    strings and comments. `=` splits only a lone `=` (not `==`, `<=`, ...)."""
    parts, start = [], 0
    for p in scan(text).pieces:
        sep = "\n" if p.kind == "newline" else p.text if p.kind == "op" else None
        if sep is not None and sep in seps and p.depth == 0:
            parts.append(text[start:p.start])
            start = p.end
    parts.append(text[start:])
    return parts


def header_colon(code: str, start: int) -> int:
    """Offset of the colon that ends the `def`/`class` header starting at code[start], or -1."""
    for p in scan(code[start:]).pieces:
        if p.kind == "op" and p.text == ":" and p.depth == 0:
            return start + p.start
    return -1
