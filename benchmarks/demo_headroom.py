"""Greedy vs sampled accuracy of warm starts and RL results on train and held-out arith problems: the
headroom that RL sharpening could take (docs/demo.md, "The search ...", findings 1 and 2).

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/demo_headroom.py '{"max_operand": 5}' MODEL [MODEL ...]

First argument: the ArithConfig fields of the task (JSON); then model folders. Prints accuracy on 100
train and 100 test problems (seed 5), at temperature 1 (4 samples each) and greedily (1 sample).
"""

from __future__ import annotations

import json
import sys

from gtpo.eval import evaluate
from gtpo.tasks.arith import ArithConfig, build_dataset


def main() -> int:
    config, models = ArithConfig(**json.loads(sys.argv[1])), sys.argv[2:]
    names = [f"m{i}" for i in range(len(models))]
    for split in ("train", "test"):
        data = build_dataset(split, n=100, seed=5, config=config)
        for temperature, n in ((1.0, 4), (0.0, 1)):
            summary = evaluate(models, "arith", f"runs/demo-headroom/{split}-{temperature}-{len(models)}",
                               dataset=data, name=names, n=n, k="1", temperature=temperature, top_p=1.0,
                               max_new_tokens=48, batch_size=64, seed=0, backend="hf", dtype="float32",
                               show_progress=False)  # fmt: skip
            scores = [(r["model"], round(r["accuracy"], 3)) for r in summary["results"]]
            print(split, f"T={temperature:.0f}", scores, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
