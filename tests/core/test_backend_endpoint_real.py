"""The endpoint backend against a real OpenAI-compatible server: llama-cpp-python's own server
(`python -m llama_cpp.server`, the `llamacpp-server` extra) serving the default GGUF on 127.0.0.1.
real_model: run under `flock /tmp/egcfg-model.lock`. Short on purpose (small max_new_tokens)."""
import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from egcfg_plugin.core.config import EGCFGConfig
from egcfg_plugin.core.decoding import generate

SERVER_DEPS = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings")
MISSING = [m for m in SERVER_DEPS if importlib.util.find_spec(m) is None]
pytestmark = [pytest.mark.real_model,
              pytest.mark.skipif(bool(MISSING), reason=f"the llama.cpp server needs {', '.join(MISSING)}: "
                                                      f"pip install -e '.[llamacpp-server]'")]
READY_S = 180


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The base URL of a llama.cpp server on the default GGUF, started for this module."""
    from egcfg_plugin.core.backend import available_cores
    from egcfg_plugin.core.models import resolve_gguf

    gguf, _ = resolve_gguf("default")
    port = free_port()
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "passive")}
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                                 "--port", str(port), "--n_ctx", "4096", "--n_threads", str(available_cores()),
                                 "--verbose", "false"], stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + READY_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the llama.cpp server exited with {proc.returncode}:\n{log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/models", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the llama.cpp server was not ready in {READY_S} s:\n{log_path.read_text()[-2000:]}")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def load(url, **settings):
    from egcfg_plugin.core.models import load_model

    extra = "".join(f",{k}={v}" for k, v in settings.items())
    return load_model(f"endpoint,base_url={url},model_name=default,tokenizer=default{extra}")


def problem_of(task_id, wording=None):
    from task_adapters.registry import get_adapter

    adapter = get_adapter("humaneval")
    return adapter.problem(next(r for r in adapter.load() if r["task_id"] == task_id), wording=wording)


def test_gamma0_is_the_servers_own_greedy_completion(server):
    from egcfg_plugin.core.endpoint_client import CompletionsClient
    from egcfg_plugin.core.prompts import split_prompt

    model, tok = load(server)
    problem = problem_of("HumanEval/0")
    result = generate(model, tok, problem, EGCFGConfig.parse("baseline+max_new_tokens=40"))
    split = split_prompt(problem, tok)
    own = CompletionsClient(server, "default").complete(
        {"prompt": split.text, "max_tokens": len(result.tokens), "temperature": 0.0, "top_k": 0, "min_p": 0.0,
         "repeat_penalty": 1.0})["choices"][0]["text"]
    assert len(result.tokens) >= 10
    assert tok.decode(result.tokens) == own
    assert result.counters["round_trips"] <= 3          # 40 tokens in continuations of 32


def test_gamma1_few_round_trips_equal_token_by_token(server):
    """One task, kept short: mode=tokens costs ~3 s per token on this server. On HumanEval/2 (48
    tokens) the two modes differed at a comment line, likely because llama.cpp's sums depend on the
    batch (a prefix read as a prompt or reached while decoding; docs/RESULTS.md, "Endpoint
    backend"); exact equality is tested on a deterministic server in test_backend_endpoint.py."""
    # the project wording starts the answer in the function's body (the prompt's def and docstring
    # are the code so far), so guidance starts at once; the standard one rewrites the docstring first
    problem = problem_of("HumanEval/0", wording="project")
    config = EGCFGConfig.parse("s2t0.7d1k1g1.0+max_new_tokens=24")
    results = {mode: generate(*load(server, mode=mode), problem, config) for mode in ("tokens", "lines")}
    by_token, by_line = results["tokens"], results["lines"]
    assert by_token.counters["refreshes"] >= 1 and by_token.counters["cond_rebuilds"] >= 1
    assert by_line.code == by_token.code
    assert by_line.tokens == by_token.tokens
    assert by_line.counters["round_trips"] < by_token.counters["round_trips"]
