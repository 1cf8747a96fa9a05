"""The sandbox contract: test cases, execution results and traces.

Pure standard library. Task adapters build `TestCase`s; the runner returns `ExecResult`s.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol


class Status(str, enum.Enum):
    """How one execution of (program, test) ended."""

    PASSED = "passed"            # ran to the end and the check held
    FAILED = "failed"            # ran to the end, the check did not hold (wrong value, AssertionError, wrong stdout)
    ERROR = "error"              # an exception other than AssertionError, or a non-zero exit
    TIMEOUT = "timeout"          # CPU or wall-clock limit
    MEMORY = "memory"            # MemoryError or address-space limit
    OUTPUT_LIMIT = "output_limit"  # stdout/stderr over the byte cap
    SYNTAX_ERROR = "syntax_error"  # the program (or test) does not compile
    KILLED = "killed"            # died by a signal (SIGSEGV, SIGKILL from outside, ...)


@dataclass(frozen=True)
class TestCase:
    """One visible or hidden test.

    kind="call": `code` is Python run after the program. Either an expression such as
    ``"add(1, 2)"`` (its value is recorded, and compared with `expected` when given) or
    statements such as ``"assert add(1, 2) == 3"`` (passed when they raise nothing).
    kind="stdio": the program runs as a script with `stdin`; passed when its stdout matches
    `expected_stdout` token by token (floats within `atol`, when set). With no expectation at
    all the test only produces a trace and counts as passed when nothing raises.
    `setup` runs before the program (imports, MBPP's test_setup_code).
    """

    __test__ = False  # not a pytest test class

    kind: str = "call"
    code: str = ""
    expected: str | None = None          # a Python expression for the expected value
    stdin: str = ""
    expected_stdout: str | None = None
    setup: str = ""
    atol: float = 0.0
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("call", "stdio"):
            raise ValueError(f"TestCase.kind must be 'call' or 'stdio', got {self.kind!r}")

    @classmethod
    def call(cls, code: str, expected: str | None = None, **kw) -> "TestCase":
        return cls(kind="call", code=code, expected=expected, **kw)

    @classmethod
    def stdio(cls, stdin: str, expected_stdout: str | None = None, **kw) -> "TestCase":
        return cls(kind="stdio", stdin=stdin, expected_stdout=expected_stdout, **kw)

    @property
    def has_expectation(self) -> bool:
        if self.kind == "stdio":
            return self.expected_stdout is not None
        return self.expected is not None or "assert" in self.code

    def describe(self) -> str:
        """A one-line human form: the invocation, or the stdin."""
        if self.kind == "stdio":
            return f"stdin: {self.stdin!r}"
        return self.code.strip()


@dataclass
class TraceEvent:
    """One step of the candidate's own code.

    kind: "line" (the line at `lineno` ran; `locals` holds the variables it changed),
    "call" (entered `func`; `locals` holds the arguments), "return" (`value` is the repr of the
    returned value) or "exception" (`value` is "Type: message").
    `locals` maps a name to (type name, bounded repr). `stdout` is the output so far, only for
    stdio tests and only when it changed. `repeat` > 1 means this event stands for that many
    identical-shape loop iterations that were folded.
    """

    kind: str
    lineno: int
    func: str = ""
    source: str = ""
    locals: dict[str, tuple[str, str]] = field(default_factory=dict)
    value: str | None = None
    stdout: str | None = None
    repeat: int = 1

    def to_dict(self) -> dict:
        d = {"kind": self.kind, "lineno": self.lineno, "func": self.func, "source": self.source}
        if self.locals:
            d["locals"] = {k: list(v) for k, v in self.locals.items()}
        if self.value is not None:
            d["value"] = self.value
        if self.stdout is not None:
            d["stdout"] = self.stdout
        if self.repeat != 1:
            d["repeat"] = self.repeat
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TraceEvent":
        return cls(kind=d["kind"], lineno=d["lineno"], func=d.get("func", ""),
                   source=d.get("source", ""),
                   locals={k: (v[0], v[1]) for k, v in d.get("locals", {}).items()},
                   value=d.get("value"), stdout=d.get("stdout"), repeat=d.get("repeat", 1))


@dataclass
class Trace:
    """The events of one (program, test) run, with what was left out said explicitly."""

    events: list[TraceEvent] = field(default_factory=list)
    elided_events: int = 0       # events dropped by the caps
    truncated: bool = False      # the event cap was hit
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"events": [e.to_dict() for e in self.events], "elided_events": self.elided_events,
                "truncated": self.truncated, "notes": list(self.notes)}

    @classmethod
    def from_dict(cls, d: dict) -> "Trace":
        return cls(events=[TraceEvent.from_dict(e) for e in d.get("events", [])],
                   elided_events=d.get("elided_events", 0), truncated=d.get("truncated", False),
                   notes=list(d.get("notes", [])))


@dataclass
class ExecResult:
    """The outcome of running one program on one test in an isolated child."""

    status: Status
    stdout: str = ""
    stderr: str = ""
    value: str | None = None     # bounded repr of the test expression's value (call tests)
    error: str | None = None     # "ZeroDivisionError: division by zero", "timed out after 2.0s", ...
    trace: Trace | None = None
    duration_s: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED

    def to_dict(self) -> dict:
        return {"status": self.status.value, "stdout": self.stdout, "stderr": self.stderr,
                "value": self.value, "error": self.error,
                "trace": self.trace.to_dict() if self.trace else None,
                "duration_s": self.duration_s}

    @classmethod
    def from_dict(cls, d: dict) -> "ExecResult":
        return cls(status=Status(d["status"]), stdout=d.get("stdout", ""), stderr=d.get("stderr", ""),
                   value=d.get("value"), error=d.get("error"),
                   trace=Trace.from_dict(d["trace"]) if d.get("trace") else None,
                   duration_s=d.get("duration_s", 0.0))


@dataclass(frozen=True)
class TraceCaps:
    """Bounds that keep a trace small enough for a prompt, whatever the program does."""

    max_events: int = 300              # events kept (the count of elided ones goes on)
    max_repr: int = 80                 # characters per value repr
    max_locals: int = 8                # variables per event (the rest are counted)
    max_total_chars: int = 24000       # rough size of all kept events together
    max_loop_iterations_shown: int = 3  # loop iterations kept in full before folding
    max_stdout: int = 200              # characters of "stdout so far" kept (the tail)
    max_source: int = 100              # characters of source text per event
    tail_events: int = 4               # final return/exception events kept past the cap
    max_line_events: int = 20000       # executed lines seen (folded or not) before the rest runs untraced

    def __post_init__(self) -> None:
        for name in ("max_events", "max_repr", "max_locals", "max_total_chars",
                     "max_stdout", "max_source", "max_line_events"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"TraceCaps.{name} must be a positive int, got {value!r}")
        for name in ("max_loop_iterations_shown", "tail_events"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"TraceCaps.{name} must be an int >= 0, got {value!r}")
        if self.max_repr < 8:
            raise ValueError(f"TraceCaps.max_repr must be at least 8, got {self.max_repr}")


class Tracer(Protocol):
    """Records the candidate's execution between `start()` and `stop()`."""

    impl: str

    def start(self) -> None: ...

    def stop(self) -> "Trace": ...
