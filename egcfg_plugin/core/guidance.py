"""The guidance formula, on log-probabilities.

    log p_guided = log p(x | prompt, code) + gamma * (log p(x | c, code) - log p(x | prompt, code))

then renormalized. For gamma > 1 (extrapolation) an optional plausibility floor applies first: a
token that *both* streams give less than `plausibility` times their top token's probability is
ruled out. Without it, gamma=3 picks tokens neither stream wants (measured on the default model:
a closing fence, log-probs -11.6 and -6.9, beat the indentation both streams give ~0.0, so the
function body came out empty). gamma <= 1 is the paper's formula exactly.

gamma=0 returns the unconditional stream, gamma=1 the conditional one. A token
that either stream rules out (-inf, e.g. after top-k masking) stays ruled out for 0 < gamma,
gamma != 1: without that rule, (1 - gamma) * -inf would become +inf for gamma > 1.

    >>> import torch
    >>> u = torch.log_softmax(torch.tensor([2.0, 1.0, 0.0]), -1)
    >>> c = torch.log_softmax(torch.tensor([0.0, 1.0, 2.0]), -1)
    >>> guided_logprobs(u, c, 1.0).argmax().item()
    2
"""
from __future__ import annotations

import math

import torch


def guided_logprobs(uncond: torch.Tensor, cond: torch.Tensor, gamma: float,
                    plausibility: float = 0.0) -> torch.Tensor:
    """Mix two log-probability tensors of the same shape (..., vocab); returns normalized log-probs."""
    if uncond.shape != cond.shape:
        raise ValueError(f"stream shapes differ: unconditional {tuple(uncond.shape)} vs conditional {tuple(cond.shape)}")
    if gamma < 0:
        raise ValueError(f"gamma={gamma} must be >= 0")
    if gamma == 0:
        return torch.log_softmax(uncond, dim=-1)
    if gamma == 1:
        return torch.log_softmax(cond, dim=-1)
    masked = torch.isneginf(uncond) | torch.isneginf(cond)
    if gamma > 1 and plausibility > 0:
        masked = masked | (_implausible(uncond, plausibility) & _implausible(cond, plausibility))
    mixed = uncond + gamma * (cond - uncond)
    mixed = mixed.masked_fill(masked, float("-inf"))
    return torch.log_softmax(mixed, dim=-1)


def _implausible(scores: torch.Tensor, floor: float) -> torch.Tensor:
    # p / p_max < floor; a ratio of probabilities needs no normalizing (logits or log-probs alike)
    return scores < scores.max(dim=-1, keepdim=True).values + math.log(floor)


def guided_argmax(uncond: torch.Tensor, cond: torch.Tensor, gamma: float, plausibility: float = 0.0) -> int:
    """The greedy token under guidance (renormalizing does not change the argmax, but stays for clarity)."""
    return int(guided_logprobs(uncond, cond, gamma, plausibility).argmax(dim=-1))
