"""EG-CFG settings, with the compact string form used by the paper's tooling (``s3t0.75d2k1g1.0``)."""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

PROMPT_STYLES = ("full", "brief")
_COMPACT_KEYS = {"s": "s", "t": "t", "d": "d", "k": "k", "g": "gamma", "p": "top_p"}
_COMPACT_RE = re.compile(r"([stdkgp])(-?\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class EGCFGConfig:
    """One agent's settings.

    s: candidates sampled at each refresh. t: their temperature. top_p: their nucleus.
    d: completion horizon, in lines. k: refresh the signal every k lines.
    gamma: guidance strength; 0 is plain greedy decoding, 1 uses the conditional stream alone.
    prompt_style: how the signal is written ("full": traces with locals; "brief": outcomes only).
    accept_visible_pass: optional extension (off by default): stop as soon as a complete
        candidate passes every visible test, and take it.
    early_stop_repeats: stop when the unique executable candidate is the same complete program
        for this many refreshes in a row (the paper's early stop); 0 turns it off.
    max_signal_chars: bound on the signal text (traces dominate prefill cost).
    plausibility: for gamma > 1 only, a token both streams give less than this fraction of their
        top token's probability is never chosen (see egcfg_plugin.core.guidance); 0 turns it off.
    """

    s: int = 3
    t: float = 0.7
    top_p: float = 0.95
    d: int = 2
    k: int = 1
    gamma: float = 1.0
    prompt_style: str = "full"
    max_new_tokens: int = 512
    seed: int = 0
    accept_visible_pass: bool = False
    early_stop_repeats: int = 3
    max_signal_chars: int = 4000
    plausibility: float = 0.01

    def __post_init__(self) -> None:
        _check_int("s", self.s, 1, 64)
        _check_int("d", self.d, 1, 64)
        _check_int("k", self.k, 1, 64)
        _check_int("max_new_tokens", self.max_new_tokens, 1, 1 << 20)
        _check_int("early_stop_repeats", self.early_stop_repeats, 0, 1000)
        _check_int("max_signal_chars", self.max_signal_chars, 200, 1 << 20)
        _check_int("seed", self.seed, 0, 2**63 - 1)
        _check_float("t", self.t, 0.0, 10.0, low_open=True)
        _check_float("top_p", self.top_p, 0.0, 1.0, low_open=True)
        _check_float("gamma", self.gamma, 0.0, 100.0)
        _check_float("plausibility", self.plausibility, 0.0, 1.0)
        if self.prompt_style not in PROMPT_STYLES:
            raise ValueError(f"prompt_style must be one of {PROMPT_STYLES}, got {self.prompt_style!r}")

    @property
    def is_baseline(self) -> bool:
        return self.gamma == 0

    @property
    def compact(self) -> str:
        """``s3t0.7d2k1g1.0``; the baseline prints as ``baseline``. Non-default extras follow as
        ``+key=value`` so that two different configs never share a name."""
        if self.is_baseline:
            head = "baseline"
        else:
            head = f"s{self.s}t{_num(self.t)}d{self.d}k{self.k}g{float(self.gamma)}"
            if self.top_p != 0.95:
                head += f"p{_num(self.top_p)}"
        extras = []
        for f in dataclasses.fields(self):
            if f.name in ("s", "t", "d", "k", "gamma", "top_p") or (self.is_baseline and f.name in _EGCFG_ONLY):
                continue
            if getattr(self, f.name) != f.default:
                extras.append(f"+{f.name}={getattr(self, f.name)}")
        return head + "".join(extras)

    def replace(self, **changes) -> "EGCFGConfig":
        return dataclasses.replace(self, **changes)

    @classmethod
    def parse(cls, text: str, **overrides) -> "EGCFGConfig":
        """Parse a compact string: ``s3t0.75d2k1g1.0``, ``baseline`` (gamma=0), optionally
        followed by ``+key=value`` extras. Keys may come in any order; missing ones keep defaults."""
        text = text.strip()
        head, *extras = text.split("+")
        values: dict = {}
        if head == "baseline":
            values["gamma"] = 0.0
        elif head:
            pos = 0
            for m in _COMPACT_RE.finditer(head):
                if m.start() != pos:
                    break
                values[_COMPACT_KEYS[m.group(1)]] = m.group(2)
                pos = m.end()
            if pos != len(head):
                if "=" in head:   # key=value written as the head: settings go after a '+'
                    raise ValueError(f"cannot parse config {text!r}: write settings as '+key=value' after "
                                     f"'baseline' or a compact head, e.g. 's3t0.7d2k1g1.0+seed=1'")
                raise ValueError(
                    f"cannot parse config {text!r} at {head[pos:]!r}: expected keys s,t,d,k,g,p "
                    f"each followed by a number, e.g. 's3t0.75d2k1g1.0', or 'baseline'")
        for extra in extras:
            key, sep, val = extra.partition("=")
            if not sep:
                raise ValueError(f"config extra {extra!r} in {text!r} must look like +key=value")
            values[key.strip()] = val.strip()
        values.update(overrides)
        return cls.from_dict(values)

    @classmethod
    def from_dict(cls, values: dict) -> "EGCFGConfig":
        """Build from loosely typed values (strings from CLIs and model_args). Unknown keys are errors."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            import difflib

            close = difflib.get_close_matches(str(unknown[0]), list(fields), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(fields)}"
            raise ValueError(f"unknown EG-CFG setting {unknown[0]!r}; {hint}")
        typed = {name: _coerce(name, fields[name].type, v) for name, v in values.items()}
        return cls(**typed)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_EGCFG_ONLY = ("prompt_style", "accept_visible_pass", "early_stop_repeats", "max_signal_chars", "plausibility")


def _num(x: float) -> str:
    return f"{x:g}"


def parse_bool(value) -> bool:
    """A bool from a CLI or model_args string (true/false, 1/0, yes/no, on/off) or any value."""
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(value)
    return bool(value)


def _coerce(name: str, typ, value):
    typ = typ if isinstance(typ, str) else getattr(typ, "__name__", str(typ))
    try:
        if typ == "bool":
            return parse_bool(value)
        if typ == "int":
            f = float(value)
            if f != int(f):
                raise ValueError(value)
            return int(f)
        if typ == "float":
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise ValueError(f"EG-CFG setting {name}={value!r} is not a valid {typ}") from None


def _check_int(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"EG-CFG setting {name}={value!r} is out of range: need an integer in [{low}, {high}]")


def _check_float(name, value, low, high, low_open=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
    ok = ok and (value > low if low_open else value >= low) and value <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise ValueError(f"EG-CFG setting {name}={value!r} is out of range: need a number in {bracket}{low}, {high}]")
