"""Recognising a scored input among the visible ones (the test taxonomy of the plus adapters):
the literal arguments a visible test calls the entry point with, and a comparable key per input."""
from __future__ import annotations


def literal_call_args(code: str, entry_point: str) -> list | None:
    """The positional arguments of the first call to `entry_point` in `code`, as Python values;
    None when there is no such call or an argument is not a literal (or keywords are passed)."""
    import ast

    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
             and n.func.id == entry_point]
    if not calls or calls[0].keywords:
        return None
    try:
        return [ast.literal_eval(a) for a in calls[0].args]
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def input_key(args) -> str:
    """A comparable form of one input (its argument list): tuples read as lists, as EvalPlus's
    MBPP deserializer turns some lists into tuples."""
    def plain(x):
        if isinstance(x, (list, tuple)):
            return [plain(v) for v in x]
        if isinstance(x, dict):
            return {repr(plain(k)): plain(v) for k, v in x.items()}
        return x
    return repr(plain(list(args)))
