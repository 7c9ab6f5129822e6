"""The demo's supervised warm start: the tiny model fine-tuned on arith reference solutions, cached.

`warm_start(model_dir, output_dir, WarmStartConfig)` fine-tunes a causal LM on `arith` train problems
in the paper's answer format (prompt/completion chat pairs, loss on the completion only:
`gtpo.trl.sft.cpu_sft_trainer`), so that the policy already writes the format and GTPO/GRPO get
non-zero rewards. The folder records its settings (`warm_start.json`: source model, SFT settings,
task settings) and is reused when asked again with the same ones; it is written to a staging
sibling and renamed into place.

`prepare(PATH)` (also `python -m gtpo.demo.warm_start PATH` and `gtpo model tiny DIR`) builds the tiny
offline tokenizer + Qwen2 model (`gtpo.demo.tiny.make_tiny_checkpoint`, in PATH.base/) and its warm
start in PATH: the model that recipes/tiny-cpu.yaml trains.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gtpo.run.io import staged_folder
from gtpo.tasks.arith import ArithConfig, build_dataset
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
        trainer = cpu_sft_trainer(
            model_dir, staging / "trainer", sft_dataset(config.n_train, config.seed, task_config),
            steps=config.steps, batch_size=config.batch_size, lr=config.lr, seed=config.seed,
            callbacks=callbacks, progress=progress,
        )  # fmt: skip
        trainer.train()
        shutil.rmtree(staging / "trainer", ignore_errors=True)
        trainer.model.save_pretrained(staging)
        trainer.processing_class.save_pretrained(staging)
        (staging / INFO_FILE).write_text(json.dumps(settings, indent=2) + "\n")
    return output_dir


def prepare(path: str | os.PathLike, *, sft_steps: int = 300, seed: int = 0) -> Path:
    """Build (or reuse) the tiny checkpoint and its supervised warm start; return PATH."""
    from gtpo.demo.tiny import make_tiny_checkpoint

    path = Path(path)
    base = make_tiny_checkpoint(path.with_name(path.name + ".base"), seed=seed)
    return warm_start(base, path, WarmStartConfig(steps=sft_steps, seed=seed))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gtpo.demo.warm_start", description=__doc__.split("\n")[0])
    parser.add_argument("path", help="folder to write the warm-started tiny model to")
    parser.add_argument("--sft-steps", type=int, default=300, help="supervised warm-start steps (default 300)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = prepare(args.path, sft_steps=args.sft_steps, seed=args.seed)
    print(f"tiny model ready: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
