"""Bounded, exception-safe reprs for values seen while tracing untrusted code.

`safe_repr(obj, limit)` never raises and never builds a string much longer than `limit` for
the built-in containers (it walks only as many items as fit). Other objects use their own
`__repr__`, which is caught when it raises and cut when it is long. Memory addresses
(``at 0x7f...``) are removed so that the same program gives the same text on every run, and
small sets are sorted for the same reason.

    >>> safe_repr(list(range(1000)), 30)
    '[0, 1, 2, 3, 4, 5, 6, ...+993]'
"""
from __future__ import annotations

import builtins
import re
from collections import Counter, OrderedDict, defaultdict, deque

_PINNED = ("all", "any", "bool", "bytearray", "bytes", "dict", "enumerate", "frozenset",
           "getattr", "hasattr", "id", "int", "isinstance", "iter", "len", "list", "max", "min",
           "next", "object", "range", "repr", "reversed", "set", "sorted", "str", "sum",
           "tuple", "type", "zip")


def pin_builtins(namespace: dict) -> None:
    """Copy the builtins the tracer uses into a module's globals, now, so that traced code
    that rebinds ``builtins.len`` (say) cannot change what the tracer calls."""
    for name in _PINNED:
        namespace[name] = getattr(builtins, name)


pin_builtins(globals())

# Bound at import so that traced code that rebinds builtins cannot change what we call.
_repr = repr
_len = len
_type = type
_str = str
_sorted = sorted
_isinstance = isinstance
_ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+")

_ATOMS = frozenset({float, bool, complex, type(None), type(Ellipsis), range})
_SORT_SETS_UP_TO = 64
_MAX_INT_BITS = 256  # ints longer than this are shown by size, not converted to decimal


def safe_repr(obj: object, limit: int = 80) -> str:
    """A repr of `obj` of at most about `limit` characters; never raises."""
    try:
        text = _bounded(obj, limit, 3)
    except BaseException as exc:  # a __repr__ that raises (even SystemExit), RecursionError
        text = f"<{_type_name(obj)} object; repr raised {_type(exc).__name__}>"
    if _len(text) > limit:
        text = text[: max(limit - 3, 1)] + "..."
    return text


def safe_str(obj: object, limit: int = 120) -> str:
    """`str(obj)` bounded and exception-safe (used for exception messages)."""
    try:
        text = _str(obj)
    except BaseException as exc:
        text = f"<str() raised {_type(exc).__name__}>"
    if _len(text) > limit:
        text = text[: max(limit - 3, 1)] + "..."
    return _ADDRESS.sub("", text)


def type_name(obj: object) -> str:
    return _type_name(obj)


def _type_name(obj: object) -> str:
    try:
        return _type(obj).__name__
    except Exception:
        return "object"


def _bounded(obj: object, limit: int, depth: int) -> str:
    t = _type(obj)
    if t is int:
        if obj.bit_length() > _MAX_INT_BITS:
            return f"<int with {obj.bit_length()} bits>"
        return int.__repr__(obj)
    if t is str:
        if _len(obj) > limit - 2:
            return _repr(obj[: max(limit - 20, 6)]) + f"...(len {_len(obj)})"
        return _repr(obj)
    if t in _ATOMS:
        return _repr(obj)
    if t is bytes or t is bytearray:
        if _len(obj) > limit - 3:
            return _repr(obj[: max(limit - 30, 6)]) + f"...(len {_len(obj)})"
        return _repr(obj)
    if t is list:
        return _items(obj, _len(obj), "[", "]", limit, depth)
    if t is tuple:
        if _len(obj) == 1:
            return "(" + _bounded(obj[0], limit - 3, depth - 1) + ",)"
        return _items(obj, _len(obj), "(", ")", limit, depth)
    if t is set or t is frozenset:
        if not obj:
            return "set()" if t is set else "frozenset()"
        inner = _items(_maybe_sorted(obj), _len(obj), "{", "}", limit, depth)
        return inner if t is set else f"frozenset({inner})"
    if t is dict:
        return _dict(obj, limit, depth)
    if t is deque:
        return "deque(" + _items(obj, _len(obj), "[", "]", limit - 7, depth) + ")"
    if t is Counter or t is OrderedDict or t is defaultdict:
        return f"{t.__name__}(" + _dict(obj, limit - _len(t.__name__) - 2, depth) + ")"
    if _isinstance(obj, tuple) and hasattr(t, "_fields"):  # namedtuple
        return _namedtuple(obj, limit, depth)
    text = _repr(obj)
    if not _isinstance(text, _str):
        return f"<{_type_name(obj)} object>"
    if _len(text) > 4 * limit:
        text = text[: 4 * limit]
    if " at 0x" in text:
        text = _ADDRESS.sub("", text)
    return text


def _maybe_sorted(items):
    if _len(items) <= _SORT_SETS_UP_TO:
        try:
            return _sorted(items)
        except Exception:
            pass
    return items


def _items(items, count: int, open_: str, close: str, limit: int, depth: int) -> str:
    if count == 0:
        return open_ + close
    if depth <= 0:
        return f"{open_}...{count} items{close}"
    reserve = 6 + _len(_str(count))   # room for ", ...+N" and the closing bracket
    parts = []
    used = _len(open_) + _len(close)
    for i, item in enumerate(items):
        text = _bounded(item, max(limit - used - reserve, 8), depth - 1)
        if i > 0 and used + _len(text) > limit - reserve:
            parts.append(f"...+{count - i}")
            break
        parts.append(text)
        used += _len(text) + 2
    return open_ + ", ".join(parts) + close


def _dict(d, limit: int, depth: int) -> str:
    count = _len(d)
    if count == 0:
        return "{}"
    if depth <= 0:
        return f"{{...{count} items}}"
    reserve = 6 + _len(_str(count))
    parts = []
    used = 2
    for i, (key, value) in enumerate(d.items()):
        k = _bounded(key, max(limit - used - reserve, 8), depth - 1)
        v = _bounded(value, max(limit - used - _len(k) - reserve, 8), depth - 1)
        if i > 0 and used + _len(k) + _len(v) + 2 > limit - reserve:
            parts.append(f"...+{count - i}")
            break
        parts.append(f"{k}: {v}")
        used += _len(k) + _len(v) + 4
    return "{" + ", ".join(parts) + "}"


def _namedtuple(obj, limit: int, depth: int) -> str:
    name = _type(obj).__name__
    parts = []
    used = _len(name) + 2
    for i, field in enumerate(_type(obj)._fields):
        text = f"{field}={_bounded(obj[i], max(limit - used - 7 - _len(field), 8), depth - 1)}"
        if i > 0 and used + _len(text) > limit - 6:
            parts.append("...")
            break
        parts.append(text)
        used += _len(text) + 2
    return f"{name}(" + ", ".join(parts) + ")"
