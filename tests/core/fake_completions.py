"""An in-process OpenAI-compatible /v1/completions server over a deterministic toy model, for the
endpoint backend's tests (no model weights, milliseconds per request), and a toy tokenizer.

The toy model's next-token log-probs are a fixed function of the last three tokens (and of the
length, so that lines end): the same prefix always gives the same top-K, however it is asked for.
`behaviour` switches a fault on: "no_logprobs", "k_limit", "malformed", "slow", or an HTTP status."""
from __future__ import annotations

import json
import math
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VOCAB = ["<eos>", "\n", "x", " x", "y", " y", " =", " 1", " 2", "(", ")", ":", " +", "def", " f", "    ",
         "return", "a", " a", "b", "?"]
EOS, UNKNOWN = 0, 20
# the toy model mostly writes "    return x + 1\n": each token's preferred successor
PREFER = {1: 15, 15: 16, 16: 3, 3: 12, 12: 7, 7: 1}


class ToyTokenizer:
    """The transformers-tokenizer surface the endpoint backend uses, over VOCAB (greedy longest match)."""

    name_or_path = "toy"
    eos_token_id = EOS
    unk_token_id = None

    def __len__(self):
        return len(VOCAB)

    def decode(self, ids, skip_special_tokens=False):
        return "".join(VOCAB[i] for i in ids if not (skip_special_tokens and i == EOS))

    def batch_decode(self, rows):
        return [self.decode(r) for r in rows]

    def convert_tokens_to_ids(self, name):
        return VOCAB.index(name) if name in VOCAB else None

    def __call__(self, text, add_special_tokens=True):
        ids, at = [], 0
        while at < len(text):
            best = max((i for i, v in enumerate(VOCAB) if v and text.startswith(v, at)), key=lambda i: len(VOCAB[i]),
                       default=UNKNOWN)
            ids.append(best)
            at += len(VOCAB[best]) if best != UNKNOWN else 1     # any other character reads as "?"
        return type("Enc", (), {"input_ids": ids})()


def toy_logprobs(seq: list[int]) -> list[float]:
    """Log-probs from the last three tokens; a prompt holding "a" (the toy "signal") shifts them a
    little, so guided tokens sometimes differ from the unconditional stream's greedy ones."""
    rng = random.Random(repr(seq[-3:]))
    logits = [rng.gauss(0.0, 2.0) for _ in VOCAB]
    if seq and seq[-1] in PREFER:
        logits[PREFER[seq[-1]]] += 8.0
    if VOCAB.index("a") in seq:
        logits = [v + rng.gauss(0.0, 0.8) for v in logits]
    since_newline = len(seq) - 1 - max((i for i, t in enumerate(seq) if t == 1), default=-1)
    if since_newline >= 6:
        logits[1] += 6.0          # lines of about six tokens
    logits[EOS] -= 3.0
    top = max(logits)
    norm = top + math.log(sum(math.exp(v - top) for v in logits))
    return [v - norm for v in logits]


class FakeServer:
    """`with FakeServer() as srv:` ... `srv.url` (ends in /v1); `srv.requests` counts requests."""

    def __init__(self, behaviour: str | int = "ok", *, ids: bool = False, honors_n: bool = False,
                 port: int = 0, max_logprobs: int = 20, delay: float = 0.0):
        self.behaviour, self.ids, self.honors_n = behaviour, ids, honors_n
        self.max_logprobs, self.delay, self.requests, self.headers = max_logprobs, delay, 0, {}
        self.tok = ToyTokenizer()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests += 1
                server.headers = dict(self.headers)
                code, payload = server.answer(body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):   # the client gave up (timeout tests)
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- the model ----------------------------------------------------------------------------------
    def answer(self, body: dict):
        b = self.behaviour
        if b == "slow":
            time.sleep(2.0)
        if isinstance(b, int):
            return b, {"error": {"message": f"status {b}"}}
        if b == "malformed":
            return 200, b"<html>not json</html>"
        k = body.get("logprobs")
        if b == "k_limit" and k is not None and k > self.max_logprobs:
            return 400, {"object": "error", "message": f"Requested sample logprobs of {k}, which is greater "
                                                       f"than max allowed: {self.max_logprobs}"}
        prompt = body["prompt"]
        seq = list(prompt) if isinstance(prompt, list) else self.tok(prompt).input_ids
        n = body.get("n", 1) if self.honors_n else 1
        choices = [self.complete(seq, body, body.get("seed", 0) + i) for i in range(n)]
        if b == "no_logprobs":
            for c in choices:
                c["logprobs"] = None
        return 200, {"object": "text_completion", "choices": choices}

    def complete(self, seq: list[int], body: dict, seed: int) -> dict:
        rng = random.Random(seed)
        temperature, k = body.get("temperature", 1.0), body.get("logprobs")
        seq, out, tokens, tops, finish = list(seq), [], [], [], "length"
        for _ in range(body.get("max_tokens", 16)):
            lp = toy_logprobs(seq)
            if temperature == 0:
                tok = max(range(len(lp)), key=lambda i: lp[i])
            else:
                weights = [math.exp(v / temperature) for v in lp]
                tok = rng.choices(range(len(lp)), weights=weights)[0]
            if tok == EOS:
                finish = "stop"
                break
            if k is not None:
                order = sorted(range(len(lp)), key=lambda i: -lp[i])[:k]
                tops.append({self.key(i, body): lp[i] for i in order} | {self.key(tok, body): lp[tok]})
                tokens.append(self.key(tok, body))
            out.append(tok)
            seq.append(tok)
        logprobs = {"tokens": tokens, "top_logprobs": tops, "token_logprobs": [], "text_offset": []} if k else None
        return {"text": self.tok.decode(out), "index": 0, "logprobs": logprobs, "finish_reason": finish}

    def key(self, tok: int, body: dict) -> str:
        if self.ids and body.get("return_tokens_as_token_ids"):
            return f"token_id:{tok}"
        return "" if tok == EOS else VOCAB[tok]
