"""How a test's outcome is judged: value equality with a float tolerance, stdout token match,
and bounded reprs. The comparisons run in the parent on plain data (sandbox/plain.py) or, for
assert statements, on plain data in the child; the reprs run in the child."""
from __future__ import annotations

import math
import re

REPR_LIMIT = 1000


def values_equal(actual, expected, atol: float = 0.0) -> bool:
    """`actual == expected`, or, when `atol` > 0, numbers within `atol` of each other, also
    inside lists, tuples and dict values of the same shape.

    >>> values_equal([0.1 + 0.2, 1], [0.3, 1], atol=1e-9)
    True
    """
    if _eq(actual, expected):
        return True
    return atol > 0 and _close(actual, expected, atol)


def _eq(a, b) -> bool:
    """`a == b` as a bool; array-like results (numpy) count as equal when all elements are."""
    result = a == b
    if isinstance(result, bool):
        return result
    if hasattr(result, "all"):
        shape_a, shape_b = getattr(a, "shape", None), getattr(b, "shape", None)
        if shape_a is not None and shape_b is not None and shape_a != shape_b:
            return False
        return bool(result.all())
    return bool(result)


def _close(a, b, atol: float) -> bool:
    if _is_number(a) and _is_number(b):
        if math.isnan(a) and math.isnan(b):
            return True
        return abs(a - b) <= atol
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return (isinstance(a, list) == isinstance(b, list) and len(a) == len(b)
                and all(_eq(x, y) or _close(x, y, atol) for x, y in zip(a, b)))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_eq(a[k], b[k]) or _close(a[k], b[k], atol) for k in a)
    return False


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def stdout_matches(actual: str, expected: str, atol: float = 0.0) -> bool:
    """Compare whitespace-separated tokens; with `atol` > 0 numeric tokens may differ by atol.
    Trailing spaces and Windows newlines do not matter.

    >>> stdout_matches("3 0.3000001\\n", "3\\n0.3", atol=1e-6)
    True
    """
    got, want = actual.split(), expected.split()
    return len(got) == len(want) and all(_token_matches(g, w, atol) for g, w in zip(got, want))


def _token_matches(got: str, want: str, atol: float) -> bool:
    if got == want:
        return True
    if atol <= 0:
        return False
    try:
        gf, wf = float(got), float(want)
    except ValueError:
        return False
    return abs(gf - wf) <= atol or (math.isnan(gf) and math.isnan(wf))


def _tokens(text: str) -> list[tuple[str, int]]:
    """(token, 1-based line) for each whitespace-separated token."""
    out, line = [], 1
    for piece in re.split(r"(\s+)", text):
        if not piece:
            continue
        if piece.isspace():
            line += piece.count("\n")
        else:
            out.append((piece, line))
    return out


def first_difference(actual: str, expected: str, atol: float = 0.0) -> str | None:
    """Where `actual` stdout first departs from `expected`, token by token (as `stdout_matches`
    compares), in words; None when they match.

    >>> first_difference("1 2\\n4\\n", "1 2\\n3\\n")
    "token 3 (line 2 of the expected output): got '4', expected '3'"
    """
    got, want = _tokens(actual), _tokens(expected)
    for i, ((g, _), (w, line)) in enumerate(zip(got, want)):
        if not _token_matches(g, w, atol):
            return f"token {i + 1} (line {line} of the expected output): got {_short(g)}, expected {_short(w)}"
    if len(got) < len(want):
        w, line = want[len(got)]
        if not got:
            return f"no output; expected {len(want)} token(s), starting with {_short(w)}"
        return (f"the output stops after {len(got)} of {len(want)} expected tokens; next expected "
                f"{_short(w)} (line {line})")
    if len(got) > len(want):
        return f"{len(got) - len(want)} token(s) more than the {len(want)} expected, from {_short(got[len(want)][0])}"
    return None


def expected_prefix_matched(actual: str, expected: str, atol: float = 0.0) -> int | None:
    """How many expected tokens `actual` (an unfinished program's output so far) already gives,
    when it is a prefix of `expected`; None when it already departs from it."""
    got, want = actual.split(), expected.split()
    if len(got) > len(want) or not all(_token_matches(g, w, atol) for g, w in zip(got, want)):
        return None
    return len(got)


def _short(token: str, limit: int = 40) -> str:
    return repr(token if len(token) <= limit else token[:limit] + "...")


def bounded_repr(value, limit: int = REPR_LIMIT) -> str:
    """repr(value), cut to about `limit` characters with a note of how much was cut.

    Big containers are summarised with reprlib first, so a 10**7-element list costs little.
    """
    try:
        if isinstance(value, (list, tuple, set, frozenset, dict)) and len(value) > limit:
            import reprlib
            r = reprlib.Repr()
            r.maxlist = r.maxtuple = r.maxset = r.maxfrozenset = r.maxdict = 50
            r.maxstring = r.maxother = 200
            r.maxlevel = 4
            text = r.repr(value)
        else:
            text = repr(value)
    except BaseException as exc:  # a broken __repr__ in candidate code (KeyboardInterrupt too)
        return f"<repr failed: {type(exc).__name__}>"
    if not isinstance(text, str):
        return f"<repr returned {type(text).__name__}>"
    if len(text) > limit:
        return text[:limit] + f"...<{len(text) - limit} more chars>"
    return text


def describe_exception(exc: BaseException, limit: int = 500) -> str:
    """'ZeroDivisionError: division by zero', or just the type name when the message is empty."""
    name = type(exc).__name__
    try:
        msg = str(exc)
        if not isinstance(msg, str):
            msg = "<str() returned a non-str>"
    except BaseException:
        msg = "<str() failed>"
    if len(msg) > limit:
        msg = msg[:limit] + "..."
    return f"{name}: {msg}" if msg else name
