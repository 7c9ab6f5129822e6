"""Supervised fine-tuning on reference solutions with TRL's `SFTTrainer`: `gtpo sft` and the warm start.

The paper's SFT baseline (Table 1) and the warm start of every RL run are the same thing: train on
prompt/completion pairs in chat form, prompt = the paper's system prompt + the problem, completion =
the task's reference solution in the answer format (`solution` column of `gtpo.tasks.load_task`:
"<reasoning>\\n...\\n</reasoning>\\n<answer>\\nN\\n</answer>"; GSM8K's worked steps without the
`<<...>>` calculator notes, MATH's solution text, arith's equations), loss on the completion tokens
only (TRL's `completion_only_loss`, the default for prompt/completion data). Plain supervised
learning; nothing here departs from the paper.

- `gtpo sft RECIPE.yaml [--field value ...]`: the same YAML + override convention as `gtpo train`,
  over `SFTArguments` (the task selection shared with `gtpo train`, plus `merge_lora`), TRL's
  `SFTConfig` and TRL's `ModelConfig` (full or LoRA). Checkpoints are atomic (`AtomicCheckpoints`),
  `--resume` continues from the last complete one, metrics.jsonl gets one row per logging step, and
  the run folder ends with run_config.yaml and the final model + tokenizer (with LoRA and
  `merge_lora`, the merged model, ready for `gtpo train` and `gtpo eval`; the adapter in adapter/).
- `warm_start(model_dir, output_dir, WarmStartConfig)`: the cached arith warm start of `gtpo demo`
  and `gtpo model tiny`: the same trainer with fixed CPU settings, skipped when `output_dir` already
  holds the same settings (`warm_start.json`).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gtpo._atomic import staged_folder
from gtpo.tasks.arith import ArithConfig, build_dataset
from gtpo.trl.cli import (
    RecipeError,
    _Parser,
    build,
    check_model_path,
    parse_or_help,
    parse_recipe,
    resume_checkpoint,
    write_run_config,
)
from gtpo.trl.config import TaskSelection
from gtpo.trl.safety import AtomicCheckpoints
from trl import ModelConfig, SFTConfig, SFTTrainer

INFO_FILE = "warm_start.json"
PROG = "gtpo sft"


@dataclass
class SFTArguments(TaskSelection):
    """The task and run section of a `gtpo sft` recipe."""

    merge_lora: bool = field(
        default=True,
        metadata={"help": "With use_peft: save the base model with the LoRA adapter merged in as the run's final "
                  "model (a plain folder for gtpo train / gtpo eval), the adapter alone in OUTPUT/adapter/."},
    )


class GuardedSFTTrainer(AtomicCheckpoints, SFTTrainer):
    """TRL's SFTTrainer, unchanged, with atomic checkpoints (hooks `_get_output_dir`, `_save_checkpoint`)."""


def sft_pairs(dataset):
    """A task dataset with a `solution` column -> TRL prompt/completion chat pairs."""
    if "solution" not in dataset.column_names:
        raise RecipeError(
            f"task: the dataset has no reference solutions (columns {dataset.column_names}); gtpo sft trains on "
            "gsm8k, math or arith, or a JSONL file in their native fields"
        )
    missing = sum(solution is None for solution in dataset["solution"])
    if missing == len(dataset):
        raise RecipeError("task: no row has a reference solution with worked steps; gtpo sft needs them")
    if missing:
        warnings.warn(f"gtpo sft: {missing} of {len(dataset)} rows have no worked solution and are skipped", stacklevel=2)
        dataset = dataset.filter(lambda row: row["solution"] is not None)
    return dataset.map(
        lambda row: {"completion": [{"role": "assistant", "content": row["solution"]}]},
        remove_columns=[c for c in dataset.column_names if c != "prompt"],
    )


def build_parser() -> _Parser:
    return _Parser((SFTArguments, SFTConfig, ModelConfig), prog=PROG, allow_abbrev=False)


def parse_args(argv: list[str]) -> tuple[SFTArguments, SFTConfig, ModelConfig]:
    values, _ = parse_recipe(argv, build_parser())
    return build(SFTArguments, values), build(SFTConfig, values), build(ModelConfig, values)


def run(task: SFTArguments, training: SFTConfig, model: ModelConfig) -> Path:
    """Load the task, fine-tune, save the final model (merged when LoRA and merge_lora). Returns output_dir."""
    from transformers import AutoTokenizer

    from gtpo.trl.callbacks import SFT_NAMES, RunLogger
    from gtpo.trl.checkpointing import check_output_dir, estimate_checkpoint_bytes
    from trl import get_peft_config, get_quantization_config

    check_model_path(model)
    output_dir = Path(training.output_dir)
    check_output_dir(output_dir, need_bytes=estimate_checkpoint_bytes(model.model_name_or_path, use_peft=model.use_peft))
    resume = resume_checkpoint(task, training, output_dir, prog=PROG)
    dataset = sft_pairs(task.load())
    init_kwargs = {"revision": model.model_revision, "dtype": model.dtype}
    if model.attn_implementation is not None:
        init_kwargs["attn_implementation"] = model.attn_implementation
    quantization = get_quantization_config(model)
    if quantization is not None:
        init_kwargs["quantization_config"] = quantization
    training.model_init_kwargs = {**init_kwargs, **(training.model_init_kwargs or {})}
    tokenizer = AutoTokenizer.from_pretrained(
        model.model_name_or_path, revision=model.model_revision, trust_remote_code=training.trust_remote_code
    )
    trainer = GuardedSFTTrainer(
        model=model.model_name_or_path,
        args=training,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[RunLogger(output_dir, names=SFT_NAMES, trigger="loss")],
        peft_config=get_peft_config(model),
    )
    if trainer.accelerator.is_main_process:
        write_run_config(output_dir / "run_config.yaml", task, training, model)
    trainer.train(resume_from_checkpoint=resume)
    if model.use_peft and task.merge_lora:
        trainer.save_model(str(output_dir / "adapter"))
        if trainer.accelerator.is_main_process:
            merged = trainer.accelerator.unwrap_model(trainer.model).merge_and_unload()
            merged.save_pretrained(str(output_dir))
            tokenizer.save_pretrained(str(output_dir))
    else:
        trainer.save_model(str(output_dir))
    return output_dir


def main(argv: list[str] | None = None) -> int:
    args, status = parse_or_help(list(sys.argv[1:] if argv is None else argv), build_parser(), parse_args)
    if args is None:
        return status
    from gtpo.tasks import TaskSourceError
    from gtpo.trl.checkpointing import OutputDirError

    try:
        out = run(*args)
    except (RecipeError, OutputDirError, TaskSourceError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"{PROG}: done; run folder {out}")
    return 0


# ---- the cached arith warm start (gtpo demo, gtpo model tiny) ------------------------------------------
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
    return sft_pairs(build_dataset("train", n=n, seed=seed, config=task_config))


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
