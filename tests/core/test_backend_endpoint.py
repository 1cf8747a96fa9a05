"""The endpoint backend against an in-process fake server (tests/core/fake_completions.py): the
top-K guidance, id/text token mapping, few-round-trip == token-by-token, candidates, and every
fault classified. No model weights; each test takes well under a second (the timeout one ~1 s)."""
import math

import pytest
import torch

from egcfg_plugin.core.backend import BackendError, ModelSpec, make_backend
from egcfg_plugin.core.backend_endpoint import EndpointModel, parse_settings
from egcfg_plugin.core.endpoint_client import EndpointError
from egcfg_plugin.core.topk_guidance import topk_guided_argmax, topk_guided_logprobs
from tests.core.fake_completions import EOS, VOCAB, FakeServer, ToyTokenizer, toy_logprobs

TOK = ToyTokenizer()


def backend(url, **settings):
    args = ",".join(f"{k}={v}" for k, v in {"base_url": url, "model_name": "toy", "retries": 1, "backoff": 0.01,
                                            "timeout": 5, **settings}.items())
    spec = ModelSpec.parse("endpoint," + args)
    assert spec.resolved_backend() == "endpoint"
    return make_backend(EndpointModel(parse_settings(spec), TOK), TOK)


def ids(text):
    return TOK(text).input_ids


def guided_loop(be, gamma, steps=40):
    u = be.stream(ids("def f(x):\n    return"), role="uncond")
    c = be.stream(ids("a = 1\ndef f(x):\n    return"), role="cond")
    out = []
    for _ in range(steps):
        tok = be.guided_token(u, c, gamma)
        if tok == EOS:
            break
        out.append(tok)
        be.push_all([u, c], tok)
    return out


# -- the top-K approximation ------------------------------------------------------------------------
def test_union_with_floor_is_the_closed_form_mix():
    u = {1: math.log(0.6), 2: math.log(0.3)}
    c = {2: math.log(0.5), 3: math.log(0.4)}
    margin, gamma = 1.0, 0.5
    ids_, mixed = topk_guided_logprobs(u, c, gamma, margin=margin)
    fu, fc = math.log(0.3) - margin, math.log(0.4) - margin
    raw = [u[1] + gamma * (fc - u[1]), u[2] + gamma * (c[2] - u[2]), fu + gamma * (c[3] - fu)]
    want = torch.log_softmax(torch.tensor(raw), -1)
    assert ids_ == [1, 2, 3]
    assert torch.allclose(mixed, want, atol=1e-6)
    assert topk_guided_argmax(u, c, gamma, margin=margin) == 2     # both streams like 2
    assert topk_guided_argmax(u, c, 0.0) == 1 and topk_guided_argmax(u, c, 1.0) == 2
    # the margin decides for a token only one stream lists: 3 (conditional only) wins at margin 0,
    # the shared token 2 at margin 2
    u, c = {1: math.log(0.5), 2: math.log(0.45)}, {3: math.log(0.55), 2: math.log(0.35)}
    assert topk_guided_argmax(u, c, 0.5, margin=0.0) == 3
    assert topk_guided_argmax(u, c, 0.5, margin=2.0) == 2


def test_guided_argmax_never_picks_a_token_neither_stream_lists():
    u, c = {5: -0.1, 6: -3.0}, {6: -0.2, 7: -2.0}
    for gamma in (0.0, 0.5, 1.0, 2.0, 3.0):
        assert topk_guided_argmax(u, c, gamma) in (5, 6, 7)


# -- token mapping --------------------------------------------------------------------------------
@pytest.mark.parametrize("ids_mode", [False, True], ids=["by-text", "by-id"])
def test_tokens_differing_only_in_a_leading_space_map_to_different_ids(ids_mode):
    with FakeServer(ids=ids_mode) as srv:
        be = backend(srv.url)
        s = be.stream(ids("def f(x):\n    return"))
        want = toy_logprobs(ids("def f(x):\n    return"))
        top = s.ahead[0].top
        for t in (VOCAB.index("x"), VOCAB.index(" x"), VOCAB.index("a"), VOCAB.index(" a")):
            if t in top:
                assert top[t] == pytest.approx(want[t])
        assert len(top) == len(set(top)) >= 15          # K=20 of 20 tokens, EOS ("") included
        assert int(s.logits.argmax()) == max(range(len(VOCAB)), key=lambda i: want[i])


# -- few round trips == token by token ---------------------------------------------------------------
@pytest.mark.parametrize("prompt", ["ids", "text"])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 3.0])
def test_few_round_trips_give_exactly_the_token_by_token_tokens(gamma, prompt):
    with FakeServer(ids=True) as srv:
        tokens_be, lines_be = backend(srv.url, mode="tokens", prompt=prompt), backend(srv.url, prompt=prompt)
        by_token, by_line = guided_loop(tokens_be, gamma), guided_loop(lines_be, gamma)
    assert by_token == by_line and len(by_token) >= 10
    assert lines_be.counters["round_trips"] < tokens_be.counters["round_trips"]
    assert tokens_be.counters["round_trips"] == len(by_token) + 2          # 2 prefills + one per token


def test_greedy_stream_is_the_servers_own_greedy_in_one_request_per_lookahead():
    prompt = ids("def f(x):\n    return")
    with FakeServer(ids=True) as srv:
        be = backend(srv.url, lookahead=16)
        s, out = be.stream(prompt), []
        for _ in range(40):
            out.append(int(s.logits.argmax()))
            be.push_all([s], out[-1])
        own = srv.complete(prompt, {"max_tokens": 40, "temperature": 0}, 0)["text"]
    assert TOK.decode(out) == own
    assert be.counters["round_trips"] == 3 and be.counters["requests"] == 3     # 16 + 16 + 16 positions


def test_round_trips_and_lines_are_counted():
    with FakeServer() as srv:
        be = backend(srv.url)
        out = guided_loop(be, 0.5)
    assert be.counters["lines"] == sum(VOCAB[t].count("\n") for t in out)
    assert be.counters["requests"] >= be.counters["round_trips"] >= 2


def test_auto_prompt_falls_back_to_text_when_ids_are_refused():
    class TextOnly(FakeServer):      # llama-cpp-python 0.3.36 answers so (HTTP 500, not 422)
        def answer(self, body):
            if isinstance(body["prompt"], list):
                return 500, {"error": {"message": "4 validation errors: {'type': 'string_type', 'loc': "
                                                  "('body', 'prompt', 'str'), 'msg': 'Input should be a valid string'}",
                                       "type": "internal_server_error"}}
            return super().answer(body)

    with TextOnly() as srv:
        be = backend(srv.url)
        s = be.stream(ids("def f(x):\n    return"))
    assert be.model.prompt_as == "text" and s.ahead
    assert srv.requests == 2            # a validation error is not retried


# -- candidates -----------------------------------------------------------------------------------
@pytest.mark.parametrize("honors_n", [True, False])
def test_candidates_are_seeded_cut_on_the_client_and_leave_the_stream_alone(honors_n):
    newline = VOCAB.index("\n")

    def done(row):
        return row[-1] == EOS or row.count(newline) >= 1

    with FakeServer(honors_n=honors_n) as srv:
        be = backend(srv.url)
        s = be.stream(ids("def f(x):\n    return"))
        before = (list(s.ids), list(s.ahead))
        rows = [be.sample(s, 3, temperature=1.0, top_p=1.0, max_tokens=30, done=done,
                          generator=torch.Generator().manual_seed(7)) for _ in range(2)]
    assert rows[0] == rows[1] and len(rows[0]) == 3
    assert all(done(r) or len(r) == 30 for r in rows[0])
    assert all(newline not in r[:-1] for r in rows[0])
    assert (s.ids, s.ahead) == before
    assert be.model.honors_n is honors_n


# -- faults ---------------------------------------------------------------------------------------
def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kind_of(call):
    with pytest.raises(EndpointError) as e:
        call()
    assert "\n" not in str(e.value)
    return e.value.kind, str(e.value)


def test_server_down_at_start_is_classified_after_retries():
    be = backend(f"http://127.0.0.1:{free_port()}/v1")
    kind, msg = kind_of(lambda: be.stream(ids("def")))
    assert kind == "down" and "2 attempts" in msg and "base_url" in msg


def test_server_dying_mid_run_is_classified_and_a_restarted_server_resumes():
    srv = FakeServer().__enter__()
    be = backend(srv.url, mode="tokens")
    s = be.stream(ids("def f(x):\n    return"))
    srv.stop()
    kind, _ = kind_of(lambda: be.push_all([s], VOCAB.index(" x")))
    assert kind == "down"
    with FakeServer(port=srv.port) as again:      # same address: the next request goes through
        s2 = be.stream(list(s.ids))
        assert s2.ahead and again.requests == 1


@pytest.mark.parametrize("behaviour, kind, hint", [
    ("no_logprobs", "no_logprobs", "logprobs"),
    ("malformed", "malformed", "not JSON"),
    (401, "unauthorized", "EGCFG_API_KEY"),
    (404, "not_found", "model_name"),
    (503, "server_error", "503"),
])
def test_bad_answers_are_classified_one_line_errors(behaviour, kind, hint):
    with FakeServer(behaviour) as srv:
        be = backend(srv.url)
        got, msg = kind_of(lambda: be.stream(ids("def")))
        retried = srv.requests
    assert got == kind and hint in msg
    assert retried == (2 if kind == "server_error" else 1)       # only 429/5xx/timeouts are retried


def test_k_above_the_servers_limit_says_to_lower_logprobs():
    with FakeServer("k_limit", max_logprobs=5) as srv:
        kind, msg = kind_of(lambda: backend(srv.url, logprobs=10).stream(ids("def")))
        assert backend(srv.url, logprobs=5).stream(ids("def")).ahead
    assert kind == "k_too_large" and "logprobs=K" in msg


def test_slow_server_times_out():
    with FakeServer("slow") as srv:
        kind, msg = kind_of(lambda: backend(srv.url, timeout=0.3, retries=0).stream(ids("def")))
    assert kind == "timeout" and "timeout=" in msg


def test_api_key_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("EGCFG_API_KEY", "sekrit")
    with FakeServer() as srv:
        backend(srv.url).stream(ids("def"))
    assert srv.headers.get("Authorization") == "Bearer sekrit"


@pytest.mark.parametrize("arg, named", [
    ("endpoint,model_name=m", "base_url"),
    ("endpoint,base_url=http://h/v1,logprobs=0", "logprobs=0"),
    ("endpoint,base_url=http://h/v1,mode=fast", "mode='fast'"),
    ("endpoint,base_url=http://h/v1,margin=-1", "margin=-1.0"),
    ("endpoint,base_url=http://h/v1,threads=2", "threads"),
    ("endpoint,base_url=http://h/v1,timeout=soon", "timeout='soon'"),
])
def test_bad_endpoint_settings_name_value_and_fix(arg, named):
    with pytest.raises(BackendError) as e:
        parse_settings(ModelSpec.parse(arg))
    assert named in str(e.value)


def test_an_endpoint_spec_names_its_tokenizer_for_the_transformers_side(monkeypatch):
    from egcfg_plugin.core import models

    monkeypatch.setattr(models, "fetch_default", lambda name=models.DEFAULT_MODEL: f"/cache/{name}")
    spec = "endpoint,base_url=http://h:8000/v1,model_name=m,tokenizer=Org/Model"
    assert models.resolve_model_path(spec) == "Org/Model"
    assert models.resolve_model_path("endpoint,base_url=http://h:8000/v1").endswith(models.DEFAULT_MODEL)
    # load_model's device (compare passes it) is the server's business, not an error
    settings = parse_settings(ModelSpec.parse(spec + ",device=cpu"))
    assert settings["tokenizer"] == "Org/Model" and settings["model_name"] == "m"


def test_the_decoding_loop_gives_the_same_code_in_both_modes():
    """EG-CFG (refreshes, candidates run on a visible test, the conditional stream) through
    `generate` on the fake server, in both modes."""
    from egcfg_plugin.core.config import EGCFGConfig
    from egcfg_plugin.core.decoding import generate
    from sandbox.types import TestCase
    from task_adapters.base import Problem

    problem = Problem(task_id="toy", prompt="def f(x):\n", entry_point="f", code_prefix="def f(x):\n",
                      visible_tests=(TestCase.call("assert f(1) == 2"),))
    config = EGCFGConfig.parse("s2t0.7d1k1g0.5+max_new_tokens=30")
    results = {}
    with FakeServer() as srv:
        for mode in ("tokens", "lines"):
            spec = ModelSpec.parse(f"endpoint,base_url={srv.url},model_name=toy,mode={mode},prompt=ids")
            results[mode] = generate(EndpointModel(parse_settings(spec), TOK), TOK, problem, config)
    by_token, by_line = results["tokens"], results["lines"]
    assert by_token.counters["executions"] >= 2 and by_token.counters["cond_rebuilds"] >= 1
    assert by_line.tokens == by_token.tokens and by_line.code == by_token.code
    assert by_line.counters["round_trips"] < by_token.counters["round_trips"]
