"""The EG-CFG decoding loop, written once and knowing no harness.

    result = generate(model, tokenizer, problem, EGCFGConfig.parse("s3t0.7d2k1g1.0"))
    result.code, result.counters, result.stop_reason      # a StopReason (a str)

The model is reached only through the backend contract (egcfg_plugin.core.backend); `generate`
makes the backend the loaded model names, or takes one (`backend=`).

Greedy decoding of one unconditional stream (prompt + code). When gamma > 0 and the target
function's `def` line is written, at every k-th line boundary: sample s continuations of up to d
lines, run each (repaired) on the visible tests with the tracer, write the signal, and rebuild the
conditional stream (prompt with signal + code). Each token is the argmax of the guided mix of the
two streams; the signal stays fixed within a line. gamma=0 takes exactly the plain greedy path.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from enum import Enum

from egcfg_plugin.core.config import EGCFGConfig
from egcfg_plugin.core.lines import TokenTable, code_end, def_complete
from task_adapters.base import STDIO, Problem
from egcfg_plugin.core.prompts import split_prompt, wrap_signal
from egcfg_plugin.core.signal import Candidate, build_signal

log = logging.getLogger(__name__)

CANDIDATE_TIMEOUT_S = 1.0
CANDIDATE_MEMORY_MB = 512
TOKENS_PER_LINE = 64


class StopReason(str, Enum):
    """Why a generation stopped. A str: it compares, hashes and serializes (JSON, the generation
    cache) as its value, e.g. "eos"."""

    EOS = "eos"                        # the model wrote an end token
    END_OF_CODE = "end_of_code"        # a closing fence, or test code after the function
    MAX_NEW_TOKENS = "max_new_tokens"
    EARLY_STOP = "early_stop"          # the same unique candidate came back early_stop_repeats times
    VISIBLE_PASS = "visible_pass"      # accept_visible_pass took a candidate passing the visible tests

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


@dataclass
class Result:
    """What one generation produced."""

    task_id: str
    code: str                      # the full program: problem.code_prefix + generated code
    text: str                      # the generated code only
    config: str
    seed: int
    stop_reason: str               # a StopReason (plain str when read back from JSON)
    lines: list[dict] = field(default_factory=list)
    counters: dict = field(default_factory=dict)
    tokens: list[int] = field(default_factory=list)
    visible_passed: int = 0
    visible_total: int = 0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def generate(model, tokenizer, problem: Problem, config: EGCFGConfig, *, backend=None) -> Result:
    """Decode one problem with EG-CFG (or plain greedy when config.gamma == 0)."""
    if backend is None:
        from egcfg_plugin.core.backend import make_backend

        backend = make_backend(model, tokenizer)
    return _Decoder(backend, problem, config).run()


class _Decoder:
    def __init__(self, backend, problem: Problem, config: EGCFGConfig):
        self.backend = backend
        self.tok = backend.tokenizer
        self.problem = problem
        self.config = config
        self.table = TokenTable.for_tokenizer(self.tok)
        self.split = split_prompt(problem, self.tok)
        special = not self.split.chat
        self.prompt_ids = self.tok(self.split.text, add_special_tokens=special).input_ids
        before_ids = self.tok(self.split.before, add_special_tokens=special).input_ids
        n = 0
        while n < min(len(before_ids), len(self.prompt_ids)) and before_ids[n] == self.prompt_ids[n]:
            n += 1
        self.pre_len = n                      # tokens shared by both streams' prompts
        self.after_ids = self.prompt_ids[n:]
        self.code_ids: list[int] = []
        self.text = ""                        # decoded generated code, refreshed at line ends
        self.lines: list[dict] = []
        self.counters = {"executions": 0, "sandbox_s": 0.0, "refreshes": 0, "signal_chars_max": 0,
                         "signal_tokens_total": 0, "cond_rebuilds": 0, "unshown_candidates": 0}
        self.cond = None
        self.pre_stream = None
        self.signal = ""
        self.last_unique: str | None = None
        self.repeats = 0
        self.finish: tuple[StopReason, str] | None = None   # (stop_reason, final generated text)

    # -- main loop ---------------------------------------------------------------------------
    def run(self) -> Result:
        import torch

        t0 = time.perf_counter()
        cfg = self.config
        prefix = self.problem.code_prefix
        self.uncond = self.backend.stream(self.prompt_ids, role="uncond")
        guiding = self.problem.kind == STDIO or def_complete(prefix, self.problem.entry_point)
        since_refresh = cfg.k
        at_boundary = prefix == "" or prefix.endswith("\n")
        pending_line: dict = {}
        stop_reason = StopReason.MAX_NEW_TOKENS
        guide = getattr(self.backend, "guided_token", None)
        while True:
            if cfg.gamma > 0 and guiding and at_boundary and since_refresh >= cfg.k:
                pending_line = self._refresh()
                since_refresh = 0
                if self.finish:
                    stop_reason, self.text = self.finish
                    break
            if self.cond is not None and guide is not None:   # a backend that mixes its own way (top-K lists)
                token = guide(self.uncond, self.cond, cfg.gamma, cfg.plausibility)
            elif self.cond is not None:
                from egcfg_plugin.core.guidance import guided_argmax

                token = guided_argmax(self.uncond.logprobs(), self.cond.logprobs(), cfg.gamma, cfg.plausibility)
            else:
                token = int(torch.argmax(self.uncond.logits))
            if token in self.table.stop_ids:
                self.text = self._decode(self.code_ids)
                end = code_end(prefix + self.text + "\n", self.problem.entry_point)
                if end is not None and end >= len(prefix):
                    self.text = self.text[: end - len(prefix)]
                stop_reason = StopReason.EOS
                break
            self.code_ids.append(token)
            at_boundary = False
            newlines = self.table.count_newlines(token)
            if newlines:
                self.text = self._decode(self.code_ids)
                end = code_end(prefix + self.text, self.problem.entry_point)
                if end is not None and end >= len(prefix):
                    self.text = self.text[: end - len(prefix)]
                    stop_reason = StopReason.END_OF_CODE
                    break
                self._log_line(pending_line)
                pending_line = {}
                since_refresh += newlines
                at_boundary = True
                guiding = guiding or def_complete(prefix + self.text, self.problem.entry_point)
            if len(self.code_ids) >= cfg.max_new_tokens:
                self.text = self._decode(self.code_ids)
                break
            self.backend.push_all([self.uncond] if self.cond is None else [self.uncond, self.cond], token)
        if pending_line:  # a refresh at the start of the line that turned out to end the code
            self.lines.append({"n": len(self.lines), "text": "", "end_of_code": True,
                               "guided": self.cond is not None, **pending_line})
        return self._result(stop_reason, time.perf_counter() - t0)

    def _decode(self, ids: list[int]) -> str:
        return self.tok.decode(ids, skip_special_tokens=False)

    def _log_line(self, extra: dict) -> None:
        """One entry per newly completed line (a token may end several); the refresh info goes
        with the first of them, the line it guided."""
        complete = self.text.split("\n")[:-1]
        for n in range(len(self.lines), len(complete)):
            entry = {"n": n, "text": complete[n][:200], "guided": self.cond is not None}
            entry.update(extra)
            extra = {}
            self.lines.append(entry)

    # -- one refresh of the signal -----------------------------------------------------------
    def _refresh(self) -> dict:
        import torch

        cfg = self.config
        self.counters["refreshes"] += 1
        gen = torch.Generator(device=getattr(self.backend, "device", "cpu"))
        gen.manual_seed(cfg.seed * 1_000_003 + self.counters["refreshes"])
        current = self._decode(self.code_ids)
        stop_ids = self.table.stop_ids
        table = self.table

        def done(row: list[int]) -> bool:
            if row[-1] in stop_ids:
                return True
            if not table.count_newlines(row[-1]):
                return False
            if sum(table.count_newlines(t) for t in row) >= cfg.d:
                return True
            return "```" in self._decode(row)

        budget = min(cfg.d * TOKENS_PER_LINE, cfg.max_new_tokens - len(self.code_ids) + TOKENS_PER_LINE)
        rows = self.backend.sample(self.uncond, cfg.s, temperature=cfg.t, top_p=cfg.top_p,
                                    max_tokens=max(1, budget), done=done, generator=gen)
        candidates = self._candidates(current, rows)
        shown = [c for c in candidates if c.shown]
        self.counters["unshown_candidates"] += len(candidates) - len(shown)
        self._execute(shown)
        info = {"refresh": self.counters["refreshes"], "code_tokens": len(self.code_ids),
                "candidates": [c.summary() for c in candidates]}
        if self._check_finish(current, candidates):
            return info
        signal = build_signal(shown, style=cfg.prompt_style, max_chars=cfg.max_signal_chars)
        info["signal_chars"] = len(signal)
        info["signal"] = signal[:1500]
        if signal != self.signal:
            self._rebuild_cond(signal)
        return info

    def _candidates(self, current: str, rows: list[list[int]]) -> list[Candidate]:
        from sandbox.repair import make_executable

        prefix = self.problem.code_prefix
        # A candidate that runs as nothing more than the code so far (its new lines were an
        # unfinished docstring or expression, cut by the repair) says nothing about the
        # continuation, and showing its repaired `pass` body invites copying it: it is neither run
        # nor shown (it still counts for the early stop's "unique candidate"). Programs are
        # compared as code (their syntax trees): added comments and blank lines add nothing, and
        # two candidates that differ only in comments run once, as one.
        bare = _code_key(make_executable(prefix + current))
        written = (prefix + current).count("\n")
        seen: dict[str, Candidate] = {}
        for row in rows:
            ended = bool(row) and row[-1] in self.table.stop_ids
            body = [t for t in row if t not in self.table.stop_ids]
            full = self._decode(self.code_ids + body)
            cont = full[len(current):] if full.startswith(current) else self._decode(body)
            tail = cont + ("\n" if ended else "")
            end = code_end(prefix + current + tail, self.problem.entry_point)
            complete = ended or end is not None
            if end is not None:
                cont = (prefix + current + tail)[len(prefix) + len(current): end]
            program = make_executable(prefix + current + cont)
            key = _code_key(program)
            # the same code seen unfinished and finished (it reached the end): keep the finished one
            if program.strip() and (key not in seen or (complete and not seen[key].complete)):
                seen[key] = Candidate(continuation=cont, program=program, complete=complete,
                                      shown=complete or key != bare, written_lines=written)
        return list(seen.values())

    def _execute(self, candidates: list[Candidate]) -> None:
        from sandbox import run_many

        tests = list(self.problem.visible_tests)
        if not tests or not candidates:
            return
        pairs = [(c.program, t) for c in candidates for t in tests]
        t0 = time.perf_counter()
        # a benchmark may ask for a warm sandbox server and its own memory cap (DS-1000: pandas,
        # sklearn, torch pre-imported; their pages need more than CANDIDATE_MEMORY_MB)
        box = self.problem.meta.get("sandbox") or {}
        results = run_many(pairs, timeout_s=CANDIDATE_TIMEOUT_S, memory_mb=box.get("memory_mb", CANDIDATE_MEMORY_MB),
                           trace=True, preload=tuple(box.get("preload", ())))
        self.counters["sandbox_s"] += time.perf_counter() - t0
        self.counters["executions"] += len(pairs)
        it = iter(results)
        for c in candidates:
            c.runs = [(t, next(it)) for t in tests]

    def _check_finish(self, current: str, candidates: list[Candidate]) -> bool:
        """The paper's early stop, and the optional accept-on-visible-pass extension."""
        cfg = self.config
        prefix = self.problem.code_prefix

        def ran(c: Candidate) -> str:  # the answer is the program that ran, not the raw sample
            return c.program[len(prefix):] if c.program.startswith(prefix) else current + c.continuation

        if cfg.accept_visible_pass:
            for c in candidates:
                if c.complete and c.passed_all:
                    self.finish = (StopReason.VISIBLE_PASS, ran(c))
                    return True
        if cfg.early_stop_repeats:
            if len(candidates) == 1 and candidates[0].complete:
                full = current + candidates[0].continuation
                self.repeats = self.repeats + 1 if full == self.last_unique else 1
                self.last_unique = full
                if self.repeats >= cfg.early_stop_repeats:
                    self.finish = (StopReason.EARLY_STOP, ran(candidates[0]))
                    return True
            else:
                self.repeats, self.last_unique = 0, None
        return False

    def _rebuild_cond(self, signal: str) -> None:
        self.signal = signal
        if not signal:
            self.cond = None
            return
        if self.pre_stream is None:
            self.pre_stream = self.uncond.fork(keep=self.pre_len, role="cond")
        sig_ids = self.tok(wrap_signal(signal, self.split.chat), add_special_tokens=False).input_ids
        self.counters["signal_chars_max"] = max(self.counters["signal_chars_max"], len(signal))
        self.counters["signal_tokens_total"] += len(sig_ids)
        self.counters["cond_rebuilds"] += 1
        cond = self.pre_stream.fork()
        cond.extend(sig_ids + self.after_ids + self.code_ids)
        self.cond = cond

    # -- result ------------------------------------------------------------------------------
    def _result(self, stop_reason: StopReason, wall: float) -> Result:
        code = self.problem.code_prefix + self.text
        passed, total = self._visible(code)
        counters = dict(self.backend.counters)
        counters.update(self.counters)
        counters["wall_s"] = wall
        counters["generated_tokens"] = len(self.code_ids)
        return Result(task_id=self.problem.task_id, code=code, text=self.text, config=self.config.compact,
                      seed=self.config.seed, stop_reason=stop_reason, lines=self.lines, counters=counters,
                      tokens=list(self.code_ids), visible_passed=passed, visible_total=total)

    def _visible(self, code: str) -> tuple[int, int]:
        from egcfg_plugin.core.visible import visible_score

        t0 = time.perf_counter()
        counts = visible_score(self.problem.visible_tests, code)
        self.counters["sandbox_s"] += time.perf_counter() - t0
        return counts


def _code_key(program: str) -> str:
    """What a program runs, for comparing candidates: its syntax tree without comments and
    blank lines (the text itself when it does not parse)."""
    import ast

    try:
        return ast.dump(ast.parse(program))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return program
