"""`python -m gtpo.trl.tiny_model PATH`: the warm-started tiny model that recipes/tiny-cpu.yaml trains.

Builds the tiny offline tokenizer + Qwen2 model (`gtpo.tiny.make_tiny_checkpoint`, in PATH.base/)
and fine-tunes it on arith reference solutions (`gtpo.trl.sft.warm_start`) into PATH, so that the
policy already writes the answer format and GTPO/GRPO get non-zero rewards. Both steps are cached:
running the command again with the same settings returns at once.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def prepare(path: str | os.PathLike, *, sft_steps: int = 300, seed: int = 0) -> Path:
    """Build (or reuse) the tiny checkpoint and its supervised warm start; return PATH."""
    from gtpo.tiny import make_tiny_checkpoint
    from gtpo.trl.sft import WarmStartConfig, warm_start

    path = Path(path)
    base = make_tiny_checkpoint(path.with_name(path.name + ".base"), seed=seed)
    return warm_start(base, path, WarmStartConfig(steps=sft_steps, seed=seed))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gtpo.trl.tiny_model", description=__doc__.split("\n")[0])
    parser.add_argument("path", help="folder to write the warm-started tiny model to")
    parser.add_argument("--sft-steps", type=int, default=300, help="supervised warm-start steps (default 300)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = prepare(args.path, sft_steps=args.sft_steps, seed=args.seed)
    print(f"tiny model ready: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
