"""A scripted stand-in for a causal LM, for exact tests of the decoding loop.

It keeps each sequence's token ids *in its KV cache* (as the "keys"), so forks, crops and batch
repeats of the cache are exercised for real, and a test can read back exactly which tokens each
stream held. Its next-token logits come from `policy(seq) -> {token: logit}` (others get 0).
"""
from __future__ import annotations

from types import SimpleNamespace

import torch


class StubLM(torch.nn.Module):
    def __init__(self, vocab_size: int, policy):
        super().__init__()
        self.vocab_size = vocab_size
        self.policy = policy
        self.anchor = torch.nn.Parameter(torch.zeros(1))   # gives the backend a device
        self.config = SimpleNamespace(num_hidden_layers=1)
        self.calls: list[tuple[int, int]] = []               # (batch, new tokens) per forward

    def forward(self, input_ids, cache=None, use_cache=True, attention_mask=None, position_ids=None,
                logits_to_keep=0, **kw):
        b, n = input_ids.shape
        self.calls.append((b, n))
        keys = input_ids.to(torch.float32).view(b, 1, n, 1)
        full, _ = cache.update(keys, keys.clone(), 0)
        seqs = full.view(b, -1).long().tolist()
        logits = torch.zeros(b, 1, self.vocab_size)
        for i, seq in enumerate(seqs):
            for tok, value in self.policy(seq).items():
                logits[i, 0, tok] = value
        return SimpleNamespace(logits=logits)


def script_policy(tokenizer, script: str, marker: str = "<|im_start|>assistant\n```python\n", confident: float = 40.0):
    """Write `script` token by token after the last `marker` (the start of the answer), then end with EOS."""
    target = tokenizer(script, add_special_tokens=False).input_ids + [tokenizer.eos_token_id]
    mark = tokenizer(marker, add_special_tokens=False).input_ids

    def policy(seq):
        start = _find_last(seq, mark)
        done = seq[start + len(mark):] if start >= 0 else []
        k = len(done)
        if done == target[:k] and k < len(target):
            return {target[k]: confident}
        return {tokenizer.eos_token_id: confident}

    return policy


def _find_last(seq, sub):
    for i in range(len(seq) - len(sub), -1, -1):
        if seq[i:i + len(sub)] == sub:
            return i
    return -1
