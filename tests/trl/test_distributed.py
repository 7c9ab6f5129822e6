"""Two CPU processes (torchrun, gloo) training for real: batches of different widths on the two
ranks, steps_per_generation = 2, the sampler sharded by accelerate, one group split across the
ranks. Every number the trainer computed (conflict weights, each micro-batch's loss, <H>_ini, the
logged entropy and conflict shares) is re-derived here from what the ranks recorded, and the
weights match a single process holding the whole batch."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from gtpo.core import conflict_weights, gtpo_loss, mean_entropy
from gtpo.trl.trainer import CONFLICTS_KEY, WEIGHTS_KEY
from tests.trl.trl_helpers import ScriptedGeneration, make_trainer

WORKER = Path(__file__).resolve().parent / "two_process_worker.py"
sys.path.insert(0, str(WORKER.parent))
from two_process_worker import ROW_TEXTS  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cat(parts: list[torch.Tensor], pad: float) -> torch.Tensor:
    width = max(p.size(1) for p in parts)
    return torch.cat([F.pad(p, (0, width - p.size(1)), value=pad) for p in parts])


@pytest.fixture(scope="module")
def ranks(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("two_process")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                "--master_addr", "127.0.0.1", "--master_port", str(_free_port())]  # fmt: skip
    done = subprocess.run([*torchrun, str(WORKER), str(tiny_model_dir), str(out)], env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in (0, 1)]


@pytest.mark.slow
def test_sharded_generation_batch_gets_whole_group_weights(ranks, tiny_model_dir, tmp_path):
    gens = [r["generations"] for r in ranks]
    assert [len(g) for g in gens] == [1, 1]  # 2 steps, steps_per_generation = 2: one generation batch
    (g0,), (g1,) = gens
    assert g0["completion_ids"].size(1) > g1["completion_ids"].size(1)  # different widths per rank
    # accelerate gave rank r the r-th slice of TRL's sampler batch: each prompt's 4 rows are consecutive
    prompts = [ids[m.bool()].tolist() for g in (g0, g1)
               for ids, m in zip(g["prompt_ids"], g["prompt_mask"], strict=True)]  # fmt: skip
    assert all(prompts[4 * k + j] == prompts[4 * k] for k in range(3) for j in range(4))
    assert prompts[0] != prompts[4] != prompts[8]
    ids = _cat([g0["completion_ids"], g1["completion_ids"]], pad=0)
    mask = _cat([g0["completion_mask"], g1["completion_mask"]], pad=0)
    advantages = torch.cat([g0["advantages"], g1["advantages"]])
    assert (advantages > 0).tolist() == ["<answer>\n2\n</answer>" in t for t in ROW_TEXTS]
    expected = conflict_weights(ids, mask, advantages, 4)  # the whole gathered batch
    for r, g in enumerate((g0, g1)):
        width = g["completion_ids"].size(1)
        torch.testing.assert_close(g[WEIGHTS_KEY], expected[6 * r : 6 * r + 6, :width], rtol=0, atol=0)
    assert (expected[4:8] == 0).any() and (expected[4:8] == 2).any()  # the split group has conflicts
    # one process holding all 12 rows computes the same weights
    single = make_trainer(tiny_model_dir, tmp_path / "single", per_device_train_batch_size=12)
    single._generate = ScriptedGeneration(single, ROW_TEXTS)
    single.model.train()
    from gtpo.tasks import load_task

    rows = list(load_task("arith", limit=3, seed=0))
    out = single._generate_and_score_completions([row for row in rows for _ in range(4)])
    width = out["completion_ids"].size(1)
    assert width == ids.size(1)
    torch.testing.assert_close(out[WEIGHTS_KEY], expected, rtol=0, atol=0)


@pytest.mark.slow
def test_losses_initial_entropy_and_logged_metrics_reduce_over_both_ranks(ranks):
    micro = [r["micro_batches"] for r in ranks]
    assert [len(m) for m in micro] == [2, 2]  # 2 optimizer steps, one micro-batch each per rank
    # <H>_ini: mean of <H>_i over the first micro-batch of BOTH ranks, the same value on each rank
    firsts = [m[0] for m in micro]
    per_completion = torch.cat([mean_entropy(b["entropy"], b["completion_mask"]) for b in firsts])  # (6,)
    assert ranks[0]["initial_entropy"] == ranks[1]["initial_entropy"]
    assert ranks[0]["initial_entropy"] == pytest.approx(per_completion.mean().item(), rel=1e-5)
    # each micro-batch's loss is gtpo_loss on its rows (the second uses pi_old from before step 1)
    for batches in micro:
        assert "old_per_token_logps" in batches[1]
        for b in batches:
            expected, _ = gtpo_loss(
                b["logps"], b["advantages"], b["completion_mask"], b[WEIGHTS_KEY], b["entropy"],
                old_logps=b.get("old_per_token_logps"), initial_entropy=ranks[0]["initial_entropy"],
                conflict_mask=b[CONFLICTS_KEY],
            )  # fmt: skip
            torch.testing.assert_close(b["loss"], expected, rtol=1e-5, atol=1e-6)
    # the one logged row (logging_steps = 2): TRL's entropy statistic per micro-batch over both ranks,
    # averaged over the window; conflict shares = summed counts over both ranks and both micro-batches
    (logged,) = [row for row in ranks[0]["log_history"] if "entropy" in row]
    entropies, counts = [], {"pos": [0, 0], "neg": [0, 0]}
    for step in range(2):
        batches = [micro[r][step] for r in (0, 1)]
        total = sum((b["entropy"] * b["completion_mask"]).sum() for b in batches)
        tokens = sum(b["completion_mask"].sum() for b in batches)
        entropies.append((total / tokens).item())
        for b in batches:
            valid = b["completion_mask"].bool()
            for sign, rows in (("pos", b["advantages"] > 0), ("neg", b["advantages"] < 0)):
                in_rows = valid & rows[:, None]
                counts[sign][0] += (b[CONFLICTS_KEY] & in_rows).sum().item()
                counts[sign][1] += in_rows.sum().item()
    assert logged["entropy"] == pytest.approx(sum(entropies) / 2, rel=1e-5)
    for sign, (conflicts, tokens) in counts.items():
        assert tokens > 0
        assert logged[f"gtpo/conflict_frac_{sign}"] == pytest.approx(conflicts / tokens, rel=1e-6)
    # rank 1 logged the same reduced values
    (other,) = [row for row in ranks[1]["log_history"] if "entropy" in row]
    for key in ("entropy", "gtpo/conflict_frac_pos", "gtpo/conflict_frac_neg"):
        assert other[key] == logged[key]


@pytest.mark.slow
def test_a_reward_broken_on_one_process_stops_every_process(tiny_model_dir, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                "--master_addr", "127.0.0.1", "--master_port", str(_free_port())]  # fmt: skip
    done = subprocess.run([*torchrun, str(WORKER), str(tiny_model_dir), str(tmp_path), "broken-on-rank-1"], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode != 0
    # both processes raise (rank 1 its own error, rank 0 the collective's), none waits for a timeout
    assert "only fails on process 1" in done.stderr
    assert "failed on all completions of its first batch on another process" in done.stderr
