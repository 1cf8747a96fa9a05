import math

import pytest
import torch

from egcfg_plugin.core.guidance import guided_argmax, guided_logprobs


def _closed_form(u, c, gamma):
    """The paper's formula, written out element by element."""
    mixed = [uu + gamma * (cc - uu) for uu, cc in zip(u, c)]
    norm = math.log(sum(math.exp(m) for m in mixed))
    return [m - norm for m in mixed]


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 3.0, 7.5])
def test_matches_closed_form(gamma):
    g = torch.Generator().manual_seed(1)
    u = torch.log_softmax(torch.randn(50, generator=g, dtype=torch.float64), -1)
    c = torch.log_softmax(torch.randn(50, generator=g, dtype=torch.float64), -1)
    got = guided_logprobs(u, c, gamma)
    want = torch.tensor(_closed_form(u.tolist(), c.tolist(), gamma), dtype=torch.float64)
    assert torch.allclose(got, want, atol=1e-9)
    assert math.isclose(float(torch.logsumexp(got, -1)), 0.0, abs_tol=1e-9)


def test_gamma_zero_and_one_are_the_streams():
    u = torch.log_softmax(torch.tensor([3.0, 1.0, 0.0]), -1)
    c = torch.log_softmax(torch.tensor([0.0, 1.0, 4.0]), -1)
    assert torch.equal(guided_logprobs(u, c, 0.0), torch.log_softmax(u, -1))
    assert torch.equal(guided_logprobs(u, c, 1.0), torch.log_softmax(c, -1))
    assert guided_argmax(u, c, 0.0) == 0 and guided_argmax(u, c, 1.0) == 2


def test_gamma_above_one_extrapolates_away_from_unconditional():
    # uncond prefers 0 strongly, cond prefers 1 slightly: gamma=3 amplifies the difference.
    u = torch.log(torch.tensor([0.6, 0.3, 0.1]))
    c = torch.log(torch.tensor([0.45, 0.5, 0.05]))
    assert guided_argmax(u, c, 1.0) == 1
    assert guided_argmax(u, c, 0.5) == 0
    mixed = guided_logprobs(u, c, 3.0).exp()
    assert mixed[1] > 0.8


@pytest.mark.parametrize("gamma", [0.5, 3.0])
def test_masked_tokens_stay_masked(gamma):
    # top-k style masking in either stream: the token must not come back, even for gamma > 1
    u = torch.tensor([-1.0, float("-inf"), -2.0, -0.5])
    c = torch.tensor([-3.0, -0.1, float("-inf"), -2.0])
    out = guided_logprobs(u, c, gamma)
    assert torch.isneginf(out[1]) and torch.isneginf(out[2])
    assert not torch.isnan(out).any()
    assert math.isclose(float(torch.logsumexp(out, -1)), 0.0, abs_tol=1e-6)


def test_gamma_one_allows_tokens_masked_only_in_unconditional():
    u = torch.tensor([0.0, float("-inf")])
    c = torch.tensor([-5.0, 0.0])
    assert guided_argmax(u, c, 1.0) == 1


def test_batched_shapes_and_errors():
    u = torch.log_softmax(torch.randn(4, 10), -1)
    c = torch.log_softmax(torch.randn(4, 10), -1)
    assert guided_logprobs(u, c, 2.0).shape == (4, 10)
    with pytest.raises(ValueError, match="shapes differ"):
        guided_logprobs(u, c[:, :5], 1.0)
    with pytest.raises(ValueError, match="gamma"):
        guided_logprobs(u, c, -1.0)


def test_plausibility_floor_stops_extrapolation_picking_a_token_neither_stream_wants():
    # the measured case (default model, MBPP 11, gamma=3): a closing fence that both streams rate
    # far below their shared top token wins the plain extrapolation
    u = torch.tensor([0.0, -11.6, -4.3])
    c = torch.tensor([0.0, -6.9, -6.6])
    u, c = torch.log_softmax(u, -1), torch.log_softmax(c, -1)
    assert guided_argmax(u, c, 3.0) == 1
    assert guided_argmax(u, c, 3.0, plausibility=0.01) == 0
    # the floor keeps a token that one stream finds plausible, and never applies at gamma <= 1
    c2 = torch.log_softmax(torch.tensor([0.0, -1.0, -6.6]), -1)
    assert guided_argmax(u, c2, 3.0, plausibility=0.01) == 1
    for gamma in (0.0, 0.5, 1.0):
        assert torch.equal(guided_logprobs(u, c, gamma, 0.5), guided_logprobs(u, c, gamma))
