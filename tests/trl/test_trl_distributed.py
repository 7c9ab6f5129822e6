"""Two CPU processes (torchrun, gloo) whose generation batch splits a group across them compute the
same conflict weights as one process holding the whole batch."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from trl_helpers import make_trainer

from gtpo.core import conflict_weights
from gtpo.tasks import load_task
from gtpo.trl.trainer import CONFLICTS_KEY, WEIGHTS_KEY

WORKER = Path(__file__).resolve().parent / "two_process_worker.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cat(parts: list[torch.Tensor], pad: float) -> torch.Tensor:
    width = max(p.size(1) for p in parts)
    return torch.cat([F.pad(p, (0, width - p.size(1)), value=pad) for p in parts])


@pytest.mark.slow
def test_two_processes_match_one_process(tiny_model_dir, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                "--master_addr", "127.0.0.1", "--master_port", str(_free_port())]  # fmt: skip
    done = subprocess.run([*torchrun, str(WORKER), str(tiny_model_dir), str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    ids = _cat([r["completion_ids"] for r in ranks], pad=0)
    mask = _cat([r["completion_mask"] for r in ranks], pad=0)
    weights = _cat([r[WEIGHTS_KEY] for r in ranks], pad=0.0)
    conflicts = _cat([r[CONFLICTS_KEY].long() for r in ranks], pad=0)
    advantages = torch.cat([r["advantages"] for r in ranks])
    # the middle group (rows 4..7) is split: rows 4, 5 on process 0 and rows 6, 7 on process 1
    assert ranks[0]["completion_ids"].size(0) == ranks[1]["completion_ids"].size(0) == 6
    assert torch.equal(ranks[0]["prompt_ids"][4], ranks[0]["prompt_ids"][5])

    # the same generation batch in one process
    single = make_trainer(tiny_model_dir, tmp_path / "single", per_device_train_batch_size=12)
    single.model.train()
    rows = list(load_task("arith", limit=3, seed=0))
    out = single._generate_and_score_completions([row for row in rows for _ in range(4)])
    width = out["completion_ids"].size(1)
    assert torch.equal(ids[:, :width], out["completion_ids"]) and torch.equal(mask[:, :width], out["completion_mask"])
    torch.testing.assert_close(advantages, out["advantages"])
    torch.testing.assert_close(weights[:, :width], out[WEIGHTS_KEY], rtol=0, atol=0)
    assert torch.equal(conflicts[:, :width].bool(), out[CONFLICTS_KEY])
    # and what gtpo.core gives on the whole batch; the split group has conflicts
    torch.testing.assert_close(weights, conflict_weights(ids, mask, advantages, 4), rtol=0, atol=0)
    assert (weights[4:8] == 0).any() and (weights[4:8] == 2).any()
