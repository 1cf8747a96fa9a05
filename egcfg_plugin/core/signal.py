"""Write the execution signal: what candidate continuations did when run on the visible tests.

Our own wording. The text is bounded by `max_chars`; each candidate gets an equal share, and a
trace is shortened before a candidate is dropped. A program longer than half its share is shown
from a few lines before its new lines (the code written so far is in the prompt already), so its
trace keeps the rest; nothing is ever cut inside a line of code or left in an open code block.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.types import ExecResult, TestCase

CONTEXT_LINES = 3   # lines of the code written so far shown before a long program's new lines
HEADER_FULL = (
    "### Runtime behaviour of candidate continuations\n"
    "Below are possible ways to continue the code written so far, each executed on the examples. "
    "The traces show which lines ran, the variables they set, return values and errors. Use them to "
    "spot wrong values or crashes and to write the next lines correctly; the candidates may be wrong."
)
HEADER_BRIEF = (
    "### Runtime behaviour of candidate continuations\n"
    "Possible continuations of the code so far, with what each returned on the examples "
    "(they may be wrong):"
)


@dataclass
class Candidate:
    """One sampled continuation and what it did."""

    continuation: str              # the sampled text
    program: str                   # the repaired, executable program that was run
    complete: bool = False         # the sample reached the end of the code
    written_lines: int = 0         # the program's first lines that are the code written so far
    shown: bool = True             # run and shown in the signal (False: it adds nothing runnable)
    runs: list[tuple[TestCase, ExecResult]] = field(default_factory=list)

    @property
    def passed_all(self) -> bool:
        return bool(self.runs) and all(r.passed for _, r in self.runs) and all(
            t.has_expectation for t, _ in self.runs)

    def summary(self) -> dict:
        return {"continuation": self.continuation[:400], "complete": self.complete, "shown": self.shown,
                "runs": [{"test": t.describe()[:120], "status": r.status.value,
                          "value": (r.value or "")[:80], "error": (r.error or "")[:120]} for t, r in self.runs]}


def build_signal(candidates: list[Candidate], *, style: str = "full", max_chars: int = 4000) -> str:
    """The signal text for these candidates, at most `max_chars` long ("" when there is nothing to show)."""
    if not candidates:
        return ""
    header = HEADER_FULL if style == "full" else HEADER_BRIEF
    candidates = ranked(candidates)
    share = max(200, (max_chars - len(header)) // len(candidates) - 1)   # -1: the joining newline
    parts = [header]
    for i, cand in enumerate(candidates, 1):
        head = f"\n#### Candidate {i}{_tally(cand)}\n" + _program(cand, share // 2)
        if style == "full":
            text = _full_block(head, cand, share)
        else:
            text = "\n".join([head] + [_brief_line(t, r, not cand.complete) for t, r in cand.runs or []])
        parts.append(_cut(text, share))
    while len(parts) > 2 and len("\n".join(parts)) > max_chars:   # the 200-character floor overran
        parts.pop()
    if len("\n".join(parts)) > max_chars:   # one candidate, still too long: it gets what is left
        parts[1] = _cut(parts[1], max(0, max_chars - len(parts[0]) - 1))
    return "\n".join(parts)[:max_chars]


def _program(cand: Candidate, budget: int) -> str:
    """The program in a code block, whole when it fits `budget`. Else it starts CONTEXT_LINES
    before the candidate's new lines and loses whole lines at its end, each elision said in
    prose outside the block (a marker inside it would read as code, and a small model copies it)."""
    lines = cand.program.rstrip().splitlines()
    first, last, new = 0, len(lines), min(cand.written_lines, len(lines) - 1)

    def fits() -> bool:
        return len("\n".join(lines[first:last])) <= budget

    if not fits():
        first = max(0, new - CONTEXT_LINES)
        while first < new and not fits():   # context lines go before new lines do
            first += 1
    while last - first > 1 and not fits():
        last -= 1
    if not fits():   # one line longer than the budget: cutting it would show code never written
        return f"(its code, from line {first + 1}, has a line too long to show here)"
    block = "```python\n" + "\n".join(lines[first:last]) + "\n```"
    if first:
        written = f"{_lines(1, first).lower()} {'is' if first == 1 else 'are'} the code written so far"
        block = f"{_lines(first + 1, last)} ({written}):\n" + block
    if last < len(lines):
        block += f"\n({_lines(last + 1, len(lines)).lower()} not shown)"
    return block


def _lines(a: int, b: int) -> str:
    return f"Line {a}" if a == b else f"Lines {a}-{b}"


def _cut(text: str, share: int) -> str:
    """`text` within `share` characters, cut at a line end, with an open code block closed."""
    if len(text) <= share:
        return text
    note = "\n(the rest of this candidate is cut to fit)"
    kept = text[: max(0, share - len(note) - 4)]
    kept = kept[: kept.rfind("\n")] if "\n" in kept else ""
    if kept.count("```") % 2:
        kept += "\n```"
    return kept + note


def ranked(candidates: list[Candidate]) -> list[Candidate]:
    """Best first: most examples passed, then finished before unfinished, then sampling order.
    (A small model leans on the first candidate it reads.)"""
    order = sorted(enumerate(candidates),
                   key=lambda ic: (-sum(r.passed for _, r in ic[1].runs), not ic[1].complete, ic[0]))
    return [c for _, c in order]


def _full_block(head: str, cand: Candidate, share: int) -> str:
    """The program, one example with its whole trace (the first that went wrong, else the first),
    and a line per other example. The other examples' lines come first in the budget, so
    the traced one gets what is left rather than a share that the test headers would eat."""
    from sandbox.render import render_outcome, render_result

    runs = cand.runs or []
    if not runs:
        return head
    traced = next((i for i, (_, r) in enumerate(runs) if not r.passed), 0)
    unfinished = not cand.complete
    others = [render_outcome(r, t, unfinished=unfinished) for i, (t, r) in enumerate(runs) if i != traced]
    rest = "\n".join(["Other examples:"] + others) if others else ""
    budget = max(120, share - len(head) - len(rest) - 2)
    test, result = runs[traced]
    body = render_result(result, test, max_chars=budget, unfinished=unfinished)
    return "\n".join([head, body] + ([rest] if rest else []))


def _tally(cand: Candidate) -> str:
    """' (passed 2 of 3 examples)', so a candidate's overall result reads before its traces. An
    unfinished candidate says so, instead of a '0 of 3' that would blame code not written yet."""
    runs = cand.runs or []
    if not runs:
        return ""
    n, ok = len(runs), sum(r.passed for _, r in runs)
    checked = all(t.has_expectation for t, _ in runs)
    if cand.complete:
        return f" (passed {ok} of {n} examples)" if checked else f" (ran without error on {ok} of {n} examples)"
    errors = sum(r.status.value not in ("passed", "failed") for _, r in runs)
    if ok and checked:
        return f" (unfinished; already passes {ok} of {n} examples)"
    if errors:
        return f" (unfinished; raised an error on {errors} of {n} examples)"
    return " (unfinished)"


def _brief_line(test: TestCase, result: ExecResult, unfinished: bool = False) -> str:
    got = result.value if result.value is not None else (result.error or "")
    expect = f" (expected {test.expected})" if test.expected is not None else ""
    status = "unfinished" if unfinished and result.status.value == "failed" else result.status.value
    return f"- {test.describe()}{expect} -> {status}: {got}"
