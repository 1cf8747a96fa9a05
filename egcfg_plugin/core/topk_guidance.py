"""Guidance when a server returns only each stream's top-K log-probabilities.

    top_u = {10: -0.1, 11: -2.5}          # token id -> log-prob, the unconditional stream's top-K
    top_c = {11: -0.3, 12: -1.6}          # the conditional stream's top-K
    topk_guided_argmax(top_u, top_c, gamma=1.0)       # -> 11

The guided mix needs both streams' log-probs on the same tokens. Over the union of the two top-K
lists, a token missing from one stream's list gets a floor: that stream's K-th (lowest returned)
log-prob minus `margin`. A missing token's true log-prob is at most the K-th one, so margin=0 is the
most favourable value it could have and a larger margin assumes it lies further below. The mix is
`egcfg_plugin.core.guidance.guided_logprobs` on the union (renormalized there), and the argmax is
taken over the union only: a token in neither list is never chosen. Ties go to the lower token
id, as an argmax over the full vocabulary would.

gamma=0 gives the unconditional top-1 and gamma=1 the conditional top-1 whatever the margin; for
0 < gamma < 1 the margin decides only between a token one stream ranks high and the other does not
list at all.
"""
from __future__ import annotations

DEFAULT_MARGIN = 1.0   # nats below the K-th log-prob; see docs/backends.md


def floor_of(top: dict[int, float], margin: float) -> float:
    """The log-prob a token missing from `top` is given: the lowest listed one minus `margin`."""
    if not top:
        raise ValueError("an empty top-K list has no floor: the server returned no log-probs")
    return min(top.values()) - margin


def topk_guided_logprobs(top_u: dict[int, float], top_c: dict[int, float], gamma: float,
                         plausibility: float = 0.0, margin: float = DEFAULT_MARGIN):
    """(union token ids ascending, guided log-probs over them as a 1-D tensor)."""
    import torch

    from egcfg_plugin.core.guidance import guided_logprobs

    if margin < 0:
        raise ValueError(f"margin={margin} must be >= 0 (nats below the K-th log-prob)")
    ids = sorted(set(top_u) | set(top_c))
    fu, fc = floor_of(top_u, margin), floor_of(top_c, margin)
    u = torch.tensor([top_u.get(i, fu) for i in ids], dtype=torch.float32)
    c = torch.tensor([top_c.get(i, fc) for i in ids], dtype=torch.float32)
    return ids, guided_logprobs(u, c, gamma, plausibility)


def topk_guided_argmax(top_u: dict[int, float], top_c: dict[int, float], gamma: float,
                       plausibility: float = 0.0, margin: float = DEFAULT_MARGIN) -> int:
    ids, mixed = topk_guided_logprobs(top_u, top_c, gamma, plausibility, margin)
    return ids[int(mixed.argmax())]
