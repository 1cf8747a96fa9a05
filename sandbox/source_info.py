"""Static facts about the candidate's source that the tracer needs on its hot path.

- `text(lineno)`: the stripped source line, cached.
- `statement_line(lineno)`: the first line of the statement that contains `lineno`, so a
  statement written over several lines is reported once, at its first line.
- `loop_end(lineno)`: the last line of the `for`/`while` loop whose header is at `lineno`,
  or None when no loop starts there. When the source cannot be parsed, every backward move
  is taken for a loop and `dynamic` is True.
- `def_line(lineno)`: the `def`/`class` line of a definition whose first (decorator) line is
  `lineno`.
"""
from __future__ import annotations

import ast
import linecache
import logging
from sandbox.saferepr import pin_builtins

log = logging.getLogger(__name__)
pin_builtins(globals())

_COMPOUND_WITH_BODY = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith,
                       ast.Try, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                       *((ast.TryStar,) if hasattr(ast, "TryStar") else ()))
_LOOPS = (ast.For, ast.AsyncFor, ast.While)


class SourceInfo:
    def __init__(self, source: str | None, filename: str, max_source: int = 100):
        if source is None:
            lines = linecache.getlines(filename)
            source = "".join(lines)
        else:
            lines = source.splitlines()
        self._lines = lines
        self._max_source = max_source
        self.texts: dict[int, str] = {}   # filled by text(); read directly on the hot path
        self.statement_map: dict[int, int] = {}
        self.statement_ends: dict[int, int] = {}  # first line -> last line, when they differ
        self.loop_ends: dict[int, int] = {}
        self.def_lines: dict[int, int] = {}
        self.dynamic = True
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError) as exc:
            log.debug("tracer: cannot parse the source of %s (%s); loops found dynamically",
                      filename, exc)
            return
        self.dynamic = False
        self._index(tree)

    def _index(self, tree: ast.AST) -> None:
        simple: list[ast.stmt] = []
        for node in _statements(tree):
            if isinstance(node, _LOOPS):
                self.loop_ends[node.lineno] = node.end_lineno or node.lineno
            body = getattr(node, "body", None)
            if isinstance(node, _COMPOUND_WITH_BODY) and body:
                first = node.lineno
                decorators = getattr(node, "decorator_list", None)
                if decorators:
                    first = min(d.lineno for d in decorators)
                    self.def_lines[first] = node.lineno
                header_end = max(body[0].lineno - 1, node.lineno)
                for line in range(first, header_end + 1):
                    self.statement_map[line] = node.lineno
                if header_end > node.lineno:
                    self.statement_ends[node.lineno] = header_end
            elif not hasattr(node, "body") and not hasattr(node, "cases"):
                simple.append(node)
            else:  # match statements and other compound forms: map the header line only
                self.statement_map.setdefault(node.lineno, node.lineno)
        for node in simple:  # a simple statement wins over the header range that holds it
            end = node.end_lineno or node.lineno
            for line in range(node.lineno, end + 1):
                self.statement_map[line] = node.lineno
            if end > node.lineno:
                self.statement_ends[node.lineno] = end

    def statement_line(self, lineno: int) -> int:
        return self.statement_map.get(lineno, lineno)

    def loop_end(self, lineno: int) -> int | None:
        return self.loop_ends.get(lineno)

    def def_line(self, lineno: int) -> int:
        return self.def_lines.get(lineno, lineno)

    def text(self, lineno: int) -> str:
        text = self.texts.get(lineno)
        if text is None:
            end = min(self.statement_ends.get(lineno, lineno), lineno + 20)
            text = " ".join(raw.strip() for raw in self._lines[max(lineno - 1, 0):end]
                            if lineno > 0)
            if len(text) > self._max_source:
                text = text[: self._max_source - 3] + "..."
            self.texts[lineno] = text
        return text


def _statements(tree: ast.AST):
    """Every statement node, without walking into expressions (much cheaper than ast.walk)."""
    stack = list(getattr(tree, "body", []))
    while stack:
        node = stack.pop()
        if hasattr(node, "lineno"):  # match_case nodes have none: only their bodies count
            yield node
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            children = getattr(node, name, None)
            if children:
                stack.extend(children)
