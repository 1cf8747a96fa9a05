"""Values as plain data, so that a verdict never calls the candidate's own `__eq__`.

The child turns a value into JSON-able data with `to_plain` (bounded, never raises); the parent
turns that untrusted data back into built-in values with `from_plain` (strict: ValueError on
anything malformed) and compares with `sandbox.checks.values_equal`, which then only ever runs
the `==` of built-in types.

Encoding: None, bool, int, float and str are themselves (ints of more than 4,000 bits and strings
with lone surrogates are escaped); containers are one-key objects: {"l": [...]} list,
{"t": [...]} tuple, {"S": [...]} set, {"F": [...]} frozenset, {"d": [[k, v], ...]} dict,
{"b": hex} bytes, {"B": hex} bytearray, {"c": [re, im]} complex, {"I": hex} big int.
Subclasses of those types count as the type itself, read through the base type's own methods
(an `int` subclass with a lying `__eq__` is just its int value). numpy arrays and scalars become
lists and numbers (`tolist()` / `item()`). Anything else is `Opaque`: {"o": [type name,
repr without memory addresses, plain form of its attributes]}, compared field by field.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

MAX_NODES = 200_000
MAX_DEPTH = 40
MAX_BITS = 4000
_ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+")
_type, _isinstance, _len, _repr = type, isinstance, len, repr   # bound before candidate code runs
_str_iter, _list_iter, _tuple_iter = str.__str__, list.__iter__, tuple.__iter__
_set_iter, _fset_iter, _dict_items = set.__iter__, frozenset.__iter__, dict.items


@dataclass(frozen=True)
class Opaque:
    """A value of a type the sandbox does not know, by its canonical form."""

    type: str
    repr: str
    attrs: object = None


def clean_text(text: str) -> str:
    """`text` with lone surrogates written as backslash escapes (valid UTF-8 from then on)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


class _TooLarge(Exception):
    pass


def to_plain(value, budget: list | None = None, depth: int = 0):
    """JSON-able plain data for `value`; never raises (BaseException included). A value of more
    than MAX_NODES items, or nested deeper than MAX_DEPTH, becomes {"X": ...}, which
    `from_plain` refuses: it cannot be compared."""
    budget = budget if budget is not None else [MAX_NODES]
    try:
        return _plain(value, budget, depth)
    except _TooLarge:
        return {"X": f"over {MAX_NODES} items or {MAX_DEPTH} levels"}
    except BaseException as exc:  # a candidate's method raising anything at all
        return {"o": [_type_name(value), f"<not readable: {_type(exc).__name__}>", None]}


def _plain(v, budget: list, depth: int):
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        raise _TooLarge
    t = _type(v)
    if v is None or t is bool:
        return v
    if _isinstance(v, int):
        n = int.__index__(v)
        if n.bit_length() > MAX_BITS:
            return {"I": hex(n)}
        return n
    if _isinstance(v, float):
        return float.__float__(v)
    if _isinstance(v, str):
        return clean_text(_str_iter(v))
    if _isinstance(v, complex):
        return {"c": [complex.__getattribute__(v, "real"), complex.__getattribute__(v, "imag")]}
    if _isinstance(v, tuple):
        return {"t": [_plain(x, budget, depth + 1) for x in _tuple_iter(v)]}
    if _isinstance(v, list):
        return {"l": [_plain(x, budget, depth + 1) for x in _list_iter(v)]}
    if _isinstance(v, dict):
        return {"d": [[_plain(k, budget, depth + 1), _plain(x, budget, depth + 1)]
                      for k, x in _dict_items(v)]}
    if _isinstance(v, frozenset):
        return {"F": [_plain(x, budget, depth + 1) for x in _fset_iter(v)]}
    if _isinstance(v, set):
        return {"S": [_plain(x, budget, depth + 1) for x in _set_iter(v)]}
    if _isinstance(v, (bytes, bytearray)):
        return {"b" if _isinstance(v, bytes) else "B": bytes(v).hex()}
    module = getattr(t, "__module__", "") or ""
    if module.startswith("numpy"):
        if hasattr(v, "tolist") and hasattr(v, "shape") and getattr(v, "shape") != ():
            return _plain(v.tolist(), budget, depth + 1)
        if hasattr(v, "item"):
            return _plain(v.item(), budget, depth + 1)
    return {"o": [_type_name(v), _canonical_repr(v), _attrs(v, budget, depth)]}


def _type_name(v) -> str:
    try:
        t = _type(v)
        return clean_text(f"{t.__module__}.{t.__qualname__}")
    except BaseException:
        return "object"


def _canonical_repr(v) -> str:
    try:
        text = _repr(v)
        if not _isinstance(text, str):
            return "<repr returned a non-str>"
        text = _str_iter(text)[:1000]
    except BaseException as exc:
        return f"<repr raised {_type(exc).__name__}>"
    return clean_text(_ADDRESS.sub("", text))


def _attrs(v, budget: list, depth: int):
    try:
        d = object.__getattribute__(v, "__dict__")
    except BaseException:
        return None
    if _type(d) is not dict:
        return None
    return _plain(d, budget, depth + 1)


def from_plain(data, depth: int = 0):
    """The built-in value that `data` (untrusted JSON) stands for; ValueError when malformed."""
    if depth > MAX_DEPTH + 2:
        raise ValueError("plain value nested too deeply")
    t = _type(data)
    if data is None or t in (bool, int, float):
        return data
    if t is str:
        return clean_text(data)
    if t is not dict or _len(data) != 1:
        raise ValueError(f"not a plain value: {t.__name__}")
    (tag, body), = data.items()
    try:
        if tag == "X":
            raise ValueError("the value is too large to compare")
        if tag == "I":
            return int(_need(body, str), 16)
        if tag in ("b", "B"):
            raw = bytes.fromhex(_need(body, str))
            return raw if tag == "b" else bytearray(raw)
        if tag == "c":
            re_, im = _need(body, list)
            return complex(_need(re_, (int, float)), _need(im, (int, float)))
        if tag == "o":
            name, text, attrs = _need(body, list)
            return Opaque(clean_text(_need(name, str)), clean_text(_need(text, str)),
                          _freeze(from_plain(attrs, depth + 1)) if attrs is not None else None)
        items = [from_plain(x, depth + 1) for x in _need(body, list)] if tag != "d" else None
        if tag == "l":
            return items
        if tag == "t":
            return tuple(items)
        if tag == "S":
            return set(items)
        if tag == "F":
            return frozenset(items)
        if tag == "d":
            out = {}
            for pair in _need(body, list):
                k, v = _need(pair, list)
                out[from_plain(k, depth + 1)] = from_plain(v, depth + 1)
            return out
    except (TypeError, ValueError, OverflowError) as exc:  # unhashable keys, bad hex, bad shapes
        raise ValueError(f"malformed plain value ({tag}): {exc}") from None
    raise ValueError(f"unknown plain tag {tag!r}")


def _need(value, types):
    if not _isinstance(value, types):
        raise ValueError(f"expected {types}, got {_type(value).__name__}")
    return value


def _freeze(value):
    """A hashable form of an Opaque's attributes (dicts become sorted item tuples)."""
    if _isinstance(value, dict):
        return ("dict",) + tuple(sorted(((repr(k), _freeze(v)) for k, v in value.items()),
                                        key=lambda kv: kv[0]))
    if _isinstance(value, (list, tuple)):
        return (_type(value).__name__,) + tuple(_freeze(v) for v in value)
    if _isinstance(value, (set, frozenset)):
        return ("set",) + tuple(sorted(repr(_freeze(v)) for v in value))
    if _isinstance(value, float) and math.isnan(value):
        return ("nan",)
    return value


def same(actual, expected, atol: float = 0.0) -> bool:
    """`actual == expected` judged on plain forms: what an assert compares in the child."""
    from sandbox.checks import values_equal
    try:
        return values_equal(from_plain(to_plain(actual)), from_plain(to_plain(expected)), atol)
    except ValueError:
        return False
