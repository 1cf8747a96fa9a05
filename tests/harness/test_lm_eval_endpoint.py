"""lm-eval's `--model egcfg --model_args backend=endpoint,...`: EG-CFG decoding goes to the endpoint
backend (the served model), the transformers model (`pretrained`) keeps loglikelihood."""
from egcfg_plugin.core.backend import make_backend


def test_model_args_backend_endpoint_builds_the_endpoint_engine(tiny):
    from egcfg_plugin.harness.lm_eval_model import EGCFGLM
    from tests.core.fake_completions import FakeServer

    model, tok = tiny
    with FakeServer() as srv:
        eg = EGCFGLM(pretrained=model, tokenizer=tok, device="cpu", batch_size=1, gamma=0.0, backend="endpoint",
                     base_url=srv.url, model_name="served", logprobs=5, mode="tokens")
        engine, engine_tok = eg._engine
        backend = make_backend(engine, engine_tok)
        stream = backend.stream(engine_tok("def f(x):", add_special_tokens=False).input_ids)
    assert backend.name == "endpoint" and stream.ahead and srv.requests == 1
    assert srv.headers and engine.settings["model_name"] == "served" and engine.settings["logprobs"] == 5
    assert engine.settings["tokenizer"] == "default"          # pretrained is an object: the default's
    assert eg.tokenizer is tok                                # HFLM keeps its own

