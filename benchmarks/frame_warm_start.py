"""The frame regime's tiny warm start, in two supervised stages on `explain` demonstrations.

Stage 1 is `gtpo.demo.warm_start.prepare` (the tiny tokenizer learned on `explain` text, then SFT of
`--steps1` x `--batch-size` at lr 3e-3); stage 2 continues from stage 1's model for `--steps2` more steps
at `--lr2` on another data order (seed 1): one 250-step stage left the tiny model copying the question's
numbers badly (held-out accuracy about 0.1, docs/frame-regime.md). Both stages are cached
(`warm_start.json`), so a rerun with the same settings returns at once.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/frame_warm_start.py --out runs/tiny-explain-sft-n0 \\
        --task-options '{"max_operand": 5, "max_value": 20, "restate": 0.7, "check": 0.7}' --noise 0
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # this checkout's gtpo (see bench_learning)

from gtpo.demo.warm_start import WarmStartConfig, prepare, warm_start  # noqa: E402
from gtpo.tasks.explain import ExplainConfig  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="stage 1 folder; stage 2 is written to OUT-stage2")
    p.add_argument("--task-options", default=None, help="explain settings as JSON")
    p.add_argument("--noise", type=float, default=0.0, help="answer_noise of the demonstrations (default 0)")
    p.add_argument("--steps1", type=int, default=250)
    p.add_argument("--steps2", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr2", type=float, default=2e-3)
    args = p.parse_args(argv)
    options = {**json.loads(args.task_options or "{}"), "answer_noise": args.noise}
    stage1 = prepare(args.out, sft_steps=args.steps1, sft_batch_size=args.batch_size, task="explain", task_options=options)
    config = WarmStartConfig(steps=args.steps2, batch_size=args.batch_size, lr=args.lr2, seed=1)
    stage2 = warm_start(stage1, f"{args.out}-stage2", config, task_config=ExplainConfig(**options), task="explain")
    print(f"warm start ready: {stage2}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
