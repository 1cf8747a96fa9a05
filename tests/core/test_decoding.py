"""The decoding loop on a scripted stub LM: exact token paths, cache reuse, refresh cadence, early stop."""
import pytest

from egcfg_plugin.core.config import EGCFGConfig
from egcfg_plugin.core.decoding import generate
from task_adapters.base import Problem
from egcfg_plugin.core.prompts import split_prompt, wrap_signal
from sandbox.types import TestCase
from tests.stub_model import StubLM, script_policy

PROGRAM_A = "def f(x):\n    y = x + 1\n    return y\n"
PROGRAM_B = "def f(x):\n    y = x * 2\n    return y\n"
SIGNAL_MARK = "Runtime behaviour"


def problem(**kw):
    base = dict(task_id="t", prompt=[{"role": "user", "content": "Write f(x)."}], entry_point="f",
                visible_tests=(TestCase.call("f(3)", expected="6"),))
    base.update(kw)
    return Problem(**base)


def two_minds(tok, uncond_conf=10.0, cond_conf=30.0):
    """Writes PROGRAM_A when the prompt has no signal, PROGRAM_B when it has one."""
    a = script_policy(tok, PROGRAM_A + "```\n", confident=uncond_conf)
    b = script_policy(tok, PROGRAM_B + "```\n", confident=cond_conf)

    def policy(seq):
        return b(seq) if SIGNAL_MARK in tok.decode(seq) else a(seq)

    return policy


@pytest.fixture(scope="module")
def tok(tiny):
    return tiny[1]


def test_baseline_follows_the_unconditional_stream_and_never_executes(tok):
    model = StubLM(len(tok), two_minds(tok))
    r = generate(model, tok, problem(), EGCFGConfig.parse("baseline"))
    assert r.code == PROGRAM_A and r.stop_reason == "end_of_code"
    assert r.counters["refreshes"] == 0 and r.counters["executions"] == 0
    assert "cond_prefill_tokens" not in r.counters and "candidate_tokens" not in r.counters
    # one prefill of the prompt, then exactly one single-token forward per generated token
    prompt_len = r.counters["uncond_prefill_tokens"]
    assert model.calls[0] == (1, prompt_len)
    assert all(call == (1, 1) for call in model.calls[1:])
    assert r.visible_total == 1 and r.visible_passed == 0        # f(3) = 4, expected 6


@pytest.mark.parametrize("gamma, program", [(1.0, PROGRAM_B), (3.0, PROGRAM_B), (0.2, PROGRAM_A)])
def test_guided_choice_follows_the_formula(tok, gamma, program):
    # Line 1 (the def) is shared. After it, uncond says A with margin 10, cond says B with margin 30.
    # Guided score of A's token: 0 + g*(-30 - 0) = -30g; of B's: -10 + g*(0 + 10) = 10g - 10.
    # B wins iff 10g - 10 > -30g, i.e. g > 0.25.
    model = StubLM(len(tok), two_minds(tok))
    cfg = EGCFGConfig.parse(f"s2t0.7d2k1g{gamma}")
    r = generate(model, tok, problem(), cfg)
    assert r.code == program
    assert r.counters["refreshes"] >= 1


def test_cache_reuse_prefill_accounting(tok):
    model = StubLM(len(tok), two_minds(tok))
    p = problem()
    cfg = EGCFGConfig.parse("s2t0.7d1k1g1.0+early_stop_repeats=0")
    r = generate(model, tok, p, cfg)
    sp = split_prompt(p, tok)
    prompt_ids = tok(sp.text, add_special_tokens=False).input_ids
    before_ids = tok(sp.before, add_special_tokens=False).input_ids
    after_len = len(prompt_ids) - len(before_ids)
    assert prompt_ids[:len(before_ids)] == before_ids
    c = r.counters
    # the unconditional stream read the prompt exactly once
    assert c["uncond_prefill_tokens"] == len(prompt_ids)
    # the conditional stream never re-read the shared part before the signal: each rebuild
    # prefilled only signal + the rest of the prompt + the code so far
    rebuild_code_lens = _code_lens_at_rebuild(r)
    assert c["cond_rebuilds"] == len(rebuild_code_lens) >= 2
    assert c["cond_prefill_tokens"] == c["signal_tokens_total"] + c["cond_rebuilds"] * after_len + sum(rebuild_code_lens)
    # both streams decoded every generated token after guidance began
    assert c["uncond_decode_tokens"] == len(r.tokens) - 1
    assert 0 < c["cond_decode_tokens"] < c["uncond_decode_tokens"]


def _code_lens_at_rebuild(r):
    """Code length in tokens at each refresh that rebuilt the conditional stream (signal changed)."""
    lens, last_signal = [], None
    for line in r.lines:
        if "signal" in line and line["signal"] != last_signal:
            lens.append(line["code_tokens"])
            last_signal = line["signal"]
    return lens


@pytest.mark.parametrize("k, expected_refreshes", [(1, 3), (2, 2)])
def test_refresh_every_k_lines(tok, k, expected_refreshes):
    # guidance begins after the def line; refreshes come at the starts of lines 1, 2 and 3
    # (line 3 turns out to be the closing fence)
    model = StubLM(len(tok), script_policy(tok, PROGRAM_A + "```\n"))
    cfg = EGCFGConfig.parse(f"s2t0.7d1k{k}g1.0+early_stop_repeats=0")
    r = generate(model, tok, problem(), cfg)
    assert r.code == PROGRAM_A
    assert r.counters["refreshes"] == expected_refreshes
    refreshed_lines = [line["n"] for line in r.lines if "refresh" in line]
    assert refreshed_lines[0] == 1                    # the first line after the def
    assert all(b - a == k for a, b in zip(refreshed_lines, refreshed_lines[1:]))


def test_no_guidance_before_the_def_line(tok):
    script = "import math\n\ndef f(x):\n    return x * 2\n```\n"
    model = StubLM(len(tok), script_policy(tok, script))
    r = generate(model, tok, problem(), EGCFGConfig.parse("s2t0.7d1k1g1.0+early_stop_repeats=0"))
    assert r.code == script[:-4]
    code_lines = [line for line in r.lines if not line.get("end_of_code")]
    assert [line["text"] for line in code_lines] == ["import math", "", "def f(x):", "    return x * 2"]
    assert [line["guided"] for line in code_lines] == [False, False, False, True]
    assert min(line["n"] for line in r.lines if "refresh" in line) == 3


def test_candidates_are_executed_on_visible_tests_only(tok):
    model = StubLM(len(tok), script_policy(tok, PROGRAM_B + "```\n"))
    p = problem()
    r = generate(model, tok, p, EGCFGConfig.parse("s3t0.7d8k1g1.0+early_stop_repeats=0"))
    first = next(line for line in r.lines if "refresh" in line)
    # the stub is certain, so the 3 samples collapse into one candidate, run on the one visible test
    assert len(first["candidates"]) == 1
    runs = first["candidates"][0]["runs"]
    assert [run["test"] for run in runs] == ["f(3)"]
    assert runs[0]["status"] == "passed" and runs[0]["value"] == "6"
    assert first["candidates"][0]["complete"]
    assert "f(3)" in first["signal"] and SIGNAL_MARK in first["signal"]
    assert r.counters["executions"] == r.counters["refreshes"] * 1


def test_early_stop_when_the_unique_complete_candidate_repeats(tok):
    model = StubLM(len(tok), script_policy(tok, PROGRAM_A + "```\n"))
    r = generate(model, tok, problem(), EGCFGConfig.parse("s2t0.7d8k1g1.0+early_stop_repeats=2"))
    assert r.stop_reason == "early_stop" and r.code == PROGRAM_A
    assert r.counters["refreshes"] == 2


def test_accept_visible_pass_extension(tok):
    model = StubLM(len(tok), script_policy(tok, PROGRAM_B + "```\n"))
    on = generate(model, tok, problem(), EGCFGConfig.parse("s2t0.7d8k1g1.0+accept_visible_pass=true"))
    assert on.stop_reason == "visible_pass" and on.code == PROGRAM_B
    assert on.counters["refreshes"] == 1 and on.visible_passed == 1
    off = generate(model, tok, problem(), EGCFGConfig.parse("s2t0.7d8k1g1.0+early_stop_repeats=0"))
    assert off.stop_reason == "end_of_code" and off.code == PROGRAM_B


def test_stdio_problem_guides_from_the_start(tok):
    script = "n = int(input())\nprint(n * 2)\n```\n"
    model = StubLM(len(tok), script_policy(tok, script))
    p = Problem(task_id="io", prompt=[{"role": "user", "content": "Double n."}], kind="stdio",
                visible_tests=(TestCase.stdio("4\n", "8\n"),))
    r = generate(model, tok, p, EGCFGConfig.parse("s2t0.7d1k1g1.0+early_stop_repeats=0"))
    assert r.code == script[:-4]
    assert r.lines[0]["guided"] and "refresh" in r.lines[0]
    assert r.visible_passed == 1


def test_deterministic_for_a_seed(tiny):
    model, tok = tiny
    cfg = EGCFGConfig.parse("s3t1.0d2k1g1.0+max_new_tokens=40+seed=7")
    a = generate(model, tok, problem(), cfg)
    b = generate(model, tok, problem(), cfg)
    assert a.tokens == b.tokens and a.code == b.code and a.seed == 7
    assert [line.get("candidates") for line in a.lines] == [line.get("candidates") for line in b.lines]


def test_max_new_tokens_stops(tiny):
    model, tok = tiny
    r = generate(model, tok, problem(), EGCFGConfig.parse("baseline+max_new_tokens=12"))
    assert r.stop_reason in ("max_new_tokens", "eos", "end_of_code")
    assert len(r.tokens) <= 12


def test_signal_text_is_bounded(tok):
    model = StubLM(len(tok), script_policy(tok, PROGRAM_A + "```\n"))
    tests = tuple(TestCase.call(f"f({i})", expected=str(i + 1)) for i in range(30))
    cfg = EGCFGConfig.parse("s3t0.7d2k1g1.0+max_signal_chars=600+early_stop_repeats=0")
    r = generate(model, tok, problem(visible_tests=tests), cfg)
    assert 0 < r.counters["signal_chars_max"] <= 600


def test_wrap_signal_lands_inside_the_user_turn(tok):
    p = problem()
    sp = split_prompt(p, tok)
    conditional = sp.before + wrap_signal("### Runtime behaviour of candidate continuations\nx", True) + sp.after
    user_turn = conditional.split("<|im_start|>user\n")[1].split("<|im_end|>")[0]
    assert user_turn.startswith("Write f(x).") and "Runtime behaviour" in user_turn


def test_a_candidate_that_adds_nothing_runnable_is_neither_run_nor_shown(tok):
    # Line 1 opens a docstring. Its one-line candidate is an unterminated string, which the repair
    # cuts, leaving `def f(x): pass`: the code so far and nothing of the candidate. Showing that
    # `pass` body taught the real model to write `pass` (MBPP 80); it is left out instead.
    script = 'def f(x):\n    """Double x.\n    """\n    return x * 2\n```\n'
    model = StubLM(len(tok), script_policy(tok, script))
    r = generate(model, tok, problem(), EGCFGConfig.parse("s2t0.7d1k1g1.0+early_stop_repeats=0"))
    assert r.code == script[:-4]
    first, second = [line for line in r.lines if "refresh" in line][:2]
    assert first["n"] == 1 and [c["shown"] for c in first["candidates"]] == [False]
    assert first["candidates"][0]["runs"] == [] and first["signal"] == ""
    assert [line["guided"] for line in r.lines[1:3]] == [False, True]   # no signal, no guidance
    assert second["n"] == 2
    # the closing quotes make a program that differs from the bare prefix: run and shown
    assert [c["shown"] for c in second["candidates"]] == [True] and second["candidates"][0]["runs"]
    assert SIGNAL_MARK in second["signal"]
    assert not [l for l in second["signal"].splitlines() if l.strip() == "pass"]
    assert r.counters["unshown_candidates"] == 1


def test_a_comment_or_blank_line_candidate_adds_nothing_runnable_either(tok):
    # compared as code (syntax trees), a candidate that adds only a comment is the code so far
    from egcfg_plugin.core.decoding import _code_key

    assert _code_key("def f(x):\n    y = 1\n    # then\n\n") == _code_key("def f(x):\n    y = 1  # set y\n")
    assert _code_key("def f(x):\n    y = 1\n") != _code_key("def f(x):\n    y = 2\n")
    assert _code_key("def f(:") == "def f(:"
    script = 'def f(x):\n    # double it\n    y = x * 2\n    return y\n```\n'
    model = StubLM(len(tok), script_policy(tok, script))
    r = generate(model, tok, problem(), EGCFGConfig.parse("s2t0.7d1k1g1.0+early_stop_repeats=0"))
    assert r.code == script[:-4]
    first, second = [line for line in r.lines if "refresh" in line][:2]
    assert first["candidates"][0]["continuation"] == "    # double it\n"
    assert [c["shown"] for c in first["candidates"]] == [False] and first["signal"] == ""
    assert [c["shown"] for c in second["candidates"]] == [True] and "y = x * 2" in second["signal"]


def test_the_same_code_seen_unfinished_and_finished_is_kept_as_finished():
    # two samples write the same code; only the second reached the end of the code block
    import types

    from egcfg_plugin.core.decoding import _Decoder

    d = object.__new__(_Decoder)
    d.problem = problem(code_prefix="def f(x):\n")
    d.table = types.SimpleNamespace(stop_ids={0})
    d.code_ids = []
    d._decode = lambda ids: "".join(chr(i) for i in ids)
    body = [ord(ch) for ch in "    return x * 2\n"]
    cands = d._candidates("", [body, body + [0]])
    assert len(cands) == 1 and cands[0].complete and cands[0].shown
    assert cands[0].written_lines == 1     # the signal shows a long program from its new lines
    cands = d._candidates("", [body + [0], body])
    assert len(cands) == 1 and cands[0].complete
