"""`gtpo train RECIPE.yaml [--field value ...]`: GTPO or the GRPO baselines from a YAML recipe.

One parser over the recipe's sections, in TRL's flat convention (`gtpo.run.recipe`): the engine-neutral
`TaskArguments`, `RewardArguments`, `GuardArguments`, `RunArguments` and `AlgorithmArguments`
(`gtpo.run.arguments`), then `GTPOConfig` (TRL's GRPOConfig + the GTPO fields) and TRL's
`ModelConfig` (model path or hub id, dtype, LoRA, 4/8-bit). The command line overrides the recipe.

Before anything heavy loads, the model argument, `report_to` and the run folder are checked: a folder
holding a run needs `--resume` or `--overwrite`, and a resume may not change the fields in
`FIXED_ON_RESUME` (`gtpo.run.folder`); the folder must be writable, with room for a checkpoint
(`gtpo.run.checkpoints.check_output_dir`); the dataset must fill one generation batch. `--resume`
(bare, or `--resume PATH`) continues from the last complete checkpoint; checkpoints are written atomically.
`--help` lists the recipe's sections, GTPO's fields and the model's; `--help-all` adds the inherited
training fields (`help_groups`).

`--algo gtpo` trains `GTPOTrainer`; `--algo grpo` trains TRL's `GRPOTrainer` unchanged (beta = 0, or
beta > 0 with a frozen reference model) with the same recipe, rewards and logging, so runs compare
like for like. The run folder (`output_dir`) receives run_config.yaml, metrics.jsonl,
conflict_samples.jsonl (GTPO), checkpoint-*/ and the final model and tokenizer.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

from gtpo.run.arguments import (
    AlgorithmArguments,
    GuardArguments,
    RewardArguments,
    RunArguments,
    TaskArguments,
)
from gtpo.run.options import Group
from gtpo.run.recipe import (
    RecipeError,
    RecipeParser,
    RunInterrupted,
    build,
    check_model,
    check_report_to,
    parse_recipe,
    resume_checkpoint,  # noqa: F401 - part of this module's surface (tests)
    run_command,
    run_config,
    write_run_config,
)
from gtpo.trl.config import GTPOConfig
from trl import GRPOConfig, ModelConfig

PROG = "gtpo train"
SECTIONS = {"task": TaskArguments, "rewards": RewardArguments, "guards": GuardArguments, "run": RunArguments,
            "algorithm": AlgorithmArguments}  # fmt: skip
GTPO_ONLY_FIELDS = {f.name for f in dataclasses.fields(GTPOConfig)} - {f.name for f in dataclasses.fields(GRPOConfig)}
# what a resumed run cannot change besides gtpo.run.folder's fixed fields: the rewards, the groups, the sampling
# and the objective (the collapse monitor's thresholds only warn and may change)
FIXED_ON_RESUME = tuple(sorted(
    {"reward_weights", "num_generations", "steps_per_generation", "generation_batch_size", "num_iterations",
     "max_completion_length", "temperature", "top_p", "top_k", "min_p", "repetition_penalty", "beta", "loss_type",
     "epsilon", "epsilon_high", "delta", "importance_sampling_level", "scale_rewards", "mask_truncated_completions",
     "top_entropy_quantile", "multi_objective_aggregation", "shuffle_dataset"}
    | GTPO_ONLY_FIELDS - {"collapse_conflict_share", "collapse_entropy_fraction"}
))  # fmt: skip


@dataclasses.dataclass
class TrainArgs:
    """A parsed `gtpo train` command: the engine-neutral sections, the training config (GTPOConfig for
    gtpo, GRPOConfig for grpo), the model config, and the fields the recipe or command line set."""

    task: TaskArguments
    rewards: RewardArguments
    guards: GuardArguments
    run: RunArguments
    algorithm: AlgorithmArguments
    training: GRPOConfig
    model: ModelConfig
    explicit: dict[str, Any]

    @property
    def sections(self) -> dict[str, Any]:
        """The engine-neutral sections by name (as run_config.yaml records them)."""
        return {name: getattr(self, name) for name in SECTIONS}


def build_parser() -> RecipeParser:
    return RecipeParser((*SECTIONS.values(), GTPOConfig, ModelConfig), prog=PROG, allow_abbrev=False)


def help_groups() -> list[Group]:
    """`gtpo train --help`: the recipe's sections, GTPO's own fields and the model; `--help-all` adds the
    fields GTPOConfig inherits from TRL's GRPOConfig and transformers' TrainingArguments."""
    def names(cls: type) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls) if f.init)

    gtpo_own = tuple(name for name in names(GTPOConfig) if name in GTPO_ONLY_FIELDS)
    inherited = tuple(name for name in names(GTPOConfig) if name not in GTPO_ONLY_FIELDS)
    return [
        *(Group(f"{name} ({cls.__name__})", names(cls)) for name, cls in SECTIONS.items()),
        Group("GTPO (GTPOConfig's own fields; docs/algorithm.md)", gtpo_own),
        Group("model (TRL's ModelConfig)", names(ModelConfig)),
        Group("training (inherited from TRL's GRPOConfig and transformers' TrainingArguments)", inherited,
              extended=True),  # fmt: skip
    ]


def parse_args(argv: list[str]) -> TrainArgs:
    values, explicit = parse_recipe(argv, build_parser())
    if str(values.get("scale_rewards")).lower() in ("true", "false"):  # YAML booleans, TRL's own spelling
        values["scale_rewards"] = "group" if str(values["scale_rewards"]).lower() == "true" else "none"
    sections = {name: build(cls, values) for name, cls in SECTIONS.items()}
    model = build(ModelConfig, values)
    if sections["algorithm"].algo == "gtpo":
        training = build(GTPOConfig, values)
    else:
        set_gtpo = sorted(GTPO_ONLY_FIELDS & set(explicit))
        if set_gtpo:
            print(f"{PROG}: --algo grpo ignores the GTPO fields {set_gtpo}", file=sys.stderr)
        names = [f.name for f in dataclasses.fields(GRPOConfig) if f.init]
        if values.get("scale_rewards") is None:  # unset: GTPO takes it from gtpo_variant, GRPO keeps TRL's default
            names.remove("scale_rewards")
        training = build(GRPOConfig, values, names)  # loss_type keeps GTPOConfig's default 'grpo' unless set
    return TrainArgs(**sections, training=training, model=model, explicit=explicit)


def run_inputs(args: TrainArgs) -> tuple[list, Any]:
    """(the TRL reward functions, the training dataset), checked: a reward or task that cannot be loaded, a
    dataset smaller than one generation batch, or reward_weights of another length is a `RecipeError`."""
    from gtpo.trl.rewards import reward_funcs

    training = args.training
    try:
        funcs = reward_funcs(args.rewards.rewards, args.rewards.answer_tolerance)
    except ValueError as err:
        raise RecipeError(str(err)) from err
    try:
        dataset = args.task.load()
    except ValueError as err:  # a bad task name or option (bad data is a TaskSourceError)
        raise RecipeError(str(err)) from err
    prompts = training.generation_batch_size // training.num_generations  # TRL's sampler drops a partial batch
    if len(dataset) < prompts:
        raise RecipeError(
            f"task: {len(dataset)} problems, fewer than one generation batch takes ({prompts} prompts = "
            f"generation_batch_size {training.generation_batch_size} / num_generations {training.num_generations}): "
            "no step would train. Use more problems (task_limit, task_source) or a smaller per_device_train_batch_size"
        )
    if training.reward_weights is not None and len(training.reward_weights) != len(args.rewards.rewards):
        raise RecipeError(
            f"reward_weights={training.reward_weights}: one weight per reward in rewards={args.rewards.rewards}"
        )
    return funcs, dataset


def train(args: TrainArgs) -> Path:
    """Build the dataset, rewards, trainer and callbacks; train; save the final model. Returns output_dir."""
    from transformers import AutoTokenizer

    from gtpo.run.checkpoints import check_output_dir, estimate_checkpoint_bytes
    from gtpo.run.folder import new_folder_removed_on_failure, open_run_folder, record_end
    from gtpo.run.logger import RunLogger
    from gtpo.trl.guarded import GuardedGRPOTrainer
    from gtpo.trl.trainer import GTPOTrainer
    from trl import get_peft_config, get_quantization_config

    training, model = args.training, args.model
    check_model(model.model_name_or_path)
    check_report_to(training.report_to)
    unused = sorted({"reward_timeout", "max_failed_reward_steps"} & set(args.explicit))
    if not args.guards.reward_guard and unused:
        print(f"{PROG}: reward_guard is off: {', '.join(unused)} do not apply", file=sys.stderr)
    output_dir = Path(training.output_dir)
    inputs = run_inputs(args) if args.run.overwrite else None  # known good before --overwrite deletes the old run
    start = open_run_folder(
        output_dir, resume=args.run.resume, overwrite=args.run.overwrite, training=training, fixed=FIXED_ON_RESUME,
        config=run_config({**args.sections, "model": model}, training, algo=args.algorithm.algo), prog=PROG,
    )  # fmt: skip
    with new_folder_removed_on_failure(output_dir):  # a refusal below leaves no new empty folder
        check_output_dir(output_dir, need_bytes=estimate_checkpoint_bytes(model.model_name_or_path, use_peft=model.use_peft))
        funcs, dataset = inputs or run_inputs(args)
        init_kwargs = {"revision": model.model_revision, "dtype": model.dtype}
        if model.attn_implementation is not None:
            init_kwargs["attn_implementation"] = model.attn_implementation
        training.model_init_kwargs = {**init_kwargs, **(training.model_init_kwargs or {})}
        try:
            tokenizer = AutoTokenizer.from_pretrained(
                model.model_name_or_path, revision=model.model_revision, padding_side="left", truncation_side="left",
                trust_remote_code=training.trust_remote_code,
            )  # fmt: skip
        except OSError as err:  # a hub id that cannot be reached or does not exist
            raise RecipeError(f"model_name_or_path={model.model_name_or_path!r}: cannot be loaded "
                              f"({str(err).splitlines()[0]}); check the hub id and the network, or give a "
                              "local model folder") from None
        logger = RunLogger(output_dir, tokenizer=tokenizer)
        trainer_cls = GTPOTrainer if args.algorithm.algo == "gtpo" else GuardedGRPOTrainer
        trainer = trainer_cls(
            model=model.model_name_or_path,
            reward_funcs=funcs,
            max_nonfinite_steps=args.guards.max_nonfinite_steps,
            reward_timeout=args.guards.reward_timeout,
            max_failed_reward_steps=args.guards.max_failed_reward_steps,
            reward_guard=args.guards.reward_guard,
            args=training,
            train_dataset=dataset,
            processing_class=tokenizer,
            callbacks=[logger],
            peft_config=get_peft_config(model),
            quantization_config=get_quantization_config(model),
        )
        if isinstance(trainer, GTPOTrainer) and args.algorithm.conflict_samples:
            logger.sample_source = lambda: trainer.latest_conflict_sample
        if trainer.accelerator.is_main_process:
            write_run_config(output_dir / "run_config.yaml", {**args.sections, "model": model}, training,
                             algo=args.algorithm.algo, resumes=start.resumes)  # fmt: skip
    try:
        trainer.train(resume_from_checkpoint=start.checkpoint)
    except KeyboardInterrupt:
        raise RunInterrupted(trainer.state.global_step, output_dir) from None
    trainer.save_model(str(output_dir))
    if trainer.accelerator.is_main_process:
        record_end(output_dir, trainer.state)
    return output_dir


def main(argv: list[str] | None = None) -> int:
    return run_command(argv, build_parser(), parse_args, train, help_groups())


if __name__ == "__main__":
    raise SystemExit(main())
