"""Supervised warm start on `arith` reference solutions with TRL's `SFTTrainer`.

GRPO-family methods need a policy that already produces the answer format: from a random model
every reward is 0 and every advantage is 0. The warm start trains on prompt/completion pairs in chat
form (prompt = the paper's system prompt + the problem, completion = the canonical solution
"<reasoning>\\n...\\n</reasoning>\\n<answer>\\nN\\n</answer>"), with the loss on the completion tokens
only (TRL's `completion_only_loss`, the default for prompt/completion data). Plain supervised
learning; nothing here departs from the paper, whose SFT baseline is the same idea at scale.

The result folder holds the model, the tokenizer and `warm_start.json` (the settings). Calling
`warm_start` again with the same settings and source model returns the folder without retraining.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gtpo._atomic import staged_folder
from gtpo.tasks.arith import ArithConfig, build_dataset

INFO_FILE = "warm_start.json"


@dataclass
class WarmStartConfig:
    """Settings of the supervised warm start."""

    steps: int = field(default=300, metadata={"help": "Optimizer steps of supervised fine-tuning."})
    batch_size: int = field(default=32, metadata={"help": "Sequences per optimizer step."})
    lr: float = field(default=3e-3, metadata={"help": "Peak learning rate (cosine decay, 5% warmup)."})
    seed: int = field(default=0, metadata={"help": "Seed of the data order and of the training stream."})
    n_train: int = field(default=5000, metadata={"help": "Distinct arith train problems to draw from."})

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "n_train"):
            if getattr(self, name) < 1:
                raise ValueError(f"WarmStartConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"WarmStartConfig.lr must be > 0, got {self.lr}")


def sft_dataset(n: int, seed: int = 0, task_config: ArithConfig | None = None):
    """`arith` train problems as TRL prompt/completion chat pairs."""
    ds = build_dataset("train", n=n, seed=seed, config=task_config)
    return ds.map(
        lambda row: {"completion": [{"role": "assistant", "content": row["solution"]}]},
        remove_columns=[c for c in ds.column_names if c != "prompt"],
    )


def _settings(model_dir: Path, config: WarmStartConfig, task_config: ArithConfig) -> dict:
    source = model_dir / "config.json"
    return {
        "source": str(model_dir.resolve()),
        "source_mtime_ns": source.stat().st_mtime_ns if source.exists() else None,
        "sft": asdict(config),
        "task": asdict(task_config),
    }


def make_trainer(
    model_dir: str | os.PathLike,
    trainer_dir: str | os.PathLike,
    config: WarmStartConfig,
    *,
    task_config: ArithConfig | None = None,
    callbacks: list | None = None,
    progress: bool = False,
):
    """The `SFTTrainer` of the warm start (CPU, float32, cosine schedule, no checkpoints, no reporting).

    `progress`: show transformers' progress bar (with ETA) and its log lines.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trl import SFTConfig, SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    args = SFTConfig(
        output_dir=str(trainer_dir),
        max_steps=config.steps,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.lr,
        lr_scheduler_type="cosine",
        warmup_steps=max(1, config.steps // 20),
        weight_decay=0.0,
        seed=config.seed,
        data_seed=config.seed,
        logging_steps=max(1, config.steps // 10),
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        bf16=False,
        dataloader_num_workers=0,
        disable_tqdm=not progress,
        max_length=None,
    )
    return SFTTrainer(
        model=model,
        args=args,
        train_dataset=sft_dataset(config.n_train, config.seed, task_config),
        processing_class=tokenizer,
        callbacks=callbacks,
    )


def warm_start(
    model_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    config: WarmStartConfig | None = None,
    *,
    task_config: ArithConfig | None = None,
    callbacks: list | None = None,
    progress: bool = False,
) -> Path:
    """Fine-tune the causal LM in `model_dir` on arith solutions; write it to `output_dir` and return it.

    `callbacks` are extra `transformers.TrainerCallback`s; `progress` shows a progress bar with ETA.
    The folder is written to a temporary sibling and renamed into place.
    """
    config = config or WarmStartConfig()
    task_config = task_config or ArithConfig()
    model_dir, output_dir = Path(model_dir), Path(output_dir)
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"warm_start: {model_dir} has no config.json; pass a saved model folder")
    settings = _settings(model_dir, config, task_config)
    info = output_dir / INFO_FILE
    if info.is_file() and json.loads(info.read_text()) == settings:
        return output_dir
    if output_dir.exists() and any(output_dir.iterdir()) and not info.is_file():
        raise FileExistsError(
            f"warm_start: {output_dir} is not empty and holds no warm start; pick another folder"
        )

    with staged_folder(output_dir) as staging:
        trainer = make_trainer(
            model_dir,
            staging / "trainer",
            config,
            task_config=task_config,
            callbacks=callbacks,
            progress=progress,
        )
        trainer.train()
        shutil.rmtree(staging / "trainer", ignore_errors=True)
        trainer.model.save_pretrained(staging)
        trainer.processing_class.save_pretrained(staging)
        (staging / INFO_FILE).write_text(json.dumps(settings, indent=2) + "\n")
    return output_dir
