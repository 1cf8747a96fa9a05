"""The matched-compute control: sample whole programs, keep the one the visible tests pick.

    control = SampleFilter(n="auto", t=0.8, top_p=0.95)          # or greedy_first=True
    sel = solve_control(model, tokenizer, problem, control, budget_tokens=872, cache=cache)

Samples are drawn one at a time (sample i uses seed i), each run on the problem's visible tests;
the answer is chosen by the agents' own rule (egcfg_plugin.agents.selection): the first sample
passing every visible test, else the one passing the most, ties to the earlier. Drawing stops
when a sample passes every visible test (later samples could not change the answer), after `n`
samples, or, with ``n="auto"``, once the samples have used `budget_tokens` (the EG-CFG arm's
mean tokens per task in the same run), so the control spends what EG-CFG spends on average
(it may overshoot by the rest of one sample). ``greedy_first`` puts the greedy answer first
(the grids that start with greedy); its tokens count toward the budget.

Visible tests only: hidden tests never reach this module.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from egcfg_plugin.agents.selection import Selection, passes_visible, select
from egcfg_plugin.core.config import EGCFGConfig

log = logging.getLogger(__name__)

MAX_AUTO_SAMPLES = 64


@dataclass(frozen=True)
class SampleConfig:
    """One sampled program (duck-types the parts of EGCFGConfig the generation cache reads)."""

    t: float = 0.8
    top_p: float = 0.95
    seed: int = 0
    max_new_tokens: int = 512

    @property
    def compact(self) -> str:
        extra = f"+max_new_tokens={self.max_new_tokens}" if self.max_new_tokens != 512 else ""
        return f"sample-t{self.t:g}p{self.top_p:g}{extra}"


@dataclass(frozen=True)
class SampleFilter:
    """The control's settings. n: an int, or "auto" (match `budget_tokens`)."""

    n: int | str = "auto"
    t: float = 0.8
    top_p: float = 0.95
    greedy_first: bool = False
    max_new_tokens: int = 512
    max_auto: int = MAX_AUTO_SAMPLES

    def __post_init__(self) -> None:
        if self.n != "auto" and (isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1):
            raise ValueError(f"sample-filter n={self.n!r}: need a positive integer or 'auto'")
        if not 0 < self.t <= 10:
            raise ValueError(f"sample-filter t={self.t!r}: need a temperature in (0, 10]")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"sample-filter top_p={self.top_p!r}: need a number in (0, 1]")

    @property
    def name(self) -> str:
        head = "greedy+sample-filter" if self.greedy_first else "sample-filter"
        cap = f" max_new_tokens={self.max_new_tokens}" if self.max_new_tokens != 512 else ""
        return f"{head} n={self.n} t={self.t:g} top_p={self.top_p:g}{cap}"

    def sample(self, i: int) -> SampleConfig:
        return SampleConfig(t=self.t, top_p=self.top_p, seed=i, max_new_tokens=self.max_new_tokens)


def parse_n(text) -> int | str:
    if str(text).strip().lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"sample-filter n={text!r}: need a positive integer or 'auto'") from None


def tokens_of(result) -> int:
    c = result.counters
    return int(c.get("generated_tokens", 0) + c.get("candidate_tokens", 0))


def solve_control(model, tokenizer, problem, control: SampleFilter, *, budget_tokens: float | None = None,
                  cache=None, model_id: str | None = None, backend=None, sampler=None,
                  greedy=None) -> Selection:
    """Run the control on one problem. `sampler(problem, SampleConfig) -> Result` and
    `greedy(problem, EGCFGConfig) -> Result` default to `sample_program` and the decoding loop."""
    if control.n == "auto" and (budget_tokens is None or budget_tokens <= 0):
        raise ValueError(f"sample-filter n=auto needs the EG-CFG arm's mean tokens per task, got {budget_tokens!r}")
    sampler = sampler or (lambda p, c: sample_program(model, tokenizer, p, c, backend=backend))
    if greedy is None:
        from egcfg_plugin.core.decoding import generate

        greedy = lambda p, c: generate(model, tokenizer, p, c, backend=backend)  # noqa: E731
    if cache is not None and model_id is None:
        from egcfg_plugin.agents.solve import model_identity

        model_id = model_identity(model)

    def run(cfg, make):
        key = cache.key(model_id, tokenizer, problem, cfg) if cache is not None else None
        hit = cache.get(key) if key is not None else None
        if hit is not None:
            return hit, True
        result = make(problem, cfg)
        if key is not None:
            cache.put(key, result, model_id=model_id)
        return result, False

    results, configs, cached, spent = [], [], [], 0
    if control.greedy_first:
        r, hit = run(EGCFGConfig(gamma=0.0), greedy)
        results.append(r), configs.append(r.config), cached.append(hit)
        spent += tokens_of(r)
    i = 0
    while not (results and passes_visible(results[-1])):
        if control.n == "auto":
            if spent >= budget_tokens or i >= control.max_auto:
                break
        elif i >= control.n:
            break
        cfg = control.sample(i)
        r, hit = run(cfg, sampler)
        results.append(r), configs.append(f"{cfg.compact}#{i}"), cached.append(hit)
        spent += tokens_of(r)
        i += 1
    if not results:   # n=auto with a budget the greedy answer already spent: nothing else to pick
        raise ValueError("sample-filter produced no result")
    return select(results, configs, cached)


def sample_program(model, tokenizer, problem, cfg: SampleConfig, *, backend=None):
    """One whole program sampled at temperature `cfg.t` and nucleus `cfg.top_p`, cut where the
    decoding loop cuts code (a closing fence, or test code after the entry point), and run on
    the visible tests. Returns a decoding.Result."""
    import torch

    from egcfg_plugin.core.backend import make_backend
    from egcfg_plugin.core.decoding import Result
    from egcfg_plugin.core.lines import TokenTable, code_end
    from egcfg_plugin.core.prompts import split_prompt
    from egcfg_plugin.core.visible import visible_score

    t0 = time.perf_counter()
    backend = backend or make_backend(model, tokenizer)   # the backend the model names (hf, llamacpp)
    tok = backend.tokenizer
    split = split_prompt(problem, tok)
    ids = tok(split.text, add_special_tokens=not split.chat).input_ids
    table = TokenTable.for_tokenizer(tok)
    prefix, entry = problem.code_prefix, problem.entry_point

    def done(row: list[int]) -> bool:
        if row[-1] in table.stop_ids:
            return True
        if not table.count_newlines(row[-1]):
            return False
        return code_end(prefix + tok.decode(row, skip_special_tokens=False), entry) is not None

    gen = torch.Generator(device=getattr(backend, "device", "cpu"))
    gen.manual_seed(cfg.seed * 1_000_003 + 17)
    stream = backend.stream(ids, role="sample")
    row = backend.sample(stream, 1, temperature=cfg.t, top_p=cfg.top_p, max_tokens=cfg.max_new_tokens,
                         done=done, generator=gen)[0]
    ended = bool(row) and row[-1] in table.stop_ids
    body = [t for t in row if t not in table.stop_ids]
    text = tok.decode(body, skip_special_tokens=False)
    end = code_end(prefix + text + ("\n" if ended else ""), entry)
    if end is not None and end >= len(prefix):
        text = (prefix + text)[len(prefix):end]
    stop = "eos" if ended else ("end_of_code" if end is not None else "max_new_tokens")
    code = prefix + text
    t1 = time.perf_counter()
    passed, total = visible_score(problem.visible_tests, code)
    counters = {"generated_tokens": len(body), "candidate_tokens": 0, "wall_s": time.perf_counter() - t0,
                "sandbox_s": time.perf_counter() - t1}
    return Result(task_id=problem.task_id, code=code, text=text, config=cfg.compact, seed=cfg.seed,
                  stop_reason=stop, counters=counters, tokens=list(body), visible_passed=passed,
                  visible_total=total)
