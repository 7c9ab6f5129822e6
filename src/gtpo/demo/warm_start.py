"""The demo's supervised warm start: the tiny model fine-tuned on a generated task's reference solutions, cached.

`warm_start(model_dir, output_dir, WarmStartConfig)` fine-tunes a causal LM on `arith` (or, with
`task="explain"`, `explain`) train problems in the paper's answer format (prompt/completion chat pairs, loss on the completion only:
`gtpo.trl.sft.cpu_sft_trainer`), so that the policy already writes the format and GTPO/GRPO get
non-zero rewards. The folder records its settings (`warm_start.json`: source model, SFT settings,
task settings) and is reused when asked again with the same ones; it is written to a staging
sibling and renamed into place.

`prepare(PATH)` (also `python -m gtpo.demo.warm_start PATH` and `gtpo model tiny DIR`) builds the tiny
offline tokenizer + Qwen2 model (`gtpo.demo.tiny.make_tiny_checkpoint`, in PATH.base/) and its warm
start in PATH: the model that recipes/tiny-cpu.yaml trains. `prepare(PATH, task="explain", ...)` builds
the tiny model with a tokenizer learned on `explain` text and warm-starts it on `explain`
(recipes/tiny-explain.yaml; docs/frame-regime.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gtpo.run.io import staged_folder
from gtpo.tasks import get_task, load_task
from gtpo.tasks.arith import ArithConfig
from gtpo.trl.sft import cpu_sft_trainer, sft_pairs

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


def sft_dataset(n: int, seed: int = 0, task_config=None, task: str = "arith"):
    """`task` train problems (a generated task with solutions; `task_config` its options dataclass) as TRL
    prompt/completion chat pairs."""
    options = asdict(task_config) if task_config is not None else None
    return sft_pairs(load_task(task, "train", limit=n, seed=seed, options=options))


def _settings(model_dir: Path, config: WarmStartConfig, task_config, task: str) -> dict:
    source = model_dir / "config.json"
    settings = {
        "source": str(model_dir.resolve()),
        "source_mtime_ns": source.stat().st_mtime_ns if source.exists() else None,
        "sft": asdict(config),
        "task": asdict(task_config),
    }
    if task != "arith":  # arith folders record no task name (as before other tasks existed)
        settings["task_name"] = task
    return settings


def warm_start(
    model_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    config: WarmStartConfig | None = None,
    *,
    task_config=None,
    task: str = "arith",
    callbacks: list | None = None,
    progress: bool = False,
) -> Path:
    """Fine-tune the causal LM in `model_dir` on `task`'s solutions; write it to `output_dir` and return it.

    `task` is a generated task with solutions (`arith`, `explain`); `task_config` its options dataclass
    (default: the task's defaults). `callbacks` are extra `transformers.TrainerCallback`s; `progress`
    shows a progress bar with ETA. The folder is written to a temporary sibling and renamed into place.
    """
    config = config or WarmStartConfig()
    spec = get_task(task)
    if spec.options_type is None or not spec.has_solutions:
        raise ValueError(f"warm_start: task {task!r} must be a generated task with solutions (arith, explain)")
    task_config = task_config or (ArithConfig() if task == "arith" else spec.options_type())
    model_dir, output_dir = Path(model_dir), Path(output_dir)
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"warm_start: {model_dir} has no config.json; pass a saved model folder")
    settings = _settings(model_dir, config, task_config, task)
    info = output_dir / INFO_FILE
    if info.is_file() and json.loads(info.read_text()) == settings:
        return output_dir
    if output_dir.exists() and any(output_dir.iterdir()) and not info.is_file():
        raise FileExistsError(
            f"warm_start: {output_dir} is not empty and holds no warm start; pick another folder"
        )

    with staged_folder(output_dir) as staging:
        trainer = cpu_sft_trainer(
            model_dir, staging / "trainer", sft_dataset(config.n_train, config.seed, task_config, task),
            steps=config.steps, batch_size=config.batch_size, lr=config.lr, seed=config.seed,
            callbacks=callbacks, progress=progress,
        )  # fmt: skip
        trainer.train()
        shutil.rmtree(staging / "trainer", ignore_errors=True)
        trainer.model.save_pretrained(staging)
        trainer.processing_class.save_pretrained(staging)
        (staging / INFO_FILE).write_text(json.dumps(settings, indent=2) + "\n")
    return output_dir


def prepare(path: str | os.PathLike, *, sft_steps: int = 300, seed: int = 0, task: str = "arith",
            task_options: dict | None = None, sft_lr: float = 3e-3, sft_batch_size: int = 32) -> Path:  # fmt: skip
    """Build (or reuse) the tiny checkpoint and its supervised warm start on `task`; return PATH.

    For a task other than arith the tokenizer learns that task's text (`TinySize.corpus_task`)."""
    from gtpo.demo.tiny import make_tiny_checkpoint

    path = Path(path)
    size = {} if task == "arith" else {"corpus_task": task}
    base = make_tiny_checkpoint(path.with_name(path.name + ".base"), seed=seed, **size)
    options_type = get_task(task).options_type
    task_config = options_type(**(task_options or {})) if options_type is not None else None
    config = WarmStartConfig(steps=sft_steps, seed=seed, lr=sft_lr, batch_size=sft_batch_size)
    return warm_start(base, path, config, task_config=task_config, task=task)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gtpo.demo.warm_start", description=__doc__.split("\n")[0])
    parser.add_argument("path", help="folder to write the warm-started tiny model to")
    parser.add_argument("--sft-steps", type=int, default=300, help="supervised warm-start steps (default 300)")
    parser.add_argument("--sft-batch-size", type=int, default=32, help="sequences per step (default 32)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--task", default="arith", help="generated task with solutions: arith (default) or explain")
    parser.add_argument("--task-options", default=None, help="the task's options as JSON, e.g. '{\"answer_noise\": 0.3}'")
    args = parser.parse_args(argv)
    options = json.loads(args.task_options) if args.task_options else None
    out = prepare(args.path, sft_steps=args.sft_steps, seed=args.seed, task=args.task, task_options=options,
                  sft_batch_size=args.sft_batch_size)  # fmt: skip
    print(f"tiny model ready: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
