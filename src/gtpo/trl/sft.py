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
  the run folder is checked as for `gtpo train` (`gtpo.run.folder`: `--resume` continues from the last
  complete checkpoint, `--overwrite` starts again), metrics.jsonl gets one row per logging step, and
  the run folder ends with run_config.yaml and the final model + tokenizer (with LoRA and
  `merge_lora`, the merged model, ready for `gtpo train` and `gtpo eval`; the adapter in adapter/).
- `cpu_sft_trainer(...)`: the same trainer with fixed CPU settings (float32, cosine schedule, no
  checkpoints), which the demo's cached warm start (`gtpo.demo.warm_start`) trains with.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from gtpo.run import recipe
from gtpo.run.arguments import RunArguments, TaskArguments
from gtpo.run.options import Group
from gtpo.run.recipe import RecipeError
from gtpo.trl.guarded import AtomicCheckpoints
from trl import ModelConfig, SFTConfig, SFTTrainer

PROG = "gtpo sft"


@dataclass
class SFTArguments:
    """`gtpo sft` only: what the run saves at the end."""

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
            "gsm8k, math or arith (or a file in their native fields), or on your own data with --task custom and a "
            "text column named solution (the completion to learn)"
        )
    solutions = dataset["solution"]
    bad = next((at for at, solution in enumerate(solutions) if solution is not None and not isinstance(solution, str)), None)
    if bad is not None:
        raise RecipeError(f"task: solution of row {bad + 1} is {type(solutions[bad]).__name__} {solutions[bad]!r}, not "
                          "text; the solution column holds the completion to learn, as text")  # fmt: skip
    missing = sum(solution is None for solution in solutions)
    if missing == len(dataset):
        raise RecipeError("task: no row has a reference solution with worked steps; gtpo sft needs them")
    if missing:
        warnings.warn(f"gtpo sft: {missing} of {len(dataset)} rows have no worked solution and are skipped", stacklevel=2)
        dataset = dataset.select([at for at, solution in enumerate(solutions) if solution is not None])
    completions = [[{"role": "assistant", "content": solution}] for solution in dataset["solution"]]
    return dataset.select_columns(["prompt"]).add_column("completion", completions)  # no map: no progress bar


SECTIONS = {"task": TaskArguments, "run": RunArguments, "sft": SFTArguments}
FIXED_ON_RESUME = ("max_length", "packing", "completion_only_loss", "assistant_only_loss")  # besides gtpo.run.folder's


def build_parser() -> recipe.RecipeParser:
    return recipe.RecipeParser((*SECTIONS.values(), SFTConfig, ModelConfig), prog=PROG, allow_abbrev=False)


def help_groups() -> list[Group]:
    """`gtpo sft --help`: the recipe's sections, SFTConfig's own fields and the model; `--help-all` adds the
    fields SFTConfig inherits from transformers' TrainingArguments."""
    from transformers import TrainingArguments

    def names(cls: type) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls) if f.init)

    inherited = set(names(TrainingArguments))
    return [
        *(Group(f"{name} ({cls.__name__})", names(cls)) for name, cls in SECTIONS.items()),
        Group("SFT (TRL's SFTConfig's own fields)", tuple(n for n in names(SFTConfig) if n not in inherited)),
        Group("model (TRL's ModelConfig)", names(ModelConfig)),
        Group("training (inherited from transformers' TrainingArguments)",
              tuple(n for n in names(SFTConfig) if n in inherited), extended=True),  # fmt: skip
    ]


def parse_args(argv: list[str]) -> tuple[dict, SFTConfig, ModelConfig]:
    """(the sections by name: task, run, sft; the SFT config; the model config)."""
    values, _ = recipe.parse_recipe(argv, build_parser())
    sections = {name: recipe.build(cls, values) for name, cls in SECTIONS.items()}
    return sections, recipe.build(SFTConfig, values), recipe.build(ModelConfig, values)


def run(sections: dict, training: SFTConfig, model: ModelConfig) -> Path:
    """Load the task, fine-tune, save the final model (merged when LoRA and merge_lora). Returns output_dir."""
    from transformers import AutoTokenizer

    from gtpo.run.checkpoints import check_output_dir, estimate_checkpoint_bytes
    from gtpo.run.folder import new_folder_removed_on_failure, open_run_folder, record_end
    from gtpo.run.logger import SFT_NAMES, RunLogger
    from trl import get_peft_config, get_quantization_config

    task, sft = sections["task"], sections["sft"]
    recipe.check_model(model.model_name_or_path)
    recipe.check_report_to(training.report_to)
    output_dir = Path(training.output_dir)
    dataset = sft_pairs(task.load()) if sections["run"].overwrite else None  # known good before --overwrite deletes
    start = open_run_folder(
        output_dir, resume=sections["run"].resume, overwrite=sections["run"].overwrite, training=training,
        config=recipe.run_config({**sections, "model": model}, training, algo="sft"), fixed=FIXED_ON_RESUME, prog=PROG,
    )  # fmt: skip
    with new_folder_removed_on_failure(output_dir):  # a refusal below leaves no new empty folder
        check_output_dir(output_dir, need_bytes=estimate_checkpoint_bytes(model.model_name_or_path, use_peft=model.use_peft))
        if dataset is None:
            dataset = sft_pairs(task.load())
        init_kwargs = {"revision": model.model_revision, "dtype": model.dtype}
        if model.attn_implementation is not None:
            init_kwargs["attn_implementation"] = model.attn_implementation
        quantization = get_quantization_config(model)
        if quantization is not None:
            init_kwargs["quantization_config"] = quantization
        training.model_init_kwargs = {**init_kwargs, **(training.model_init_kwargs or {})}
        try:
            tokenizer = AutoTokenizer.from_pretrained(
                model.model_name_or_path, revision=model.model_revision, trust_remote_code=training.trust_remote_code
            )
        except OSError as err:  # a hub id that cannot be reached or does not exist
            raise recipe.RecipeError(f"model_name_or_path={model.model_name_or_path!r}: cannot be loaded "
                                     f"({str(err).splitlines()[0]}); check the hub id and the network, or give a "
                                     "local model folder") from None
        trainer = GuardedSFTTrainer(
            model=model.model_name_or_path,
            args=training,
            train_dataset=dataset,
            processing_class=tokenizer,
            callbacks=[RunLogger(output_dir, names=SFT_NAMES, trigger="loss")],
            peft_config=get_peft_config(model),
        )
        if trainer.accelerator.is_main_process:
            recipe.write_run_config(output_dir / "run_config.yaml", {**sections, "model": model}, training, algo="sft",
                                    resumes=start.resumes)  # fmt: skip
    try:
        trainer.train(resume_from_checkpoint=start.checkpoint)
    except KeyboardInterrupt:
        raise recipe.RunInterrupted(trainer.state.global_step, output_dir) from None
    if model.use_peft and sft.merge_lora:
        trainer.save_model(str(output_dir / "adapter"))
        if trainer.accelerator.is_main_process:
            merged = trainer.accelerator.unwrap_model(trainer.model).merge_and_unload()
            merged.save_pretrained(str(output_dir))
            tokenizer.save_pretrained(str(output_dir))
    else:
        trainer.save_model(str(output_dir))
    if trainer.accelerator.is_main_process:
        record_end(output_dir, trainer.state)
    return output_dir


def main(argv: list[str] | None = None) -> int:
    return recipe.run_command(argv, build_parser(), parse_args, lambda parsed: run(*parsed), help_groups())


def cpu_sft_trainer(
    model_dir: str | os.PathLike,
    trainer_dir: str | os.PathLike,
    dataset,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    callbacks: list | None = None,
    progress: bool = False,
) -> SFTTrainer:
    """An `SFTTrainer` on prompt/completion pairs with fixed CPU settings: float32, cosine schedule with 5%
    warmup, no weight decay, no checkpoints, no reporting. `progress`: transformers' progress bar (with ETA)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    args = SFTConfig(
        output_dir=str(trainer_dir),
        max_steps=steps,
        per_device_train_batch_size=batch_size,
        learning_rate=lr,
        lr_scheduler_type="cosine",
        warmup_steps=max(1, steps // 20),
        weight_decay=0.0,
        seed=seed,
        data_seed=seed,
        logging_steps=max(1, steps // 10),
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        bf16=False,
        dataloader_num_workers=0,
        disable_tqdm=not progress,
        max_length=None,
        activation_checkpointing=True,  # TRL's default, under transformers' current name (no deprecation warning)
    )
    return SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=callbacks,
    )
