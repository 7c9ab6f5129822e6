"""token_entropy, mean_entropy, entropy_filter: hand-computed values, chunking, the spec's delta table."""

import math

import pytest
import torch

from gtpo.core import entropy_filter, mean_entropy, token_entropy

LN2 = math.log(2)


def test_token_entropy_hand_computed():
    # uniform over 4 tokens: H = ln 4 = 1.386294
    # logits [0, ln 3, -inf, -inf]: p = [1/4, 3/4, 0, 0]
    #   H = -(0.25 ln 0.25 + 0.75 ln 0.75) = 0.346574 + 0.215762 = 0.562335
    # one-hot (one finite logit, the rest -inf): H = 0 (0 * log 0 counts as 0, no NaN)
    inf = float("inf")
    logits = torch.tensor(
        [[[0.0, 0.0, 0.0, 0.0], [0.0, math.log(3), -inf, -inf], [5.0, -inf, -inf, -inf]]]
    )  # (1, 3, 4)
    h = token_entropy(logits)
    assert h.shape == (1, 3) and h.dtype == torch.float32
    torch.testing.assert_close(h, torch.tensor([[math.log(4), 0.562335, 0.0]]), atol=1e-6, rtol=0)


@pytest.mark.parametrize("chunk_size", [None, 1, 3, 1000])
def test_chunking_matches_direct_formula(chunk_size):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 7, 11, generator=gen, dtype=torch.float64) * 3
    logp = torch.log_softmax(logits, dim=-1)
    direct = -(logp.exp() * logp).sum(-1)  # (5, 7)
    got = token_entropy(logits, chunk_size=chunk_size)
    torch.testing.assert_close(got, direct.float(), atol=1e-5, rtol=1e-5)


def test_bfloat16_input_and_no_grad():
    logits = torch.randn(4, 6, 9).to(torch.bfloat16).requires_grad_(True)
    h = token_entropy(logits)
    assert h.dtype == torch.float32 and not h.requires_grad
    logp = torch.log_softmax(logits.detach().float(), dim=-1)
    torch.testing.assert_close(h, -(logp.exp() * logp).sum(-1), atol=1e-5, rtol=1e-5)


def test_default_chunk_is_a_small_fraction(monkeypatch):
    # 64 rows of V=50: the default chunk holds ceil(64/16) = 4 rows, 1/16 of the logits
    seen = []
    real_log_softmax = torch.log_softmax

    def spy(x, *args, **kwargs):
        seen.append(x.numel())
        return real_log_softmax(x, *args, **kwargs)

    monkeypatch.setattr(torch, "log_softmax", spy)
    logits = torch.randn(8, 8, 50)
    token_entropy(logits)
    assert max(seen) == 4 * 50 and len(seen) == 16
    # a large vocabulary caps the chunk at 2**20 elements: 128 rows of V = 2**18 -> 4 rows per chunk
    # (not ceil(128/16) = 8); an expanded view keeps the test's own memory small
    seen.clear()
    h = token_entropy(torch.zeros(1, 2**18).expand(128, 2**18))
    assert max(seen) == 4 * 2**18 and len(seen) == 32
    torch.testing.assert_close(h, torch.full((128,), 18 * LN2))  # uniform over 2**18: ln 2**18


def test_token_entropy_bad_input():
    with pytest.raises(ValueError, match="floating"):
        token_entropy(torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="chunk_size"):
        token_entropy(torch.ones(2, 3), chunk_size=0)
    with pytest.raises(ValueError, match="empty vocabulary"):
        token_entropy(torch.ones(2, 0))


def test_mean_entropy_hand_computed():
    # row 0: valid 0.2, 0.4 -> 0.3; row 1: valid 1.0 only, padding NaN ignored -> 1.0; row 2: none -> 0
    entropy = torch.tensor([[0.2, 0.4, 9.0], [1.0, float("nan"), float("nan")], [7.0, 7.0, 7.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0], [0, 0, 0]])
    torch.testing.assert_close(mean_entropy(entropy, mask), torch.tensor([0.3, 1.0, 0.0]))
    with pytest.raises(ValueError, match="completion_mask has shape"):
        mean_entropy(entropy, mask[:, :2])


# The spec's table, tau = ln 2:
#   <H>_ini > tau                  -> delta = 1 (no filtering)
#   <H>_ini <= tau, <H>_i > tau    -> delta = 0
#   <H>_ini <= tau, <H>_i <= tau   -> delta = 1
H = torch.tensor([0.1, LN2, 0.7, 2.0])  # <H>_i: below, equal (not above), above, above
ADV = torch.tensor([1.0, -1.0, -1.0, 1.0])


def test_delta_table_auto():
    assert torch.equal(entropy_filter(H, LN2, initial_entropy=1.5), torch.ones(4))
    assert torch.equal(entropy_filter(H, LN2, initial_entropy=0.5), torch.tensor([1.0, 1.0, 0.0, 0.0]))
    assert torch.equal(entropy_filter(H, LN2, initial_entropy=LN2), torch.tensor([1.0, 1.0, 0.0, 0.0]))
    assert torch.equal(entropy_filter(H, LN2, initial_entropy=torch.tensor(0.5)), torch.tensor([1.0, 1, 0, 0]))


def test_other_modes():
    # always (reference code): filter whenever <H>_i > tau, whatever <H>_ini
    assert torch.equal(entropy_filter(H, LN2, initial_entropy=1.5, mode="always"), torch.tensor([1.0, 1, 0, 0]))
    assert torch.equal(entropy_filter(H, LN2, mode="off"), torch.ones(4))
    # negative_only (OnlyNeg): rows 2 (H 0.7 > tau, A < 0) filtered; row 3 (A > 0) kept
    got = entropy_filter(H, LN2, mode="negative_only", advantages=ADV)
    assert torch.equal(got, torch.tensor([1.0, 1.0, 0.0, 1.0]))


def test_filter_errors():
    with pytest.raises(ValueError, match="needs initial_entropy"):
        entropy_filter(H, LN2)
    with pytest.raises(ValueError, match="needs advantages"):
        entropy_filter(H, LN2, mode="negative_only")
    with pytest.raises(ValueError, match="mode must be one of"):
        entropy_filter(H, LN2, mode="sometimes")
    with pytest.raises(ValueError, match="threshold must be a finite number"):
        entropy_filter(H, float("nan"), mode="off")
    with pytest.raises(ValueError, match="advantages has shape"):
        entropy_filter(H, LN2, mode="negative_only", advantages=ADV[:2])
