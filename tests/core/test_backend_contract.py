"""The backend contract, run once per installed backend: hf on the tiny random model, llama.cpp on
the real default GGUF (real_model: run it under `flock /tmp/egcfg-model.lock`).

What the decoding loop relies on: a stream's logits do not depend on how its tokens arrived
(prefill at once, in pieces, pushed, forked and cut back), forks are independent, `push_all`
equals pushing one by one, sampling leaves the stream unchanged and is seeded, and gamma=0
decoding is the stream's own greedy path."""
import importlib.util

import pytest
import torch

from egcfg_plugin.core.backend import make_backend
from egcfg_plugin.core.config import EGCFGConfig
from egcfg_plugin.core.decoding import generate
from sandbox.types import TestCase
from task_adapters.base import Problem

HAS_LLAMACPP = importlib.util.find_spec("llama_cpp") is not None
BACKENDS = [
    pytest.param("hf", id="hf"),
    pytest.param("llamacpp", id="llamacpp", marks=[
        pytest.mark.real_model,
        pytest.mark.skipif(not HAS_LLAMACPP, reason="llama-cpp-python is not installed (pip install -e '.[llamacpp]')")]),
]
# llama.cpp's CPU kernels give slightly different sums for different batch shapes
ATOL = {"hf": 1e-4, "llamacpp": 0.5}


@pytest.fixture(scope="module", params=BACKENDS)
def loaded(request):
    if request.param == "hf":
        from tests.tiny import tiny_model

        return "hf", *tiny_model()
    from egcfg_plugin.core.models import load_model

    return "llamacpp", *load_model("default,backend=llamacpp")


@pytest.fixture
def be(loaded):
    name, model, tok = loaded
    b = make_backend(model, tok)
    assert b.name == name
    return b


def ids(be, text):
    return be.tokenizer(text, add_special_tokens=False).input_ids


def close(be, a, b):
    diff = float((a - b).abs().max())
    assert diff <= ATOL[be.name], f"{be.name}: logits differ by up to {diff:.4f}"
    return int(a.argmax()) == int(b.argmax())


def test_logits_do_not_depend_on_how_the_tokens_arrived(be):
    toks = ids(be, "def add(a, b):\n    return a + b\n\nprint(add(2, 3))")
    whole = be.stream(toks)
    assert whole.logits.shape == (whole.logits.shape[0],) and whole.logits.dtype == torch.float32
    pieces = be.stream(toks[:5])
    pieces.extend(toks[5:9])
    for t in toks[9:]:
        pieces.push(t)
    assert pieces.ids == whole.ids == toks
    assert close(be, pieces.logits, whole.logits)
    assert int(pieces.logits.argmax()) == int(whole.logits.argmax())


def test_fork_cuts_back_and_streams_stay_independent(be):
    toks = ids(be, "x = [1, 2, 3]\ny = sum(x)\nz = y * 2\n")
    base = be.stream(toks)
    before = base.logits.clone()
    cut = base.fork(keep=4, role="cond")
    assert cut.ids == toks[:4] and cut.logits is None
    cut.extend(ids(be, " # a different tail"))
    cut.push(toks[-1])
    assert base.ids == toks and torch.equal(base.logits, before)   # the original is untouched
    redo = base.fork(keep=4)
    redo.extend(toks[4:])
    assert close(be, redo.logits, before)
    full = base.fork()
    assert full.ids == toks and torch.equal(full.logits, before)


def test_push_all_equals_pushing_each_stream(be):
    a1, b1 = be.stream(ids(be, "def f(x):\n")), be.stream(ids(be, "# signal\ndef f(x):\n"))
    a2, b2 = a1.fork(), b1.fork()
    tok = ids(be, "    return")[0]
    be.push_all([a1, b1], tok)
    a2.push(tok)
    b2.push(tok)
    assert a1.ids == a2.ids and b1.ids == b2.ids
    assert close(be, a1.logits, a2.logits) and close(be, b1.logits, b2.logits)
    assert be.counters["uncond_decode_tokens"] == 4


def test_sampling_is_seeded_batched_and_leaves_the_stream_unchanged(be):
    stream = be.stream(ids(be, "def square(x):\n    return"))
    snapshot = (list(stream.ids), stream.logits.clone())
    def done(row):
        return len(row) >= 6

    def run(seed):
        g = torch.Generator(device=getattr(be, "device", "cpu"))
        g.manual_seed(seed)
        return be.sample(stream, 3, temperature=0.7, top_p=0.95, max_tokens=8, done=done, generator=g)

    calls = be.counters["forward_calls"]
    rows = run(1)
    assert len(rows) == 3 and all(1 <= len(r) <= 6 for r in rows) and all(done(r) for r in rows)
    assert be.counters["forward_calls"] - calls <= 6          # one forward per step, not per row
    assert run(1) == rows                                      # seeded
    assert stream.ids == snapshot[0] and torch.equal(stream.logits, snapshot[1])
    # a near-zero temperature samples the greedy path: all rows agree with pushing argmax
    g = torch.Generator(device=getattr(be, "device", "cpu"))
    cold = be.sample(stream, 2, temperature=1e-4, top_p=1.0, max_tokens=4, done=lambda r: len(r) >= 4, generator=g)
    greedy = stream.fork()
    path = []
    for _ in range(4):
        path.append(int(greedy.logits.argmax()))
        greedy.push(path[-1])
    assert cold == [path, path]


def _problem(**kw):
    return Problem(task_id="t", prompt=[{"role": "user", "content": "Write a Python function add(a, b) "
                                         "that returns the sum of a and b."}],
                   entry_point="add", visible_tests=(TestCase.call("add(2, 3)", expected="5"),), **kw)


def test_gamma0_decoding_is_the_streams_greedy_path(loaded):
    name, model, tok = loaded
    cfg = EGCFGConfig.parse("baseline+max_new_tokens=24")
    r = generate(model, tok, _problem(), cfg)
    be = make_backend(model, tok)
    from egcfg_plugin.core.prompts import split_prompt

    split = split_prompt(_problem(), tok)
    s = be.stream(tok(split.text, add_special_tokens=not split.chat).input_ids)
    path = []
    while len(path) < len(r.tokens):
        path.append(int(s.logits.argmax()))
        s.push(path[-1])
    assert r.tokens == path and len(path) > 0


def test_egcfg_runs_on_the_backend_and_counts_its_work(loaded):
    name, model, tok = loaded
    cfg = EGCFGConfig.parse("s2t0.7d1k4g1.0+max_new_tokens=8+early_stop_repeats=0")
    p = _problem(code_prefix="def add(a, b):\n")       # the def is written: guidance starts at once
    r = generate(model, tok, p, cfg)
    c = r.counters
    assert c["refreshes"] >= 1 and c["candidate_tokens"] > 0 and c["forward_calls"] > 0 and c["model_s"] > 0
    assert c["uncond_prefill_tokens"] > 0 and c["generated_tokens"] == len(r.tokens)
    assert generate(model, tok, p, cfg).tokens == r.tokens       # deterministic
