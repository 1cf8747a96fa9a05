"""Deterministic extraction of input/output examples from a HumanEval-style docstring.

Only the docstring of the entry-point function is read. The forms recognised (all found in the
164 HumanEval prompts):

- doctest: ``>>> f(x)`` and the output on the next lines (an empty output means ``None``), or
  ``>>> f(x) == y`` with no output;
- inline: ``f(x) == y``, ``f(x) ➞ y``, ``f(x) -> y``, ``f(x) => y``, ``f(x) ==> y``, ``f(x) = y``,
  ``f(x) should return y``, ``f(x) returns y``, ``f(x)  # returns y``, ``f(x) # => y``; a chain
  such as ``f(x) == 1 + 9 = 10`` keeps the last value; the call may be preceded by ``assert``,
  ``for`` or a bullet, and may span lines;
- ``Input: ...`` / ``Output: ...`` blocks (a literal, or ``name = value, name = value`` /
  ``name : value`` per line);
- ``For name = value, ... the output (result) should be y``;
- ``param = value`` followed within a few lines by ``return y``.

Calls may name the function differently from the entry point when the line starts with the call
(HumanEval/81 writes ``grade_equation``, /149 ``list_sort``); the entry point is substituted.
Bare words as arguments (``is_happy(abcd)``) are read as strings, unless the word is a parameter
name (``tri(n) = ...`` states a rule, not an example). Arguments and expected values must be
Python literals; ``true``/``false`` are read as booleans. A literal call with no stated value is
kept as a call (an input without expectation).

Everything found here is only a candidate: `task_adapters.humaneval` keeps an example only when
the canonical solution passes it, since docstrings have typos.
"""
from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass

from task_adapters.scan import bracket_depth, closing_bracket, split_top_level, strip_comment

MAX_VALUE_LINES = 20


@dataclass(frozen=True)
class Example:
    """One candidate visible test: `code` calls the entry point; `expected` is a Python literal
    (None when the docstring gives the call without an output)."""

    code: str
    expected: str | None
    form: str
    line: int = 0


# -- docstring location ---------------------------------------------------------------------------
def _function_node(tree: ast.Module, name: str):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return node
    return None


def docstring_source(prompt: str, entry_point: str) -> str | None:
    """The raw source text inside the quotes of the entry point's docstring (escapes untouched)."""
    try:
        tree = ast.parse(prompt)
    except SyntaxError:
        tree = None
    if tree is not None:
        fn = _function_node(tree, entry_point)
        if fn is not None:
            for stmt in fn.body:
                if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) \
                        and isinstance(stmt.value.value, str):
                    seg = ast.get_source_segment(prompt, stmt.value)
                    if seg:
                        return _strip_quotes(seg)
            return None
    m = re.search(rf"def\s+{re.escape(entry_point)}\s*\(.*?(\"\"\"|''')(.*?)\1", prompt, re.S)
    return m.group(2) if m else None


def _strip_quotes(seg: str) -> str:
    m = re.match(r"^[rRuUbB]*(\"\"\"|'''|\"|')", seg)
    q = m.group(1)
    return seg[m.end():len(seg) - len(q)]


def parameters(prompt: str, entry_point: str) -> list[str] | None:
    try:
        fn = _function_node(ast.parse(prompt), entry_point)
    except SyntaxError:
        return None
    if fn is None:
        return None
    return [a.arg for a in fn.args.posonlyargs + fn.args.args]


def known_names(prompt: str) -> set[str]:
    """Names a test expression may use: builtins and the prompt's top-level definitions/imports."""
    names = set(dir(builtins))
    try:
        tree = ast.parse(prompt)
    except SyntaxError:
        return names
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


# -- literals (brackets, strings and comments are read by task_adapters.scan) -------------------
def _literal(text: str) -> str | None:
    """`text` as a normalised Python literal (ast.unparse form), or None."""
    t = text.strip()
    if re.fullmatch(r"(?i)true|false", t):
        t = t.capitalize()
    if not t:
        return None
    try:
        node = ast.parse(t, mode="eval")
        ast.literal_eval(node)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        return None
    return ast.unparse(node)


def parse_value(text: str) -> str | None:
    """The expected value at the start of `text`: the whole of it when it is a literal, else the
    part after the last top-level ``=`` (``1 + 9 = 10``), else its longest literal prefix."""
    t = strip_comment(text).strip()
    t = re.sub(r"[.,;:]+$", "", t).strip()
    whole = _literal(t)
    if whole is not None:
        return whole
    parts = split_top_level(t, "=")
    if len(parts) > 1:
        tail = _literal(re.sub(r"[.,;:]+$", "", parts[-1]).strip())
        if tail is not None:
            return tail
    for end in range(len(t) - 1, 0, -1):
        nxt = t[end] if end < len(t) else " "
        if nxt.isalnum() or nxt == "_":
            continue
        v = _literal(re.sub(r"[.,;:]+$", "", t[:end]).strip())
        if v is not None:
            return v
    return None


def _value_text(text: str, pos: int) -> str:
    """From `pos`, the rest of the line, extended over the next lines while brackets are open."""
    end = text.find("\n", pos)
    end = len(text) if end < 0 else end
    chunk = text[pos:end]
    lines = 0
    while bracket_depth(strip_comment(chunk)) > 0 and end < len(text) and lines < MAX_VALUE_LINES:
        nxt = text.find("\n", end + 1)
        nxt = len(text) if nxt < 0 else nxt
        chunk += " " + text[end + 1:nxt].strip()
        end, lines = nxt, lines + 1
    return chunk


# -- call normalisation ---------------------------------------------------------------------------
def make_call(call_text: str, entry_point: str, allowed: set[str], params: list[str] | None = None) -> str | None:
    """`call_text` (``name(args)``) as ``entry_point(args)`` with literal arguments, or None.
    Bare-word arguments become strings, except a parameter's name (``tri(n)`` is symbolic)."""
    try:
        node = ast.parse(call_text.strip(), mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        return None
    args = []
    for a in list(node.args) + [k.value for k in node.keywords]:
        if isinstance(a, ast.Name) and a.id not in ("True", "False", "None") and a.id not in allowed:
            if params and a.id in params:
                return None
            a = ast.Constant(a.id)
        try:
            ast.literal_eval(a)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return None
        args.append(a)
    n_pos = len(node.args)
    new = ast.Call(func=ast.Name(entry_point, ast.Load()), args=args[:n_pos],
                   keywords=[ast.keyword(k.arg, v) for k, v in zip(node.keywords, args[n_pos:])])
    return ast.unparse(ast.fix_missing_locations(new))


def check_expression(code: str, entry_point: str, allowed: set[str]) -> str | None:
    """A doctest source expression, normalised, if it calls the entry point and uses only known
    names; else None."""
    try:
        tree = ast.parse(code.strip(), mode="eval")
    except SyntaxError:
        return None
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    if entry_point not in names or not names <= allowed | {entry_point}:
        return None
    return ast.unparse(tree)


# -- the forms ------------------------------------------------------------------------------------
_SEP = re.compile(r"[ \t]*#?[ \t]*(==>|=>|==|➞|->|→|=(?!=)|should\s+return|will\s+return|returns?\b)"
                  r"[ \t]*", re.I)
_DOCTEST = re.compile(r"^\s*>>>\s?(.*)$")
_CONT = re.compile(r"^\s*\.\.\.\s?(.*)$")


def _doctests(lines: list[str], entry: str, allowed: set[str], used: set[int]) -> list[Example]:
    out = []
    i = 0
    while i < len(lines):
        m = _DOCTEST.match(lines[i])
        if not m:
            i += 1
            continue
        start = i
        src = [m.group(1)]
        i += 1
        while i < len(lines) and _CONT.match(lines[i]):
            src.append(_CONT.match(lines[i]).group(1))
            i += 1
        want = []
        while i < len(lines) and lines[i].strip() and not _DOCTEST.match(lines[i]):
            want.append(lines[i].strip())
            i += 1
        source = strip_comment("\n".join(src)).strip()
        found = _doctest_example(source, " ".join(want), entry, allowed, start)
        if found is not None:
            out.append(found)
            used.update(range(start, i))
    return out


def _doctest_example(source, want, entry, allowed, line) -> Example | None:
    code = check_expression(source, entry, allowed)
    if code is not None:
        tree = ast.parse(code, mode="eval").body
        if not want and isinstance(tree, ast.Compare) and len(tree.ops) == 1 \
                and isinstance(tree.ops[0], ast.Eq):
            lhs, rhs = ast.unparse(tree.left), _literal(ast.unparse(tree.comparators[0]))
            if rhs is not None and check_expression(lhs, entry, allowed):
                return Example(lhs, rhs, "doctest ==", line)
            return None
        if not want and isinstance(tree, ast.Subscript):
            return None    # ">>> f(x) [0, 1]" parses as a subscript: a missing "=="
        if not want:
            return Example(code, "None", "doctest", line)
        value = parse_value(want)
        return Example(code, value, "doctest", line) if value is not None else None
    return None   # not an expression: left to the inline scan (e.g. ">>> f(x) [0, 1]")


def _inline(text: str, lines: list[str], entry: str, allowed: set[str], params, used: set[int],
            doctest_lines: set[int]) -> list[Example]:
    """``f(x) SEP y`` anywhere in the docstring (aliases only at the start of a line)."""
    out = []
    line_starts = [0]
    for ln in lines[:-1]:
        line_starts.append(line_starts[-1] + len(ln) + 1)

    def line_of(pos: int) -> int:
        lo = 0
        for k, s in enumerate(line_starts):
            if s <= pos:
                lo = k
        return lo

    alias = re.compile(r"(?m)^[ \t]*(?:>>>[ \t]*|[*\-][ \t]*|assert[ \t]+|for[ \t]+)?([A-Za-z_]\w*)\(")
    own = re.compile(rf"(?<![\w.]){re.escape(entry)}\(")
    starts = {m.start(): entry for m in own.finditer(text)}
    for m in alias.finditer(text):
        if m.group(1) != entry and m.group(1) not in allowed:
            starts.setdefault(m.start(1), m.group(1))
    for pos in sorted(starts):
        ln = line_of(pos)
        if ln in used:
            continue
        name = starts[pos]
        end = closing_bracket(text, pos + len(name))
        if end < 0:
            continue
        call = make_call(text[pos:end], entry, allowed, params)
        if call is None:
            continue
        sep = _SEP.match(text, end)
        if sep is None and ln in doctest_lines:
            sep_end = end          # ">>> f(x) [0, 1]": a doctest line with the output inline
        elif sep is None:     # a call without a stated value: an input, still
            out.append(Example(call, None, "call", ln))
            continue
        else:
            sep_end = sep.end()
        value = parse_value(_value_text(text, sep_end))
        if value is None:
            out.append(Example(call, None, "call", ln))
            continue
        out.append(Example(call, value, "inline", ln))
    return out


def _args_from(text: str, params: list[str] | None) -> list[str] | None:
    """Argument literals from ``x`` or ``a = x, b = y`` or ``a : x`` lines, in signature order
    when the names match the parameters."""
    whole = _literal(text)
    if whole is not None and (params is None or len(params) == 1):
        return [whole]
    named = []
    for seg in split_top_level(text, ",\n"):
        if not seg.strip():
            continue
        m = re.match(r"^\s*([A-Za-z_]\w*)\s*[:=]\s*(.+?)\s*$", seg, re.S)
        if not m:
            break
        v = _literal(m.group(2))
        if v is None:
            return None
        named.append((m.group(1), v))
    if not named or (params is not None and len(named) != len(params)):
        return None
    if params is not None and sorted(n for n, _ in named) == sorted(params):
        by_name = dict(named)
        return [by_name[p] for p in params]
    return [v for _, v in named]


def _io_blocks(lines: list[str], entry: str, params, used: set[int]) -> list[Example]:
    out = []
    for i, ln in enumerate(lines):
        m = re.match(r"^\s*Input\s*:\s*(.*)$", ln)
        if not m or i in used:
            continue
        inp, j = [m.group(1)], i + 1
        while j < len(lines) and j < i + 12 and not re.match(r"^\s*Output\s*:", lines[j]):
            inp.append(lines[j].strip())
            j += 1
        if j >= len(lines) or not re.match(r"^\s*Output\s*:", lines[j]):
            continue
        args = _args_from("\n".join(s for s in inp if s.strip()), params)
        text = "\n".join(lines[j:])
        value = parse_value(_value_text(text, re.match(r"^\s*Output\s*:\s*", text).end()))
        if args is None or value is None:
            continue
        out.append(Example(f"{entry}({', '.join(args)})", value, "input/output", i))
        used.update(range(i, j + 1))
    return out


_FOR = re.compile(r"^\s*For\s+(.*?)\s*,?\s*the\s+(?:output|result)\s+should\s+be\s+(.*)$", re.I)


def _for_should_be(lines: list[str], entry: str, params, used: set[int]) -> list[Example]:
    out = []
    for i, ln in enumerate(lines):
        m = _FOR.match(ln)
        if not m or i in used:
            continue
        segs = []
        for seg in split_top_level(m.group(1), ","):
            if not re.match(r"^\s*[A-Za-z_]\w*\s*=\s*\S", seg):
                break
            segs.append(seg)
        args = _args_from(",".join(segs), params) if segs else None
        value = parse_value(m.group(2))
        if args is None or value is None:
            continue
        out.append(Example(f"{entry}({', '.join(args)})", value, "for ... should be", i))
        used.add(i)
    return out


def _assign_return(lines: list[str], entry: str, params, used: set[int]) -> list[Example]:
    out = []
    if not params or len(params) != 1:
        return out
    for i, ln in enumerate(lines):
        m = re.match(rf"^\s*{re.escape(params[0])}\s*=\s*(.+?)\s*$", ln)
        if not m or i in used:
            continue
        arg = _literal(m.group(1))
        if arg is None:
            continue
        for j in range(i + 1, min(i + 7, len(lines))):
            r = re.match(r"^\s*return\s*=?\s*(.+)$", lines[j])
            if r:
                value = parse_value(r.group(1))
                if value is not None:
                    out.append(Example(f"{entry}({arg})", value, "assign/return", i))
                    used.update(range(i, j + 1))
                break
            if re.match(rf"^\s*{re.escape(params[0])}\s*=", lines[j]):
                break
    return out


def extract_examples(prompt: str, entry_point: str) -> list[Example]:
    """Candidate examples from the entry point's docstring, in a fixed order, without duplicates.
    Examples with `expected=None` are calls found without an output."""
    doc = docstring_source(prompt, entry_point)
    if not doc:
        return []
    allowed = known_names(prompt)
    params = parameters(prompt, entry_point)
    lines = doc.split("\n")
    used: set[int] = set()
    found = _doctests(lines, entry_point, allowed, used)
    doctest_lines = {i for i, ln in enumerate(lines) if _DOCTEST.match(ln)}
    found += _io_blocks(lines, entry_point, params, used)
    found += _for_should_be(lines, entry_point, params, used)
    found += _assign_return(lines, entry_point, params, used)
    found += _inline(doc, lines, entry_point, allowed, params, used, doctest_lines)
    seen, out = set(), []
    for ex in sorted(found, key=lambda e: e.line):
        key = (ex.code, ex.expected)
        if key in seen or (ex.expected is None and any(e.code == ex.code and e.expected is not None
                                                       for e in found)):
            continue
        seen.add(key)
        out.append(ex)
    return out
