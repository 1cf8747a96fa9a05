"""What the decoding loop needs from a model, and the one place that picks a backend.

    spec = ModelSpec.parse("default,backend=llamacpp,threads=2")
    model, tokenizer = load(spec)                 # egcfg_plugin.core.models.load_model does this
    backend = make_backend(model, tokenizer)      # the class named by the model's `egcfg_backend`
    s = backend.stream(prompt_ids)                # prefilled; s.logits: next-token logits (vocab,)
    backend.push_all([s], token)                  # advance streams by one token (one batch if it can)
    rows = backend.sample(s, 3, temperature=0.7, top_p=0.95, max_tokens=64, done=..., generator=g)

A stream holds a token sequence with its cache: `extend(ids)`, `push(token)`, `logprobs()`,
`fork(keep=n)` (an independent copy cut back to the first n tokens). Logits are 1-D float32
torch tensors over the full vocabulary, so guidance is exact. Counters: `forward_calls`,
`model_s`, `{role}_{prefill|decode}_tokens`, `candidate_tokens`. A backend that sees only top-K
lists (endpoint) also offers `guided_token(uncond, cond, gamma, plausibility)`, which the loop asks
instead of mixing full-vocabulary logits.

Backends are lazy "module:Class" targets: importing this module imports neither torch nor
llama_cpp.
"""
from __future__ import annotations

import difflib
import importlib
import os
from dataclasses import dataclass, field
from typing import Callable, Protocol

BACKENDS = {
    "hf": "egcfg_plugin.core.backend_hf:HFBackend",
    "llamacpp": "egcfg_plugin.core.backend_llamacpp:LlamaCppBackend",
    "endpoint": "egcfg_plugin.core.backend_endpoint:EndpointBackend",
}
LOADERS = {
    "hf": "egcfg_plugin.core.models:load_hf",
    "llamacpp": "egcfg_plugin.core.backend_llamacpp:load_llamacpp",
    "endpoint": "egcfg_plugin.core.backend_endpoint:load_endpoint",
}
# backend=endpoint's keys (egcfg_plugin.core.backend_endpoint.SETTINGS checks their values)
ENDPOINT_KEYS = ("base_url", "model_name", "tokenizer", "api_key_env", "logprobs", "margin", "mode",
                 "lookahead", "timeout", "retries", "backoff", "concurrency", "prompt")
# model-args keys that belong to the backend, not to the model name
SPEC_KEYS = ("backend", "threads", "n_ctx", "dtype", "device") + ENDPOINT_KEYS


class BackendError(ValueError):
    """Bad backend input (unknown name, bad weights, bad setting): the message names the value and the fix."""


class Stream(Protocol):
    ids: list[int]
    logits: object          # torch.Tensor (vocab,), float32; None right after fork(keep=...) cut it back
    role: str

    def extend(self, new_ids: list[int], kind: str = "prefill") -> None: ...
    def push(self, token: int) -> None: ...
    def logprobs(self): ...
    def fork(self, keep: int | None = None, role: str | None = None) -> "Stream": ...


class Backend(Protocol):
    name: str               # "hf", "llamacpp"
    tokenizer: object       # transformers-style: __call__(text).input_ids, decode, apply_chat_template
    device: object          # where torch.Generator for sampling lives ("cpu" for llama.cpp)
    counters: dict

    def stream(self, ids: list[int], role: str = "uncond") -> Stream: ...
    def push_all(self, streams: list[Stream], token: int) -> None: ...
    def sample(self, stream: Stream, n: int, *, temperature: float, top_p: float, max_tokens: int,
               done: Callable[[list[int]], bool], generator) -> list[list[int]]: ...
    def info(self) -> dict: ...


@dataclass(frozen=True)
class ModelSpec:
    """A model argument: a name or path plus backend settings.

    "default", "default,backend=llamacpp,threads=2", "/path/model.gguf" (backend llamacpp implied),
    "Qwen/Qwen2.5-Coder-7B-Instruct,backend=hf". `backend=None` means the default for the model.
    """

    name: str = "default"
    backend: str | None = None
    threads: int | None = None
    n_ctx: int | None = None
    options: dict = field(default_factory=dict)    # dtype, device

    @classmethod
    def parse(cls, text: "str | ModelSpec | None") -> "ModelSpec":
        if isinstance(text, ModelSpec):
            return text
        name, values = "default", {}
        for part in [p.strip() for p in str(text or "default").split(",") if p.strip()]:
            key, eq, value = part.partition("=")
            if not eq:
                name = part
            elif key in ("model", "pretrained", "name"):
                name = value
            elif key in SPEC_KEYS:
                values[key] = value
            else:
                raise BackendError(f"model argument {part!r}: unknown key {key!r}; use a model name or "
                                   f"{', '.join(k + '=' for k in SPEC_KEYS)}")
        return cls.make(name, **values)

    @classmethod
    def make(cls, name: str = "default", backend: str | None = None, threads=None, n_ctx=None,
             **options) -> "ModelSpec":
        if backend is not None:
            backend = check_backend(backend)
        return cls(name or "default", backend, _positive("threads", threads, f"the {available_cores()} cores available"),
                   _positive("n_ctx", n_ctx, "8192"), {k: v for k, v in options.items() if v is not None})

    def resolved_backend(self) -> str:
        """The backend this spec runs on: the named one; endpoint for the name "endpoint" or a
        base_url; llamacpp for a .gguf file; hf otherwise."""
        if self.backend:
            return self.backend
        if self.name == "endpoint" or "base_url" in self.options:
            return "endpoint"
        return "llamacpp" if str(self.name).endswith(".gguf") else "hf"

    def __str__(self) -> str:
        parts = [self.name] + [f"{k}={v}" for k, v in (("backend", self.backend), ("threads", self.threads),
                                                         ("n_ctx", self.n_ctx), *sorted(self.options.items()))]
        return ",".join(p for p in parts if not p.endswith("=None"))


def check_backend(name: str) -> str:
    if name in BACKENDS:
        return name
    close = difflib.get_close_matches(str(name), list(BACKENDS), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise BackendError(f"backend={name!r} is unknown{hint}; use one of: {', '.join(BACKENDS)}")


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), not the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:   # not Linux
        return max(1, os.cpu_count() or 1)


def _positive(key: str, value, default_text: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = None
    if n is None or n < 1 or str(n) != str(value).strip():
        raise BackendError(f"{key}={value!r}: need a positive integer (leave it out for the default, {default_text})")
    return n


def target(spec: str):
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def load(spec: "str | ModelSpec") -> tuple:
    """(model, tokenizer) for a model argument, through the backend's loader."""
    spec = ModelSpec.parse(spec)
    return target(LOADERS[spec.resolved_backend()])(spec)


def make_backend(model, tokenizer) -> Backend:
    """The backend for a loaded model: the one its loader named (`model.egcfg_backend`), else hf."""
    name = check_backend(getattr(model, "egcfg_backend", "hf"))
    return target(BACKENDS[name])(model, tokenizer)


NUCLEUS_K = 256   # the nucleus is looked for among the top NUCLEUS_K tokens first (exact when it fits)


def sample_tokens(logits, temperature: float, top_p: float, generator):
    """One token per row of `logits` (n, vocab): temperature, then nucleus (top_p) sampling: the
    smallest set of most probable tokens whose mass reaches top_p.

    Sorting and sampling over the full vocabulary (151,936 tokens) took ~0.1 s per step on this CPU,
    more than a decode step; the nucleus almost always lies in the top few hundred tokens, so it is
    taken from `topk` when the top NUCLEUS_K tokens' mass exceeds top_p in every row (the same set,
    exactly), and from a full sort otherwise."""
    import torch

    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        k = min(NUCLEUS_K, probs.shape[-1])
        top, order = torch.topk(probs, k, dim=-1)          # sorted, descending
        cum = torch.cumsum(top, dim=-1)
        if k == probs.shape[-1] or not bool((cum[:, -1] > top_p).all()):
            top, order = torch.sort(probs, dim=-1, descending=True)
            cum = torch.cumsum(top, dim=-1)
        kept = top.masked_fill(cum - top > top_p, 0.0)   # keep the smallest prefix whose mass reaches top_p
        return order.gather(-1, torch.multinomial(kept, 1, generator=generator)).squeeze(1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)
