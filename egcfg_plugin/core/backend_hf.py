"""KV-cached token streams on a local transformers causal LM.

A `Stream` is one sequence with its own cache and the log-probabilities of its next token.
The decoding loop owns its streams explicitly: it forks them for candidates, rebuilds the
conditional one when the signal changes, and never re-reads a prompt it has cached.
"""
from __future__ import annotations

import copy
import inspect
import logging
import time

import torch

from egcfg_plugin.core.backend import sample_tokens

log = logging.getLogger(__name__)


class HFBackend:
    """Wraps a transformers causal LM and counts what it computes (the `Backend` contract of
    egcfg_plugin.core.backend)."""

    name = "hf"

    def __init__(self, model, tokenizer):
        self.model = model
        self.tokenizer = tokenizer
        self.device = next(model.parameters()).device
        params = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._has_logits_to_keep = "logits_to_keep" in params
        self.counters: dict[str, float] = {"forward_calls": 0, "model_s": 0.0}

    def new_cache(self):
        from transformers import DynamicCache

        try:
            return DynamicCache(config=self.model.config)
        except (TypeError, AttributeError):  # transformers 4.x, or a model without a real config
            return DynamicCache()

    @torch.inference_mode()
    def forward(self, ids: torch.Tensor, cache, past_len: int) -> torch.Tensor:
        """Run `ids` (batch, n) after `past_len` cached tokens; return last-position logits (batch, vocab) in fp32."""
        t0 = time.perf_counter()
        n = ids.shape[1]
        kwargs = {self._cache_kw: cache, "use_cache": True,
                  "attention_mask": torch.ones(ids.shape[0], past_len + n, dtype=torch.long, device=self.device),
                  "position_ids": torch.arange(past_len, past_len + n, device=self.device).unsqueeze(0).expand(ids.shape[0], -1)}
        if self._has_logits_to_keep:
            kwargs["logits_to_keep"] = 1
        out = self.model(input_ids=ids.to(self.device), **kwargs)
        self.counters["forward_calls"] += 1
        self.counters["model_s"] += time.perf_counter() - t0
        return out.logits[:, -1, :].float()

    def count(self, key: str, n: float) -> None:
        self.counters[key] = self.counters.get(key, 0) + n

    def stream(self, ids: list[int], role: str = "uncond") -> "Stream":
        """A new stream holding `ids`, prefilled. `role` names it in the counters."""
        s = Stream(self, self.new_cache(), [], None, role)
        s.extend(ids)
        return s

    def push_all(self, streams: list["Stream"], token: int) -> None:
        """Advance each stream by `token` (one forward pass each: their caches differ in length)."""
        for s in streams:
            s.push(token)

    def sample(self, stream: "Stream", n: int, **kwargs) -> list[list[int]]:
        return sample_continuations(stream, n, **kwargs)

    def info(self) -> dict:
        """What the run records about this backend (see egcfg_plugin.core.models.backend_info)."""
        import transformers

        return {"backend": self.name, "version": f"transformers-{transformers.__version__}",
                "threads": torch.get_num_threads(), "device": str(self.device),
                "weights_sha256": getattr(self.model, "egcfg_weights_sha256", None)}


class Stream:
    """One KV-cached sequence: `ids`, its cache, and the logits of the next token."""

    def __init__(self, backend: HFBackend, cache, ids: list[int], logits, role: str):
        self.backend = backend
        self.cache = cache
        self.ids = ids
        self.logits = logits
        self.role = role

    def extend(self, new_ids: list[int], kind: str = "prefill") -> None:
        """Append tokens and compute the next-token logits (counted as `{role}_{kind}_tokens`)."""
        if not new_ids:
            return
        t = torch.tensor([new_ids], dtype=torch.long)
        self.logits = self.backend.forward(t, self.cache, len(self.ids))[0]
        self.ids = self.ids + list(new_ids)
        self.backend.count(f"{self.role}_{kind}_tokens", len(new_ids))

    def push(self, token: int) -> None:
        self.extend([token], kind="decode")

    def logprobs(self) -> torch.Tensor:
        return torch.log_softmax(self.logits, dim=-1)

    def fork(self, keep: int | None = None, role: str | None = None) -> "Stream":
        """An independent copy, optionally cut back to the first `keep` tokens (then `logits` is
        None until the next extend)."""
        cache = copy.deepcopy(self.cache)
        ids = list(self.ids)
        logits = self.logits
        if keep is not None and keep < len(ids):
            _crop(cache, len(ids) - keep)
            ids = ids[:keep]
            logits = None
        return Stream(self.backend, cache, ids, logits, role or self.role)


def _crop(cache, tokens_to_remove: int) -> None:
    """Drop the last `tokens_to_remove` positions (transformers 5.x takes a negative count,
    4.x the new absolute length)."""
    if tokens_to_remove <= 0:
        return
    length = cache.get_seq_length()
    try:
        cache.crop(-tokens_to_remove)
    except ValueError:
        cache.crop(length - tokens_to_remove)
    if cache.get_seq_length() != length - tokens_to_remove:  # 4.x read a negative count as "remove"
        raise RuntimeError("cache crop gave an unexpected length; unsupported transformers version")


@torch.inference_mode()
def sample_continuations(stream: Stream, n: int, *, temperature: float, top_p: float,
                         max_tokens: int, done, generator: torch.Generator) -> list[list[int]]:
    """Sample `n` continuations of `stream` in one batch. `done(row_tokens) -> bool` says when a row
    has ended (horizon reached, end of code); finished rows stop growing. The stream is unchanged."""
    backend = stream.backend
    fork = stream.fork()
    fork.cache.batch_repeat_interleave(n)
    logits = stream.logits.unsqueeze(0).expand(n, -1)
    rows: list[list[int]] = [[] for _ in range(n)]
    finished = [False] * n
    past = len(stream.ids)
    for _ in range(max_tokens):
        tokens = _sample(logits, temperature, top_p, generator)
        for i, tok in enumerate(tokens.tolist()):
            if not finished[i]:
                rows[i].append(tok)
                finished[i] = done(rows[i])
        if all(finished):
            break
        logits = backend.forward(tokens.unsqueeze(1), fork.cache, past)
        past += 1
    backend.count("candidate_tokens", sum(len(r) for r in rows))
    return rows


_sample = sample_tokens
