"""conflict_mask / conflict_weights / conflict_counts: hand-worked groups, the spec's precise rules, a pure-Python loop
reference over hundreds of random seeds, and input errors."""

import random

import pytest
import torch

from gtpo.core import conflict_counts, conflict_mask, conflict_tensors, conflict_weights

PAD = 2  # the pad id equals the EOS id (2) in these hand examples


def _t(rows):
    return torch.tensor(rows)


def test_hand_worked_group():
    # one group of G=4; EOS = pad = 2
    #   r0 A=+1   [5, 6, 7, 2]      length 4
    #   r1 A=-1   [5, 8, 2, pad]    length 3
    #   r2 A=+.5  [5, 6, 9, 2]      length 4
    #   r3 A=-.5  [1, 2, pad, pad]  length 2
    # forward t=0: 5 stands in r0,r2 (pos) and r1 (neg) -> conflict for r0,r1,r2; r3's 1 matches nobody
    # forward t=1: 6 (pos only), 8 and 2 (neg only) -> none; t=2: 7, 2, 9 -> none
    # forward t=3: r0,r2 have 2 but r1/r3 are padding there (pad never matches) -> none
    # backward s=0 (last valid token): 2 in every row -> conflict for all four rows
    # backward s=1: 7, 8, 9, 1 -> none (so the suffix run is one token long)
    ids = _t([[5, 6, 7, 2], [5, 8, 2, PAD], [5, 6, 9, 2], [1, 2, PAD, PAD]])
    mask = _t([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 0, 0]])
    adv = torch.tensor([1.0, -1.0, 0.5, -0.5])
    expected = _t([[1, 0, 0, 1], [1, 0, 1, 0], [1, 0, 0, 1], [0, 1, 0, 0]]).bool()
    for scope in ("prefix_suffix", "all"):
        assert torch.equal(conflict_mask(ids, mask, adv, 4, scope=scope), expected)
    # weights: positive conflict -> 2, negative conflict -> 0, other valid -> 1, padding -> 0
    weights = conflict_weights(ids, mask, adv, 4)
    assert weights.dtype == torch.float32
    assert torch.equal(weights, torch.tensor([[2.0, 1, 1, 2], [0, 1, 0, 0], [2, 1, 1, 2], [1, 0, 0, 0]]))


def test_scope_prefix_suffix_versus_all():
    #   r0 A=+1  [5, 6, 7, 3, 2]   length 5
    #   r1 A=-1  [5, 9, 7, 2, pad] length 4
    # forward raw: t=0 (5=5) and t=2 (7=7); t=1 differs, so the leading run is t=0 only
    # backward raw: s=0 (2=2); s=1: 3 vs 7 differs -> trailing run is the last token only
    # prefix_suffix: r0 {0, 4}, r1 {0, 3};  all: adds t=2 in both rows
    ids = _t([[5, 6, 7, 3, 2], [5, 9, 7, 2, PAD]])
    mask = _t([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]])
    adv = torch.tensor([1.0, -1.0])
    ps = conflict_mask(ids, mask, adv, 2, scope="prefix_suffix")
    assert torch.equal(ps, _t([[1, 0, 0, 0, 1], [1, 0, 0, 1, 0]]).bool())
    every = conflict_mask(ids, mask, adv, 2, scope="all")
    assert torch.equal(every, _t([[1, 0, 1, 0, 1], [1, 0, 1, 1, 0]]).bool())
    # with positive_weight 3: r0 -> [3, 1, 3, 1, 3], r1 -> [0, 1, 0, 0, 0(pad)]
    w = conflict_weights(ids, mask, adv, 2, scope="all", positive_weight=3.0)
    assert torch.equal(w, torch.tensor([[3.0, 1, 3, 1, 3], [0, 1, 0, 0, 0]]))
    # scope "none" (the ablation without conflict protection): no conflicts, weights = the mask
    assert not conflict_mask(ids, mask, adv, 2, scope="none").any()
    w = conflict_weights(ids, mask, adv, 2, scope="none", positive_weight=3.0)
    assert torch.equal(w, torch.tensor([[1.0, 1, 1, 1, 1], [1, 1, 1, 1, 0]]))


def test_union_and_product():
    # single-token completions [2] / [2]: the token is inside both the forward and the backward run.
    # union -> weight w = 2; the reference code's product -> w * w = 4; the negative row 0 either way
    args = (_t([[2], [2]]), _t([[1], [1]]), torch.tensor([1.0, -1.0]), 2)
    assert torch.equal(conflict_weights(*args), torch.tensor([[2.0], [0.0]]))
    assert torch.equal(conflict_weights(*args, combine="product"), torch.tensor([[4.0], [0.0]]))
    assert torch.equal(conflict_weights(*args, combine="product", positive_weight=3.0), torch.tensor([[9.0], [0.0]]))


def test_product_hand_worked_group():
    # G=4, pad id 9:
    #   r0 A=+1   [3, 2, pad]   fwd: t0 (3 = r1's 3), t1 (2 = r1's 2); bwd: s0 (2 = 2), s1 (3 = 3)
    #                           -> both tokens in both runs: product w*w = 4, union w = 2
    #   r1 A=-1   [3, 2, pad]   the same tokens, negative -> 0 (either rule); padding 0
    #   r2 A=0    [3, 5, 2]     neutral: 1 on every valid token, never makes conflicts
    #   r3 A=+.5  [3, 7, 2]     fwd: t0 only (t1 7 matches no negative; t2 is r1's padding);
    #                           bwd: s0 (2 = r1's last 2) only (s1: 7 vs r1's 3) -> one run each: w
    ids = _t([[3, 2, 9], [3, 2, 9], [3, 5, 2], [3, 7, 2]])
    mask = _t([[1, 1, 0], [1, 1, 0], [1, 1, 1], [1, 1, 1]])
    adv = torch.tensor([1.0, -1.0, 0.0, 0.5])
    union = conflict_weights(ids, mask, adv, 4)
    product = conflict_weights(ids, mask, adv, 4, combine="product")
    assert torch.equal(union, torch.tensor([[2.0, 2, 0], [0, 0, 0], [1, 1, 1], [2, 1, 2]]))
    assert torch.equal(product, torch.tensor([[4.0, 4, 0], [0, 0, 0], [1, 1, 1], [2, 1, 2]]))
    # counts: exact = conflict tokens per row: 2, 2, 0, 2.
    # reference_code = |forward flags OR backward flags in backward coordinates|: r0 {0,1} | {0,1} = 2,
    # r1 the same, r3 {t0} | {s0} -> index 0 twice -> 1 (its two conflict tokens count once)
    assert conflict_counts(ids, mask, adv, 4).tolist() == [2.0, 2.0, 0.0, 2.0]
    assert conflict_counts(ids, mask, adv, 4, count="reference_code").tolist() == [2.0, 2.0, 0.0, 1.0]


def test_reference_count_when_the_negative_conflict_is_its_last_token():
    # positive [1], negative [0, 1, 0, 1] (pad 5): the negative row's conflict is its last token
    # (backward s = 0); the reference code marks index 0 instead, the count is 1 either way
    ids = _t([[1, 5, 5, 5], [0, 1, 0, 1]])
    mask = _t([[1, 0, 0, 0], [1, 1, 1, 1]])
    adv = torch.tensor([1.0, -1.0])
    assert conflict_mask(ids, mask, adv, 2).tolist() == [[True, False, False, False], [False, False, False, True]]
    for count in ("exact", "reference_code"):
        assert conflict_counts(ids, mask, adv, 2, count=count).tolist() == [1.0, 1.0]


def test_padding_never_matches_even_when_pad_is_eos():
    # r0 (A>0) ends with EOS 2 at t=1; r1 (A<0) is [7, 2] -> backward s=0 matches (2=2), forward t=1
    # also 2=2 -> conflict. r1 padded to length 1 ([7, pad=2]) must NOT match r0's EOS at t=1.
    ids = _t([[7, 2], [7, 2]])
    adv = torch.tensor([1.0, -1.0])
    full = conflict_mask(ids, _t([[1, 1], [1, 1]]), adv, 2)
    assert torch.equal(full, _t([[1, 1], [1, 1]]).bool())
    # r1 has length 1: forward t=0 7=7 conflict; t=1 r1 is padding -> r0's t=1 only via backward:
    # backward s=0: r0 -> 2, r1 -> 7 -> differ; so r0 t=1 is not a conflict
    padded = conflict_mask(ids, _t([[1, 1], [1, 0]]), adv, 2)
    assert torch.equal(padded, _t([[1, 0], [1, 0]]).bool())


def test_zero_advantage_rows_untouched_and_never_make_conflicts():
    # r0 A=+1 [4, 5]; r1 A=0 [4, 5]; r2 A=0 [4, 5]. Only r1/r2 share tokens with r0, but they have
    # A=0: no negative row exists, so no conflicts; all valid weights stay 1 (padding 0)
    ids = _t([[4, 5], [4, 5], [4, 5]])
    mask = _t([[1, 1], [1, 1], [1, 0]])
    adv = torch.tensor([1.0, 0.0, 0.0])
    assert not conflict_mask(ids, mask, adv, 3).any()
    assert torch.equal(conflict_weights(ids, mask, adv, 3), torch.tensor([[1.0, 1], [1, 1], [1, 0]]))
    # add a negative row sharing 4 at t=0: r0 and r3 conflict there; the A=0 rows still keep weight 1
    ids4 = _t([[4, 5, 0], [4, 5, 0], [4, 5, 0], [4, 9, 8]])
    mask4 = _t([[1, 1, 0], [1, 1, 0], [1, 1, 0], [1, 1, 1]])
    w = conflict_weights(ids4, mask4, torch.tensor([1.0, 0.0, 0.0, -1.0]), 4)
    assert torch.equal(w, torch.tensor([[2.0, 1, 0], [1, 1, 0], [1, 1, 0], [0, 1, 1]]))


def test_groups_do_not_mix():
    # G=2: group 0 = (r0 A>0, r1 A>0), group 1 = (r2 A<0, r3 A<0): the same tokens everywhere but
    # no group holds both signs -> no conflicts
    ids = _t([[3, 3], [3, 3], [3, 3], [3, 3]])
    mask = torch.ones(4, 2, dtype=torch.long)
    assert not conflict_mask(ids, mask, torch.tensor([1.0, 1.0, -1.0, -1.0]), 2).any()
    # regrouped as G=4 the four rows form one group with both signs -> everything conflicts
    assert conflict_mask(ids, mask, torch.tensor([1.0, 1.0, -1.0, -1.0]), 4).all()


def test_zero_length_rows_and_huge_token_ids():
    # ids far beyond any vocabulary (2**40): memory does not depend on the id range
    big = 2**40
    ids = torch.tensor([[big, 1], [big, 1], [0, 0]])
    mask = _t([[1, 1], [1, 1], [0, 0]])
    w = conflict_weights(ids, mask, torch.tensor([1.0, -1.0, -2.0]), 3)
    # r0/r1 identical [big, 1] -> both tokens conflict; r2 empty -> all zeros
    assert torch.equal(w, torch.tensor([[2.0, 2], [0, 0], [0, 0]]))


def test_empty_batch_and_bool_mask():
    out = conflict_mask(torch.zeros(0, 3, dtype=torch.long), torch.zeros(0, 3), torch.zeros(0), 2)
    assert out.shape == (0, 3)
    w = conflict_weights(_t([[1], [1]]), torch.tensor([[True], [True]]), torch.tensor([1.0, -1.0]), 2)
    assert torch.equal(w, torch.tensor([[2.0], [0.0]]))


# ---------------------------------------------------------------- loop reference, random seeds


def loop_runs(ids, mask, adv, group_size, scope):
    """Slow pure-Python reference, written from the spec's text: per row, the forward and the backward
    conflict flags in forward coordinates (after the scope's runs)."""
    n = len(ids)
    lengths = [sum(row) for row in mask]  # masks are left-aligned
    fwd_out = [[False] * len(ids[0]) for _ in range(n)]
    bwd_out = [[False] * len(ids[0]) for _ in range(n)]
    for g0 in range(0, n, group_size):
        rows = range(g0, g0 + group_size)
        for i in rows:
            if adv[i] == 0:
                continue
            li = lengths[i]
            fwd, bwd = [False] * li, [False] * li
            for t in range(li):
                tok = ids[i][t]
                fp = any(adv[j] > 0 and t < lengths[j] and ids[j][t] == tok for j in rows)
                fn = any(adv[j] < 0 and t < lengths[j] and ids[j][t] == tok for j in rows)
                fwd[t] = fp and fn
                s = li - 1 - t
                bp = any(adv[j] > 0 and s < lengths[j] and ids[j][lengths[j] - 1 - s] == tok for j in rows)
                bn = any(adv[j] < 0 and s < lengths[j] and ids[j][lengths[j] - 1 - s] == tok for j in rows)
                bwd[t] = bp and bn
            if scope == "prefix_suffix":
                lead, trail = [False] * li, [False] * li
                for t in range(li):  # leading forward run
                    if not fwd[t]:
                        break
                    lead[t] = True
                for t in reversed(range(li)):  # trailing backward run
                    if not bwd[t]:
                        break
                    trail[t] = True
                fwd, bwd = lead, trail
            fwd_out[i][:li], bwd_out[i][:li] = fwd, bwd
    return fwd_out, bwd_out


def loop_conflicts(ids, mask, adv, group_size, scope):
    fwd, bwd = loop_runs(ids, mask, adv, group_size, scope)
    return [[f or b for f, b in zip(rf, rb, strict=True)] for rf, rb in zip(fwd, bwd, strict=True)]


def loop_product_weights(ids, mask, adv, group_size, scope, w):
    """The reference code's rule, token by token: forward weight x backward weight."""
    fwd, bwd = loop_runs(ids, mask, adv, group_size, scope)
    out = []
    for i, (rf, rb) in enumerate(zip(fwd, bwd, strict=True)):
        row = []
        for k, (f, b) in enumerate(zip(rf, rb, strict=True)):
            if not mask[i][k]:
                row.append(0.0)
                continue
            conflict = w if adv[i] > 0 else 0.0  # weight of a conflict in one alignment
            row.append((conflict if f else 1.0) * (conflict if b else 1.0))
        out.append(row)
    return out


def loop_reference_counts(ids, mask, adv, group_size, scope):
    """The authors' count: index k is counted when forward position k or BACKWARD position s = k is a conflict."""
    fwd, bwd = loop_runs(ids, mask, adv, group_size, scope)
    counts = []
    for i in range(len(ids)):
        li = sum(mask[i])
        back_s = [bwd[i][li - 1 - s] for s in range(li)]  # backward flags indexed by s, never mapped back
        counts.append(float(sum(fwd[i][k] or back_s[k] for k in range(li))))
    return counts


def random_case(rng: random.Random):
    group_size = rng.randint(1, 5)
    n = group_size * rng.randint(1, 3)
    t = rng.randint(1, 9)
    vocab = rng.randint(2, 4)  # tiny: conflicts are frequent
    pad = rng.randrange(vocab)  # the pad id is a real token
    lengths = [rng.choice([0, t, rng.randint(0, t)]) for _ in range(n)]
    ids = [[rng.randrange(vocab) if k < length else pad for k in range(t)] for length in lengths]
    mask = [[1 if k < length else 0 for k in range(t)] for length in lengths]
    adv = [rng.choice([-1.5, -0.5, 0.0, 0.0, 0.5, 1.0]) for _ in range(n)]
    return ids, mask, adv, group_size


@pytest.mark.parametrize("scope", ["prefix_suffix", "all"])
def test_matches_loop_reference_over_random_seeds(scope):
    differs = 0  # cases where the reference code's count is not the number of conflict tokens
    for seed in range(400):
        ids, mask, adv, g = random_case(random.Random(seed))
        got = conflict_mask(torch.tensor(ids), torch.tensor(mask), torch.tensor(adv), g, scope=scope)
        want = loop_conflicts(ids, mask, adv, g, scope)
        assert got.tolist() == want, f"seed {seed}: ids={ids} mask={mask} adv={adv} G={g}"
        weights = conflict_weights(torch.tensor(ids), torch.tensor(mask), torch.tensor(adv), g, scope=scope)
        for i, row in enumerate(want):
            for k, conflict in enumerate(row):
                expected = 0.0 if not mask[i][k] else (1.0 if not conflict else (2.0 if adv[i] > 0 else 0.0))
                assert weights[i, k].item() == expected, f"seed {seed} row {i} pos {k}"
        args = (torch.tensor(ids), torch.tensor(mask), torch.tensor(adv), g)
        w = random.Random(seed).choice([0.0, 0.5, 2.0, 3.0])
        product = conflict_weights(*args, scope=scope, combine="product", positive_weight=w)
        assert product.tolist() == loop_product_weights(ids, mask, adv, g, scope, w), f"seed {seed}"
        assert conflict_counts(*args, scope=scope).tolist() == [float(sum(row)) for row in want]
        reference = conflict_counts(*args, scope=scope, count="reference_code").tolist()
        assert reference == loop_reference_counts(ids, mask, adv, g, scope), f"seed {seed}"
        differs += reference != [float(sum(row)) for row in want]
        # one search for all three (the trainer's path) gives each function's own result
        tw, tm, tc = conflict_tensors(*args, scope=scope, positive_weight=w, combine="product", count="reference_code")
        assert torch.equal(tw, product) and tm.tolist() == want and tc.tolist() == reference
        assert conflict_tensors(*args, scope=scope)[2] is None
    assert differs > 0  # the random cases do exercise the difference


# ---------------------------------------------------------------- input errors


@pytest.mark.parametrize(
    ("ids", "mask", "adv", "g", "kwargs", "match"),
    [
        (torch.ones(3, 2, dtype=torch.long), torch.ones(3, 2), torch.ones(3), 2, {}, "multiple of group_size"),
        (torch.ones(2, 2, dtype=torch.long), torch.ones(2, 3), torch.ones(2), 2, {}, "completion_mask has shape"),
        (torch.ones(2, 2, dtype=torch.long), torch.ones(2, 2), torch.ones(3), 2, {}, "advantages has shape"),
        (torch.ones(2, 2), torch.ones(2, 2), torch.ones(2), 2, {}, "integer token ids"),
        (torch.ones(2, 2, dtype=torch.long), torch.ones(2, 2), torch.ones(2), 2, {"scope": "both"}, "scope must be"),
        (torch.ones(2, 2, dtype=torch.long), _t([[0, 1], [1, 1]]), torch.ones(2), 2, {}, "left-aligned"),
        (torch.ones(2, 2, dtype=torch.long), _t([[2, 1], [1, 1]]), torch.ones(2), 2, {}, "only 0 and 1"),
        (torch.ones(2, dtype=torch.long), torch.ones(2), torch.ones(2), 2, {}, "completion_ids must have 2"),
        (torch.ones(2, 2, dtype=torch.long), torch.ones(2, 2), torch.ones(2, dtype=torch.long), 2, {}, "floating"),
    ],
)
def test_bad_input(ids, mask, adv, g, kwargs, match):
    with pytest.raises(ValueError, match=match):
        conflict_weights(ids, mask, adv, g, **kwargs)


def test_bad_combine_and_count():
    args = (_t([[1], [1]]), _t([[1], [1]]), torch.tensor([1.0, -1.0]), 2)
    with pytest.raises(ValueError, match="combine must be one of"):
        conflict_weights(*args, combine="max")
    with pytest.raises(ValueError, match="count must be one of"):
        conflict_counts(*args, count="paper")


def test_bad_positive_weight():
    with pytest.raises(ValueError, match="positive_weight"):
        conflict_weights(_t([[1], [1]]), _t([[1], [1]]), torch.tensor([1.0, -1.0]), 2, positive_weight=-1.0)


@pytest.mark.slow
@pytest.mark.parametrize("scope", ["prefix_suffix", "all"])
def test_matches_loop_reference_paper_sized_groups(scope):
    # the paper's group sizes (8, 12) and longer rows, 150 seeds per scope
    for seed in range(150):
        rng = random.Random(10_000 + seed)
        g = rng.choice([8, 12])
        n, t, vocab = g * rng.randint(1, 2), rng.randint(1, 64), rng.randint(2, 6)
        pad = rng.randrange(vocab)
        lengths = [rng.choice([0, t, rng.randint(0, t)]) for _ in range(n)]
        ids = [[rng.randrange(vocab) if k < length else pad for k in range(t)] for length in lengths]
        mask = [[1 if k < length else 0 for k in range(t)] for length in lengths]
        adv = [rng.choice([-1.0, 0.0, 1.0]) for _ in range(n)]
        got = conflict_mask(torch.tensor(ids), torch.tensor(mask), torch.tensor(adv), g, scope=scope)
        assert got.tolist() == loop_conflicts(ids, mask, adv, g, scope), f"seed {seed}"


# ---- options beyond the paper: negative_weight, max_run --------------------------------------------
def test_negative_weight_and_max_run_by_hand():
    # one group: row 0 (A = +1) [7, 8, 9, 5, 1], row 1 (A = -1) [7, 8, 9, 6, 1]: forward run t = 0..2
    # (tokens 7 8 9), backward run s = 0 (token 1 at the end); union conflicts at t = 0, 1, 2, 4
    ids = torch.tensor([[7, 8, 9, 5, 1], [7, 8, 9, 6, 1]])
    mask = torch.ones(2, 5)
    adv = torch.tensor([1.0, -1.0])
    assert conflict_weights(ids, mask, adv, 2).tolist() == [[2, 2, 2, 1, 2], [0, 0, 0, 1, 0]]
    # negative_weight 0.5: the negative row keeps half of its update on the shared tokens
    assert conflict_weights(ids, mask, adv, 2, negative_weight=0.5).tolist() == [[2, 2, 2, 1, 2], [0.5, 0.5, 0.5, 1, 0.5]]
    # max_run 2: only the first 2 and the last 2 tokens can be conflicts: t = 2 (token 9) is not any more
    assert conflict_weights(ids, mask, adv, 2, max_run=2).tolist() == [[2, 2, 1, 1, 2], [0, 0, 1, 1, 0]]
    with pytest.raises(ValueError, match="max_run must be a positive int"):
        conflict_weights(ids, mask, adv, 2, max_run=0)
    with pytest.raises(ValueError, match="negative_weight"):
        conflict_weights(ids, mask, adv, 2, negative_weight=-1.0)
