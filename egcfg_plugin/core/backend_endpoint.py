"""The endpoint backend: EG-CFG on a model served through the OpenAI-compatible completions API.

    model, tok = load_endpoint(ModelSpec.parse(
        "endpoint,base_url=http://127.0.0.1:8080/v1,model_name=qwen,tokenizer=default"))
    backend = EndpointBackend(model, tok)

A server returns only each stream's top-K log-probs (`logprobs=K`), so a stream's `logits` is a
full-vocabulary tensor holding the top-K log-probs and, elsewhere, that list's floor (the K-th
log-prob minus `margin`); `guided_token` mixes two streams on the union of their lists
(egcfg_plugin.core.topk_guidance). Token ids come from the server where it gives them
(`token_id:N` keys, vLLM's `return_tokens_as_token_ids`), else from the token's text through the
tokenizer (`tokenizer=`).

Few round trips (`mode=lines`, the default): each request asks for a greedy continuation of up
to `lookahead` tokens with the top-K at every position. A stream keeps those positions; pushing the
token the server emitted there moves on without a request, any other token drops the rest and the
next position is asked for. So the guided tokens are those of one request per token
(`mode=tokens`) exactly, as long as the server is deterministic. Counters: `round_trips` (one per
batch of concurrent stream requests), `requests`, `sample_round_trips`, `lines`.
"""
from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from egcfg_plugin.core.backend import BackendError, ModelSpec
from egcfg_plugin.core.endpoint_client import CompletionsClient, EndpointError
from egcfg_plugin.core.topk_guidance import DEFAULT_MARGIN, floor_of, topk_guided_argmax

log = logging.getLogger(__name__)

# settings (model-argument keys) -> (type, default, what a valid value is)
SETTINGS = {
    "base_url": (str, None, "the server's URL, e.g. http://127.0.0.1:8080/v1"),
    "model_name": (str, None, "the served model's name (what /v1/models lists)"),
    "tokenizer": (str, "default", "a local tokenizer folder or a hub name; default = the default model's"),
    "api_key_env": (str, None, "the name of an environment variable holding the API key"),
    "logprobs": (int, 20, "an integer in [1, 100]: K, the top-K log-probs per position (vLLM's cap is 20)"),
    "margin": (float, DEFAULT_MARGIN, "a number >= 0: nats below the K-th log-prob for a missing token"),
    "mode": (str, "lines", "lines (few round trips) or tokens (one request per token)"),
    "lookahead": (int, 32, "an integer in [1, 512]: tokens per greedy continuation request"),
    "timeout": (float, 60.0, "seconds > 0 per request"),
    "retries": (int, 3, "an integer >= 0: retries on 429/5xx/timeouts/refused connections"),
    "backoff": (float, 0.5, "seconds >= 0 before the first retry (doubling)"),
    "concurrency": (int, 4, "an integer >= 1: requests in flight at once"),
    "prompt": (str, "auto", "auto, text or ids: how prompts are sent (auto: ids, text if refused)"),
}
# Sent with every request: llama.cpp's samplers default to top_k=40, min_p=0.05, repeat_penalty=1.1,
# which would make its "greedy" and its samples differ from plain argmax / temperature + top_p.
NEUTRAL_SAMPLERS = {"top_k": 0, "min_p": 0.0, "repeat_penalty": 1.0}


@dataclass(frozen=True)
class Position:
    """The server's top-K log-probs at one position, and the token it emitted there (None: unknown)."""

    top: dict
    token: int | None


class EndpointModel:
    """A served model: the client, the settings, the tokenizer's token texts; no weights here."""

    egcfg_backend = "endpoint"

    def __init__(self, settings: dict, tokenizer):
        self.settings = settings
        key = None
        for name in ([settings["api_key_env"]] if settings["api_key_env"] else ["EGCFG_API_KEY", "OPENAI_API_KEY"]):
            key = key or os.environ.get(name)
        self.client = CompletionsClient(settings["base_url"], settings["model_name"], api_key=key,
                                        timeout=settings["timeout"], retries=settings["retries"],
                                        backoff=settings["backoff"])
        self.pool = ThreadPoolExecutor(max_workers=settings["concurrency"], thread_name_prefix="egcfg-endpoint")
        self.prompt_as = None if settings["prompt"] == "auto" else settings["prompt"]
        self.honors_n: bool | None = None     # does the server return n choices for n > 1?
        self.token_ids = token_text_table(tokenizer)
        self.vocab = len(tokenizer)
        self.eos = _eos_id(tokenizer)

    def info(self) -> dict:
        s = self.settings
        return {"backend": "endpoint", "version": "openai-completions", "base_url": self.client.base_url,
                "model_name": s["model_name"], "tokenizer": s["tokenizer"], "logprobs": s["logprobs"],
                "margin": s["margin"], "mode": s["mode"]}

    def egcfg_identity(self) -> str:
        s = self.settings
        return (f"endpoint:{s['model_name']}@{self.client.base_url}:tokenizer={s['tokenizer']}:"
                f"K{s['logprobs']}:margin{s['margin']:g}")


def parse_settings(spec: ModelSpec) -> dict:
    """The endpoint settings of a model argument, typed and checked (errors name value and fix)."""
    out = {}
    options = dict(spec.options)
    for key in ("device", "dtype"):   # the server's business; load_model passes them to every backend
        options.pop(key, None)
    for key, (kind, default, what) in SETTINGS.items():
        raw = options.pop(key, None)
        if raw is None or raw == "":
            out[key] = default
            continue
        try:
            out[key] = kind(raw)
        except ValueError:
            raise BackendError(f"{key}={raw!r}: need {what}") from None
    checks = {"logprobs": 1 <= out["logprobs"] <= 100, "margin": out["margin"] >= 0,
              "mode": out["mode"] in ("lines", "tokens"), "lookahead": 1 <= out["lookahead"] <= 512,
              "timeout": out["timeout"] > 0, "retries": out["retries"] >= 0, "backoff": out["backoff"] >= 0,
              "concurrency": out["concurrency"] >= 1, "prompt": out["prompt"] in ("auto", "text", "ids")}
    for key, ok in checks.items():
        if not ok:
            raise BackendError(f"{key}={out[key]!r}: need {SETTINGS[key][2]}")
    if not out["base_url"]:
        raise BackendError("backend=endpoint needs base_url=..., e.g. base_url=http://127.0.0.1:8080/v1")
    if spec.threads is not None or spec.n_ctx is not None or options:
        extra = [k for k in ("threads", "n_ctx") if getattr(spec, k) is not None] + sorted(options)
        raise BackendError(f"backend=endpoint does not take {', '.join(extra)}; its keys are "
                           f"{', '.join(SETTINGS)}")
    return out


def load_endpoint(spec: ModelSpec) -> tuple[EndpointModel, object]:
    """(model, tokenizer) for backend=endpoint. The tokenizer (`tokenizer=`, a local folder or hub
    name; `default` is the default model's converted folder) must be the served model's."""
    from transformers import AutoTokenizer

    from egcfg_plugin.core.models import resolve_model_path

    settings = parse_settings(spec)
    path = resolve_model_path(settings["tokenizer"])
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as e:
        raise BackendError(f"tokenizer={settings['tokenizer']!r}: could not load it ({e}); pass the served "
                           f"model's tokenizer as a local folder or hub name") from None
    return EndpointModel(settings, tokenizer), tokenizer


_TEXT_TABLES: dict = {}


def token_text_table(tokenizer) -> dict[str, int | None]:
    """Token text -> id, for servers that key log-probs by text. A text several ids share (byte
    fragments) maps to None: such entries are dropped. Built once per tokenizer."""
    key = (getattr(tokenizer, "name_or_path", ""), len(tokenizer), type(tokenizer).__name__)
    if key not in _TEXT_TABLES:
        texts = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
        table: dict[str, int | None] = {}
        for i, text in enumerate(texts):
            table[text] = None if text in table or "\ufffd" in text else i
        _TEXT_TABLES[key] = table
    return _TEXT_TABLES[key]


def _eos_id(tokenizer) -> int:
    eos = tokenizer.eos_token_id
    return eos[0] if isinstance(eos, list) else eos


class EndpointBackend:
    """The `Backend` contract over HTTP (see the module docstring)."""

    name = "endpoint"
    device = "cpu"

    def __init__(self, model: EndpointModel, tokenizer):
        self.model = model
        self.tokenizer = tokenizer
        self.settings = model.settings
        self.counters: dict[str, float] = {"forward_calls": 0, "model_s": 0.0, "round_trips": 0, "requests": 0,
                                           "sample_round_trips": 0, "lines": 0, "eos_positions": 0}
        self._newlines = None

    def info(self) -> dict:
        return self.model.info()

    def count(self, key: str, n: float) -> None:
        self.counters[key] = self.counters.get(key, 0) + n

    # -- requests ------------------------------------------------------------------------------------
    def forward(self, payloads: list[dict], kind: str = "round_trips") -> list[dict]:
        """Send the requests concurrently (bounded by `concurrency`); their bodies, in order. One call
        is one round trip."""
        t0 = time.perf_counter()
        bodies = list(self.model.pool.map(self._complete, payloads))
        self.counters["forward_calls"] += 1
        self.counters["model_s"] += time.perf_counter() - t0
        self.count(kind, 1)
        self.count("requests", len(payloads))
        return bodies

    def _complete(self, payload: dict) -> dict:
        m = self.model
        ids = payload.pop("ids")
        as_ids = m.prompt_as in (None, "ids")
        try:
            body = m.client.complete({**payload, "prompt": ids if as_ids else self._text(ids)})
        except EndpointError as e:
            if m.prompt_as is None and e.kind == "bad_request" and "prompt" in str(e):
                log.info("%s takes no token-id prompts; sending text prompts", m.client.url)
                m.prompt_as = "text"
                return m.client.complete({**payload, "prompt": self._text(ids)})
            raise
        if m.prompt_as is None:
            m.prompt_as = "ids"
        return body

    def _text(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=False)

    def _fetch(self, streams: list["Stream"]) -> None:
        """One round trip: the next positions of every stream that has none left."""
        s = self.settings
        n = s["lookahead"] if s["mode"] == "lines" else 1
        payloads = [{"ids": list(st.ids), "max_tokens": n, "temperature": 0.0, "logprobs": s["logprobs"],
                     "echo": False, "seed": 0, "cache_prompt": True, "return_tokens_as_token_ids": True,
                     **NEUTRAL_SAMPLERS} for st in streams]
        for st, body in zip(streams, self.forward(payloads)):
            st.ahead = self._positions(body, n)

    def _positions(self, body: dict, asked: int) -> list[Position]:
        choice = body["choices"][0]
        lp = choice.get("logprobs") if isinstance(choice, dict) else None
        url = self.model.client.url
        if not isinstance(lp, dict) or not isinstance(lp.get("top_logprobs"), list):
            raise EndpointError("no_logprobs", f"{url}: a response without top-K log-probs ({str(choice)[:120]}); "
                                               f"the server must support logprobs=K on /v1/completions "
                                               f"(llama-cpp-python: logits_all, its default)")
        tokens, tops = lp.get("tokens") or [], lp["top_logprobs"]
        out = []
        for j, top in enumerate(tops):
            if not isinstance(top, dict) or not top:
                raise EndpointError("no_logprobs", f"{url}: position {j} has no top-K log-probs ({str(top)[:80]})")
            mapped = {}
            for text, value in top.items():
                tid = self._id(text)
                if tid is not None and tid < self.model.vocab:   # ids past the tokenizer: padding rows
                    mapped[tid] = max(float(value), mapped.get(tid, float("-inf")))
            if not mapped:
                raise EndpointError("no_logprobs", f"{url}: position {j}: no listed token is known to "
                                                   f"tokenizer={self.settings['tokenizer']!r}; is it the served model's?")
            token = self._id(tokens[j]) if j < len(tokens) else None
            out.append(Position(mapped, token))
            if token is None:
                break
        complete = len(out) == len(tops) == len(tokens)
        if len(out) < asked and complete and choice.get("finish_reason") == "stop":
            # The server chose the end token here; llama-cpp-python returns no log-probs for it.
            out.append(Position({self.model.eos: 0.0}, self.model.eos))
            self.count("eos_positions", 1)
        if not out:
            raise EndpointError("no_logprobs", f"{url}: the response has no log-probs for any position")
        return out

    def _id(self, text: str) -> int | None:
        if text.startswith("token_id:"):
            try:
                return int(text[len("token_id:"):])
            except ValueError:
                return None
        if text == "":         # llama-cpp-python writes control tokens (the end token) as ""
            return self.model.eos
        return self.model.token_ids.get(text)

    # -- the contract ----------------------------------------------------------------------------------
    def stream(self, ids: list[int], role: str = "uncond") -> "Stream":
        s = Stream(self, [], [], role)
        s.extend(ids)
        return s

    def push_all(self, streams: list["Stream"], token: int) -> None:
        """Advance every stream by `token`; the streams whose known positions ran out (or whose next
        token differed) are asked for more in one round trip."""
        for s in streams:
            s._advance([token])
            self.count(f"{s.role}_decode_tokens", 1)
        if self._newlines is None:
            from egcfg_plugin.core.lines import TokenTable

            self._newlines = TokenTable.for_tokenizer(self.tokenizer)
        self.count("lines", self._newlines.count_newlines(token))
        need = [s for s in streams if not s.ahead]
        if need:
            self._fetch(need)

    def guided_token(self, uncond: "Stream", cond: "Stream", gamma: float, plausibility: float = 0.0) -> int:
        """The guided argmax on the union of the two streams' top-K lists."""
        return topk_guided_argmax(uncond.ahead[0].top, cond.ahead[0].top, gamma, plausibility,
                                  self.settings["margin"])

    def sample(self, stream: "Stream", n: int, *, temperature: float, top_p: float, max_tokens: int,
               done, generator) -> list[list[int]]:
        """`n` continuations: one request with n=n (or n requests when the server ignores n), cut on
        the client where `done` says a row has ended. The stream is unchanged."""
        import torch

        seed = int(torch.randint(0, 2 ** 31 - 1, (1,), generator=generator))
        base = {"ids": list(stream.ids), "max_tokens": max_tokens, "temperature": temperature, "top_p": top_p,
                "echo": False, "cache_prompt": True, **NEUTRAL_SAMPLERS}
        m = self.model
        if m.honors_n is False:
            bodies = self.forward([{**base, "n": 1, "seed": seed + i} for i in range(n)], "sample_round_trips")
        else:
            bodies = self.forward([{**base, "n": n, "seed": seed}], "sample_round_trips")
            got = len(bodies[0]["choices"])
            m.honors_n = got >= n
            if got < n:
                bodies += self.forward([{**base, "n": 1, "seed": seed + i} for i in range(got, n)],
                                       "sample_round_trips")
        choices = [c for body in bodies for c in body["choices"]][:n]
        rows = [self._row(c, done) for c in choices]
        self.count("candidate_tokens", sum(len(r) for r in rows))
        return rows

    def _row(self, choice: dict, done) -> list[int]:
        text = choice.get("text")
        if not isinstance(text, str):
            raise EndpointError("malformed", f"{self.model.client.url}: a choice without text ({str(choice)[:120]})")
        row = self.tokenizer(text, add_special_tokens=False).input_ids
        if choice.get("finish_reason") == "stop":
            row.append(self.model.eos)
        for j in range(1, len(row) + 1):
            if done(row[:j]):
                return row[:j]
        return row


class Stream:
    """A token sequence and the positions the server has told us about beyond it (`ahead[0]` is
    the next token's); `logits` is None when none is known (right after fork(keep=...))."""

    def __init__(self, backend: EndpointBackend, ids: list[int], ahead: list[Position], role: str):
        self.backend, self.ids, self.ahead, self.role = backend, ids, ahead, role
        self._logits = None

    @property
    def logits(self):
        """Full-vocabulary tensor: the top-K log-probs, the list's floor elsewhere."""
        import torch

        if not self.ahead:
            return None
        if self._logits is None or self._logits[0] is not self.ahead[0]:
            pos = self.ahead[0]
            t = torch.full((self.backend.model.vocab,), floor_of(pos.top, self.backend.settings["margin"]))
            t[list(pos.top)] = torch.tensor(list(pos.top.values()), dtype=torch.float32)
            self._logits = (pos, t)
        return self._logits[1]

    def logprobs(self):
        return self.logits

    def _advance(self, new_ids: list[int]) -> None:
        for t in new_ids:
            if self.ahead and self.ahead[0].token == t:
                self.ahead = self.ahead[1:]
            else:
                self.ahead = []
        self.ids = self.ids + list(new_ids)

    def extend(self, new_ids: list[int], kind: str = "prefill") -> None:
        if not new_ids:
            return
        self._advance(new_ids)
        self.backend.count(f"{self.role}_{kind}_tokens", len(new_ids))
        if not self.ahead:
            self.backend._fetch([self])

    def push(self, token: int) -> None:
        self.backend.push_all([self], token)

    def fork(self, keep: int | None = None, role: str | None = None) -> "Stream":
        if keep is None or keep >= len(self.ids):
            return Stream(self.backend, list(self.ids), list(self.ahead), role or self.role)
        return Stream(self.backend, self.ids[:keep], [], role or self.role)
