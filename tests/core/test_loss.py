"""gtpo_loss / grpo_loss: the spec's formula on a hand-computed group, metrics, the gradient rule for
conflict tokens, the PPO clip, the KL term, empty completions and input errors."""

import math
import random

import pytest
import torch

from gtpo.core import conflict_mask, conflict_weights, grpo_loss, gtpo_loss

LN2 = math.log(2)
NAN = float("nan")

# One group, G = 4, T = 3 (padding entries hold NaN: they must never be read)
MASK = torch.tensor([[1, 1, 1], [1, 1, 0], [1, 0, 0], [1, 1, 1]])
ADV = torch.tensor([1.0, -1.0, 0.5, -0.5])
WEIGHTS = torch.tensor([[2.0, 1, 1], [0, 1, 0], [1, 0, 0], [0, 1, 1]])
ENTROPY = torch.tensor([[0.2, 0.4, 0.6], [1.0, 1.2, NAN], [0.3, NAN, NAN], [0.5, 0.5, 0.8]])
LOGPS = torch.tensor([[-0.1, -0.2, -0.3], [-1.0, -0.5, NAN], [-0.7, NAN, NAN], [-0.2, -0.4, -0.9]])


def test_gtpo_loss_equals_spec_formula_on_hand_group():
    # <H>_i = 0.4, 1.1, 0.3, 0.6; tau = ln 2 = 0.6931, <H>_ini = 0.5 <= tau -> delta = 1, 0, 1, 1
    # Ahat = A - 0.1 <H> = 0.96, -1.11, 0.47, -0.56
    # J_i = delta Ahat / |o_i| * sum_t lambda:
    #   r0: 0.96 / 3 * (2+1+1) = 1.28   r1: 0 (filtered)   r2: 0.47 / 1 * 1 = 0.47
    #   r3: -0.56 / 3 * (0+1+1) = -0.373333
    # J = (1.28 + 0 + 0.47 - 0.373333) / 4 = 0.344167 -> loss = -0.344167
    logps = LOGPS.clone().requires_grad_(True)
    loss, metrics = gtpo_loss(logps, ADV, MASK, WEIGHTS, ENTROPY, gamma=0.1, entropy_threshold=LN2, initial_entropy=0.5)
    torch.testing.assert_close(loss, torch.tensor(-0.344167), atol=1e-6, rtol=0)
    # metrics (conflicts read from weights != 1 on valid tokens: r0 t0, r1 t0, r3 t0):
    #   pos rows r0, r2: 1 conflict / 4 valid = 0.25; neg rows r1, r3: 2 / 5 = 0.4
    #   filtered 1/4; completion entropy mean(0.4, 1.1, 0.3, 0.6) = 0.6;
    #   token entropy (1.2 + 2.2 + 0.3 + 1.8) / 9 valid tokens = 5.5 / 9; shaped mean = -0.24/4 = -0.06; no clip
    expected = {
        "conflict_frac_pos": 0.25,
        "conflict_frac_neg": 0.4,
        "conflict_tokens_pos": 1.0,
        "valid_tokens_pos": 4.0,
        "conflict_tokens_neg": 2.0,
        "valid_tokens_neg": 5.0,
        "filtered_frac": 0.25,
        "completion_entropy": 0.6,
        "token_entropy": 5.5 / 9,
        "shaped_advantage": -0.06,
        "clip_frac": 0.0,
    }
    assert set(metrics) == set(expected)
    for key, value in expected.items():
        assert metrics[key].dim() == 0 and not metrics[key].requires_grad
        torch.testing.assert_close(metrics[key], torch.tensor(value), atol=1e-6, rtol=0, msg=key)
    # gradient: d loss / d logp_{i,t} = -(1/N) delta_i Ahat_i / |o_i| * lambda_{i,t}
    #   r0 t0: -(1/4) * 0.96/3 * 2 = -0.16; r2 t0: -(1/4) * 0.47 = -0.1175; r1: 0; padding: 0
    loss.backward()
    grad = logps.grad
    assert torch.isfinite(grad).all()
    torch.testing.assert_close(grad[0], torch.tensor([-0.16, -0.08, -0.08]))
    torch.testing.assert_close(grad[2], torch.tensor([-0.1175, 0.0, 0.0]))
    torch.testing.assert_close(grad[3], torch.tensor([0.0, 0.56 / 12, 0.56 / 12]))
    assert torch.equal(grad[1], torch.zeros(3))


def test_normalize_by_conflicts_quirk():
    # explicit conflict mask: r0 has 2 conflicts, r2 none (clamped to 1), r3 one
    # r0: 1.28 / 2 = 0.64; r2: 0.47; r3: -0.373333 -> J = (0.64 + 0.47 - 0.373333)/4 = 0.184167
    conflicts = torch.tensor([[1, 0, 1], [1, 0, 0], [0, 0, 0], [1, 0, 0]]).bool()
    loss, metrics = gtpo_loss(
        LOGPS, ADV, MASK, WEIGHTS, ENTROPY, initial_entropy=0.5, conflict_mask=conflicts, normalize_by_conflicts=True
    )
    torch.testing.assert_close(loss, torch.tensor(-0.184167), atol=1e-6, rtol=0)
    # with conflict_mask given, the metrics count it: pos r0 2 + r2 0 of 4 valid = 0.5
    torch.testing.assert_close(metrics["conflict_frac_pos"], torch.tensor(0.5))
    with pytest.raises(ValueError, match="needs conflict_mask"):
        gtpo_loss(LOGPS, ADV, MASK, WEIGHTS, ENTROPY, initial_entropy=0.5, normalize_by_conflicts=True)
    # explicit counts (e.g. the reference code's) replace the mask's row sums as the divisor:
    # counts [1, 5, 4, 3]: r0 1.28 / 1 = 1.28; r1 0 (filtered); r2 0.47 / 4 = 0.1175; r3 -0.373333 / 3 = -0.124444
    # J = (1.28 + 0.1175 - 0.124444) / 4 = 0.318264
    loss, _ = gtpo_loss(
        LOGPS, ADV, MASK, WEIGHTS, ENTROPY, initial_entropy=0.5, conflict_mask=conflicts, normalize_by_conflicts=True,
        conflict_counts=torch.tensor([1.0, 5.0, 4.0, 3.0]),
    )
    torch.testing.assert_close(loss, torch.tensor(-0.318264), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="conflict_counts has shape"):
        gtpo_loss(LOGPS, ADV, MASK, WEIGHTS, ENTROPY, initial_entropy=0.5, conflict_mask=conflicts,
                  normalize_by_conflicts=True, conflict_counts=torch.ones(3))  # fmt: skip


def test_conflict_shares_are_nan_without_rows_of_that_sign():
    # a constant-reward group (A = 0 everywhere) has no positive and no negative rows: no share, not 0
    zero = torch.zeros(4)
    _, metrics = gtpo_loss(LOGPS, zero, MASK, MASK.float(), ENTROPY, initial_entropy=0.5)
    assert metrics["conflict_frac_pos"].isnan() and metrics["conflict_frac_neg"].isnan()
    assert metrics["valid_tokens_pos"] == 0 and metrics["conflict_tokens_neg"] == 0
    # only positive rows: the negative share is missing, the positive one is a number (no conflicts: 0)
    _, metrics = gtpo_loss(LOGPS, ADV.abs(), MASK, MASK.float(), ENTROPY, initial_entropy=0.5)
    assert metrics["conflict_frac_pos"] == 0 and metrics["conflict_frac_neg"].isnan()
    assert metrics["valid_tokens_pos"] == 9


def test_filter_modes_reach_the_loss():
    # <H>_ini = 1.5 > tau: auto does not filter r1 -> r1 adds -1.11/2 * (0+1) = -0.555
    # J = (1.28 - 0.555 + 0.47 - 0.373333) / 4 = 0.205417
    loss, metrics = gtpo_loss(LOGPS, ADV, MASK, WEIGHTS, ENTROPY, initial_entropy=1.5)
    torch.testing.assert_close(loss, torch.tensor(-0.205417), atol=1e-6, rtol=0)
    assert metrics["filtered_frac"] == 0
    # always (reference code) filters r1 whatever <H>_ini -> the hand-group value again
    loss_always, _ = gtpo_loss(LOGPS, ADV, MASK, WEIGHTS, ENTROPY, initial_entropy=1.5, filter_mode="always")
    torch.testing.assert_close(loss_always, torch.tensor(-0.344167), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="needs initial_entropy"):
        gtpo_loss(LOGPS, ADV, MASK, WEIGHTS, ENTROPY)


def _random_group(seed):
    rng = random.Random(seed)
    g, t = rng.randint(2, 6), rng.randint(1, 8)
    n = g * rng.randint(1, 3)
    lengths = [rng.randint(0, t) for _ in range(n)]
    ids = torch.tensor([[rng.randrange(3) for _ in range(t)] for _ in range(n)])
    mask = torch.tensor([[1 if k < length else 0 for k in range(t)] for length in lengths])
    adv = torch.tensor([rng.choice([-1.3, -0.4, 0.0, 0.7, 1.1]) for _ in range(n)])
    logps = torch.randn(n, t, generator=torch.Generator().manual_seed(seed)) - 2
    return ids, mask, adv, g, logps


@pytest.mark.parametrize("old", [False, True])
def test_conflict_gradient_rule(old):
    # With gamma = 0 and no filter, GTPO's gradient on a token equals the GRPO gradient times lambda:
    # exactly 0 on conflict tokens of negative completions, exactly positive_weight (2) times the GRPO
    # gradient on conflict tokens of positive completions, identical elsewhere.
    checked = 0
    for seed in range(60):
        ids, mask, adv, g, logps = _random_group(seed)
        old_logps = (logps + 0.05 * torch.randn_like(logps)) if old else None
        conflicts = conflict_mask(ids, mask, adv, g)
        weights = conflict_weights(ids, mask, adv, g, positive_weight=2.0)
        entropy = torch.rand_like(logps)
        lp_gtpo = logps.clone().requires_grad_(True)
        lp_grpo = logps.clone().requires_grad_(True)
        gtpo_loss(lp_gtpo, adv, mask, weights, entropy, old_logps=old_logps, gamma=0.0, filter_mode="off")[0].backward()
        grpo_loss(lp_grpo, adv, mask, old_logps=old_logps)[0].backward()
        pos = conflicts & (adv > 0).unsqueeze(1)
        neg = conflicts & (adv < 0).unsqueeze(1)
        assert torch.equal(lp_gtpo.grad[neg], torch.zeros(int(neg.sum())))
        assert torch.equal(lp_gtpo.grad[pos], 2.0 * lp_grpo.grad[pos])
        assert torch.equal(lp_gtpo.grad[~conflicts], lp_grpo.grad[~conflicts])
        checked += int(pos.sum()) + int(neg.sum())
        if not old:  # on-policy the GRPO token gradient itself is -A_i / (|o_i| N), nonzero where A != 0
            assert (lp_grpo.grad[pos] < 0).all() and (lp_grpo.grad[neg] > 0).all()
    assert checked > 100  # the random groups do contain conflict tokens


def test_ppo_clip():
    # ratio r = 1.5 (logp = ln 1.5, old = 0), eps = 0.2:
    #   A = +1: min(1.5, 1.2) = 1.2   (clipped: no gradient)
    #   A = -1: min(-1.5, -1.2) = -1.5 (unclipped: d/dlogp = r A = -1.5)
    # J = (1.2 - 1.5) / 2 = -0.15 -> loss 0.15; d loss / d logp = (0, -(1/2)(-1.5)) = (0, 0.75)
    logps = torch.full((2, 1), math.log(1.5), requires_grad=True)
    old = torch.zeros(2, 1)
    adv = torch.tensor([1.0, -1.0])
    mask = torch.ones(2, 1)
    loss, metrics = grpo_loss(logps, adv, mask, old_logps=old, clip_eps=0.2)
    torch.testing.assert_close(loss, torch.tensor(0.15))
    torch.testing.assert_close(metrics["clip_frac"], torch.tensor(0.5))
    loss.backward()
    torch.testing.assert_close(logps.grad, torch.tensor([[0.0], [0.75]]))
    # GTPO with lambda = (2, 1), gamma 0, no filter: J = (2 * 1.2 - 1.5) / 2 = 0.45
    loss_g, metrics_g = gtpo_loss(
        logps, adv, mask, torch.tensor([[2.0], [1.0]]), torch.zeros(2, 1), old_logps=old, gamma=0.0, filter_mode="off"
    )
    torch.testing.assert_close(loss_g, torch.tensor(-0.45))
    torch.testing.assert_close(metrics_g["clip_frac"], torch.tensor(0.5))
    # low side, r = 0.5: A = -1 -> min(-0.5, -0.8) = -0.8 (clipped); A = +1 -> min(0.5, 0.8) = 0.5
    # J = (0.5 - 0.8) / 2 = -0.15 with adv (1, -1) -> loss 0.15
    low = torch.full((2, 1), math.log(0.5))
    loss_low, m_low = grpo_loss(low, adv, mask, old_logps=old)
    torch.testing.assert_close(loss_low, torch.tensor(0.15))
    torch.testing.assert_close(m_low["clip_frac"], torch.tensor(0.5))


def test_kl_term():
    # logp = (ln 0.5, ln 0.25), ref = (ln 0.25, ln 0.5): d = ref - logp = (-ln 2, ln 2)
    # k3 = e^d - d - 1: (0.5 + 0.693147 - 1, 2 - 0.693147 - 1) = (0.193147, 0.306853), mean 0.25
    # J = mean_t (A - beta k3) = 1 - 0.1 * 0.25 = 0.975 -> loss = -0.975
    # d k3 / d logp = 1 - e^d = (0.5, -1) -> d loss / d logp = -(1/2) (1 - 0.1 * (0.5, -1)) = (-0.475, -0.55)
    logps = torch.tensor([[math.log(0.5), math.log(0.25)]], requires_grad=True)
    ref = torch.tensor([[math.log(0.25), math.log(0.5)]])
    loss, metrics = grpo_loss(logps, torch.tensor([1.0]), torch.ones(1, 2), ref_logps=ref, beta=0.1)
    torch.testing.assert_close(loss, torch.tensor(-0.975))
    torch.testing.assert_close(metrics["kl"], torch.tensor(0.25))
    loss.backward()
    torch.testing.assert_close(logps.grad, torch.tensor([[-0.475, -0.55]]))
    # beta = 0: no KL metric, the plain GRPO value -1
    loss0, metrics0 = grpo_loss(logps, torch.tensor([1.0]), torch.ones(1, 2), ref_logps=ref)
    torch.testing.assert_close(loss0, torch.tensor(-1.0))
    assert "kl" not in metrics0
    with pytest.raises(ValueError, match="needs ref_logps"):
        grpo_loss(logps, torch.tensor([1.0]), torch.ones(1, 2), beta=0.1)


def test_empty_completion_gives_no_nan():
    # row 1 has no valid token and NaN everywhere: contributes 0; loss = -(1 * 2/2 + 0) / 2 = -0.5
    logps = torch.tensor([[-0.5, -0.5], [NAN, NAN]], requires_grad=True)
    mask = torch.tensor([[1, 1], [0, 0]])
    adv = torch.tensor([1.0, -1.0])
    entropy = torch.tensor([[0.1, 0.1], [NAN, NAN]])
    for old in (None, torch.tensor([[-0.5, -0.5], [NAN, NAN]])):
        loss, metrics = gtpo_loss(
            logps, adv, mask, mask.float(), entropy, old_logps=old, gamma=0.0, initial_entropy=0.0
        )
        torch.testing.assert_close(loss, torch.tensor(-0.5))
        # the only negative row is empty: no negative share (NaN), every other metric finite
        assert metrics["conflict_frac_neg"].isnan()
        assert all(torch.isfinite(v) for k, v in metrics.items() if k != "conflict_frac_neg")
        torch.testing.assert_close(metrics["completion_entropy"], torch.tensor(0.1))  # the empty row is left out
        torch.testing.assert_close(metrics["token_entropy"], torch.tensor(0.1))
        logps.grad = None
        loss.backward()
        assert torch.isfinite(logps.grad).all() and torch.equal(logps.grad[1], torch.zeros(2))
        ref = torch.tensor([[-0.5, -0.5], [NAN, NAN]])  # k3 = 0 on row 0 -> loss -0.5 again
        loss_r, metrics_r = grpo_loss(logps, adv, mask, old_logps=old, ref_logps=ref, beta=0.1)
        torch.testing.assert_close(loss_r, torch.tensor(-0.5))
        assert metrics_r["kl"] == 0


def test_bfloat16_logps_are_upcast():
    # bf16 log-probs: the loss is computed in float32 and equals the float32 computation on the same
    # (rounded) values; the gradient comes back in bf16
    logps = torch.randn(4, 300).to(torch.bfloat16).requires_grad_(True)
    mask = torch.ones(4, 300)
    adv = torch.tensor([1.0, -1.0, 0.5, -0.5])
    loss, _ = grpo_loss(logps, adv, mask, ref_logps=torch.zeros(4, 300), beta=0.05)
    loss32, _ = grpo_loss(logps.detach().float(), adv, mask, ref_logps=torch.zeros(4, 300), beta=0.05)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, loss32)
    loss.backward()
    assert logps.grad.dtype == torch.bfloat16 and torch.isfinite(logps.grad.float()).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"weights": torch.ones(4, 2)}, "weights has shape"),
        ({"entropy": torch.ones(4, 3, dtype=torch.long)}, "entropy must be a floating"),
        ({"advantages": torch.ones(3)}, "advantages has shape"),
        ({"old_logps": torch.ones(2, 3)}, "old_logps has shape"),
        ({"filter_mode": "never"}, "filter_mode must be one of"),
        ({"clip_eps": 0.0}, "clip_eps must be > 0"),
        ({"gamma": float("inf")}, "gamma must be a finite number"),
        ({"completion_mask": MASK * 3}, "only 0 and 1"),
    ],
)
def test_bad_input(kwargs, match):
    args = {"logps": LOGPS, "advantages": ADV, "completion_mask": MASK, "weights": WEIGHTS, "entropy": ENTROPY}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        gtpo_loss(**args, initial_entropy=0.5)


@pytest.mark.parametrize("old", [False, True])
def test_with_both_weights_1_no_shaping_and_no_filter_gtpo_is_grpo(old):
    for seed in range(30):
        ids, mask, adv, g, logps = _random_group(seed)
        old_logps = (logps + 0.05 * torch.randn_like(logps)) if old else None
        weights = conflict_weights(ids, mask, adv, g, positive_weight=1.0, negative_weight=1.0)
        assert torch.equal(weights, mask.float())  # lambda = 1 on every valid token
        lp_gtpo = logps.clone().requires_grad_(True)
        lp_grpo = logps.clone().requires_grad_(True)
        loss_gtpo, _ = gtpo_loss(lp_gtpo, adv, mask, weights, torch.rand_like(logps), old_logps=old_logps, gamma=0.0,
                                 filter_mode="off")  # fmt: skip
        loss_grpo, _ = grpo_loss(lp_grpo, adv, mask, old_logps=old_logps)
        loss_gtpo.backward()
        loss_grpo.backward()
        assert torch.equal(loss_gtpo, loss_grpo) and torch.equal(lp_gtpo.grad, lp_grpo.grad), f"seed {seed}"
