"""Run by `torchrun --nproc_per_node 2` (gloo, CPU) from test_distributed.py.

A real `trainer.train()` of 2 optimizer steps on 2 processes: accelerate shards TRL's sampler itself
(nothing is sliced by hand), one generation batch of 3 prompts x G = 4 = 12 rows serves
steps_per_generation = 2 micro-batches of 3 rows per process, and the middle group is split across
the processes. Generation is scripted by global row (`ROW_TEXTS`): process 1's completions are
shorter, so the two processes hold batches of different widths and the gathered batch is padded
across processes. Everything the test re-derives is written to OUT/rank{r}.pt: each generation
output, each micro-batch's inputs, log-probs, entropies and loss, <H>_ini, and the log history.
usage: two_process_worker.py MODEL_DIR OUT_DIR [broken-on-rank-1]
With `broken-on-rank-1` the reward function fails on every completion on process 1 only: both processes
must stop with RewardFunctionError (none left waiting in a collective).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: tests.trl.trl_helpers
from gtpo.trl.trainer import CONFLICTS_KEY, WEIGHTS_KEY  # noqa: E402
from tests.trl.trl_helpers import TEXTS, ScriptedGeneration, make_trainer  # noqa: E402

PER_PROCESS = 3  # rows per micro-batch; 6 rows per process per generation
LONG = "<reasoning>\n1 + 1 = 2 as one and one make two\n</reasoning>\n<answer>\n2\n</answer>"
# global row -> completion (answer 2 scores 1, anything else 0); rows 0-5 on process 0, 6-11 on process 1
ROW_TEXTS = (
    TEXTS[0], TEXTS[1], LONG, TEXTS[3],  # group 0: rewards 1 0 1 0
    LONG, TEXTS[1],  # group 1, process 0: 1 0
    TEXTS[2], TEXTS[3],  # group 1, process 1: 1 0
    TEXTS[2], TEXTS[3], "<answer>\n2\n</answer>", "<reasoning>\n3\n</reasoning>\n<answer>\n3\n</answer>",  # group 2
)  # fmt: skip
KEYS = ("prompt_ids", "prompt_mask", "completion_ids", "completion_mask", "advantages", "old_per_token_logps",
        WEIGHTS_KEY, CONFLICTS_KEY)  # fmt: skip


def main(model_dir: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    trainer = make_trainer(
        model_dir, Path(out_dir) / "run", per_device_train_batch_size=PER_PROCESS, steps_per_generation=2,
        gradient_accumulation_steps=1, max_steps=2, logging_steps=2, learning_rate=1e-2,
    )  # fmt: skip
    trainer._generate = ScriptedGeneration(trainer, ROW_TEXTS)
    rank, world = trainer.accelerator.process_index, trainer.accelerator.num_processes
    assert world == 2, f"expected 2 processes, got {world}"
    generations, micro_batches = [], []
    generate, compute_loss = trainer._generate_and_score_completions, trainer._compute_loss
    forward = trainer._get_per_token_logps_and_entropies

    def record_generation(inputs):
        out = generate(inputs)
        generations.append({key: out[key].detach().cpu() for key in KEYS if key in out})
        return out

    def record_loss(model, inputs):
        seen = {}

        def capture(*args, **kwargs):
            logps, entropy, aux = forward(*args, **kwargs)
            seen.update(logps=logps.detach().cpu(), entropy=entropy.detach().cpu())
            return logps, entropy, aux

        trainer._get_per_token_logps_and_entropies = capture
        try:
            loss = compute_loss(model, inputs)
        finally:
            trainer._get_per_token_logps_and_entropies = forward
        record = {key: inputs[key].detach().cpu() for key in KEYS if key in inputs}
        micro_batches.append({**record, **seen, "loss": loss.detach().cpu()})
        return loss

    trainer._generate_and_score_completions = record_generation
    trainer._compute_loss = record_loss
    trainer.train()
    torch.save({"generations": generations, "micro_batches": micro_batches,
                "initial_entropy": trainer.gtpo_state.initial_entropy,
                "log_history": trainer.state.log_history}, Path(out_dir) / f"rank{rank}.pt")  # fmt: skip
    trainer.accelerator.wait_for_everyone()


def broken_on_rank_1(model_dir: str, out_dir: str) -> None:
    import os

    def reward(completions, **_):
        if int(os.environ["RANK"]) == 1:
            raise ValueError("this reward only fails on process 1")
        return [1.0] * len(completions)

    torch.set_num_threads(1)
    trainer = make_trainer(model_dir, Path(out_dir) / "broken", reward=reward, per_device_train_batch_size=PER_PROCESS,
                           steps_per_generation=2, max_steps=2)  # fmt: skip
    trainer._generate = ScriptedGeneration(trainer, ROW_TEXTS)
    trainer.train()


if __name__ == "__main__":
    if sys.argv[3:] == ["broken-on-rank-1"]:
        broken_on_rank_1(sys.argv[1], sys.argv[2])
    else:
        main(sys.argv[1], sys.argv[2])
