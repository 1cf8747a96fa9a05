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

log = logging.getLogger(__name__)

_COMPOUND_WITH_BODY = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith,
                       ast.Try, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
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
        self._text: dict[int, str] = {}
        self.statement_map: dict[int, int] = {}
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
        for node in ast.walk(tree):
            if not isinstance(node, ast.stmt):
                continue
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
            elif not hasattr(node, "body") and not hasattr(node, "cases"):
                simple.append(node)
            else:  # match statements and other compound forms: map the header line only
                self.statement_map.setdefault(node.lineno, node.lineno)
        for node in simple:  # a simple statement wins over the header range that holds it
            for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                self.statement_map[line] = node.lineno

    def statement_line(self, lineno: int) -> int:
        return self.statement_map.get(lineno, lineno)

    def loop_end(self, lineno: int) -> int | None:
        return self.loop_ends.get(lineno)

    def def_line(self, lineno: int) -> int:
        return self.def_lines.get(lineno, lineno)

    def text(self, lineno: int) -> str:
        text = self._text.get(lineno)
        if text is None:
            raw = self._lines[lineno - 1] if 0 < lineno <= len(self._lines) else ""
            text = raw.strip()
            if len(text) > self._max_source:
                text = text[: self._max_source - 3] + "..."
            self._text[lineno] = text
        return text
