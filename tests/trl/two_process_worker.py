"""Run by `torchrun --nproc_per_node 2` (gloo, CPU) from test_trl_distributed.py.

Each process generates (scripted) and scores its slice of a 12-row generation batch: 3 prompts x G = 4,
6 rows per process, so the middle group is split across the two processes. It writes what
GTPOTrainer._generate_and_score_completions returned to OUT/rank{r}.pt.
usage: two_process_worker.py MODEL_DIR OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trl_helpers import make_trainer  # noqa: E402

from gtpo.tasks import load_task  # noqa: E402
from gtpo.trl.trainer import CONFLICTS_KEY, WEIGHTS_KEY  # noqa: E402

PER_PROCESS = 6


def main(model_dir: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    trainer = make_trainer(model_dir, Path(out_dir) / "run", per_device_train_batch_size=PER_PROCESS)
    trainer.model.train()
    rank, world = trainer.accelerator.process_index, trainer.accelerator.num_processes
    assert world == 2, f"expected 2 processes, got {world}"
    rows = list(load_task("arith", limit=3, seed=0))
    global_batch = [row for row in rows for _ in range(4)]  # RepeatSampler order: each prompt G times
    out = trainer._generate_and_score_completions(global_batch[rank * PER_PROCESS : (rank + 1) * PER_PROCESS])
    keep = ("prompt_ids", "completion_ids", "completion_mask", "advantages", WEIGHTS_KEY, CONFLICTS_KEY)
    torch.save({key: out[key].cpu() for key in keep}, Path(out_dir) / f"rank{rank}.pt")
    trainer.accelerator.wait_for_everyone()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
