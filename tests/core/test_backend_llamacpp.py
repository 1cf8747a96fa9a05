"""The llama.cpp backend on the real default GGUF (real_model; run under
`flock /tmp/egcfg-model.lock`): gamma=0 is llama.cpp's own greedy completion, and bad input is a
one-line error that leaves nothing in the generation cache."""
import importlib.util

import pytest

from egcfg_plugin.core.backend import BackendError
from egcfg_plugin.core.config import EGCFGConfig
from egcfg_plugin.core.decoding import StopReason, generate

pytestmark = [pytest.mark.real_model,
              pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                 reason="llama-cpp-python is not installed (pip install -e '.[llamacpp]')")]


@pytest.fixture(scope="module")
def loaded():
    from egcfg_plugin.core.models import load_model

    return load_model("default,backend=llamacpp")


@pytest.fixture(scope="module")
def reference(loaded):
    """llama-cpp-python's own `Llama`, greedy, on the same GGUF (with the same weight buffers)."""
    import llama_cpp
    import llama_cpp.llama as high

    from egcfg_plugin.core import backend_llamacpp

    plain = llama_cpp.llama_model_default_params

    def params():
        p = plain()
        p.use_extra_bufts = backend_llamacpp.EXTRA_BUFFER_TYPES
        return p

    high.llama_cpp.llama_model_default_params = params
    try:
        return llama_cpp.Llama(model_path=loaded[0].path, n_ctx=4096, n_threads=loaded[0].threads, verbose=False)
    finally:
        high.llama_cpp.llama_model_default_params = plain


@pytest.mark.parametrize("task, task_id", [("humaneval", "HumanEval/0"), ("mbpp", "11")])
def test_gamma0_is_llamacpp_own_greedy_completion(loaded, reference, task, task_id):
    from egcfg_plugin.core.prompts import split_prompt
    from task_adapters.registry import get_adapter

    model, tok = loaded
    adapter = get_adapter(task)
    row = next(r for r in adapter.load() if str(r["task_id"]) == task_id)
    problem = adapter.problem(row)
    result = generate(model, tok, problem, EGCFGConfig.parse("baseline+max_new_tokens=160"))
    split = split_prompt(problem, tok)
    prompt = reference.tokenize(split.text.encode("utf-8"), add_bos=False, special=True)
    assert prompt == tok(split.text, add_special_tokens=not split.chat).input_ids
    theirs = []
    for t in reference.generate(prompt, temp=0.0, top_k=1, repeat_penalty=1.0, reset=True):
        theirs.append(t)
        if len(theirs) > len(result.tokens):
            break
    assert result.tokens == theirs[:len(result.tokens)] and len(result.tokens) > 10
    if result.stop_reason == StopReason.EOS:     # our loop stopped where llama.cpp ends too
        assert reference.token_eos() == theirs[len(result.tokens)] or theirs[len(result.tokens)] in tok.eog_ids


def test_unloadable_gguf_is_a_one_line_error(tmp_path):
    from egcfg_plugin.core.models import load_model

    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(BackendError) as e:
        load_model(f"{bad},backend=llamacpp")
    assert "broken.gguf" in str(e.value) and "\n" not in str(e.value)


def test_context_too_small_fails_with_the_numbers_and_caches_nothing(tmp_path):
    from egcfg_plugin.agents.cache import GenerationCache
    from egcfg_plugin.agents.solve import solve
    from egcfg_plugin.core.models import load_model
    from task_adapters.registry import get_adapter

    model, tok = load_model("default,backend=llamacpp,n_ctx=256")
    adapter = get_adapter("humaneval")
    problem = adapter.problem(adapter.load(limit=1)[0])
    cache = GenerationCache(tmp_path)
    with pytest.raises(BackendError) as e:
        solve(model, tok, problem, [EGCFGConfig.parse("baseline")], cache=cache)
    msg = str(e.value)
    assert "n_ctx=256" in msg and "n_ctx=512" in msg and "\n" not in msg
    assert len(cache) == 0


def test_identity_records_backend_version_threads_and_sha256(loaded):
    from egcfg_plugin.agents.solve import model_identity
    from egcfg_plugin.core.models import DEFAULT_MODEL, DEFAULT_MODELS

    model, _ = loaded
    ident = model_identity(model)
    assert "llamacpp" in ident and model.version in ident and f"threads{model.threads}" in ident
    assert DEFAULT_MODELS[DEFAULT_MODEL].sha256[:16] in ident
    info = model.info()
    assert info["weights_sha256"] == DEFAULT_MODELS[DEFAULT_MODEL].sha256 and info["threads"] >= 1
