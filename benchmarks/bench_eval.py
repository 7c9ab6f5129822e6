"""Benchmark: completions per second of the evaluation runner (`gtpo.eval.evaluate`) by batch size.

A tiny randomly initialised model (`gtpo.demo.tiny`, default sizes) is evaluated with the HF backend on
`arith` test problems: `--completions` completions per batch size (n per problem = completions /
problems), `--max-new-tokens` fixed, temperature 1. An untrained model rarely emits eos, so nearly
every completion runs to the token budget; mean generated tokens are reported with the rate. The
model and tokenizer are loaded once (load time excluded); one small warm-up evaluation runs first.

Two rates per batch size: `runner` = completions / wall time of the whole `evaluate` call
(generation, grading, samples.jsonl writes, scoring, summaries); `generate` = completions / time
spent inside the sampler's `generate` calls only.

    python benchmarks/bench_eval.py                                  # batch 1 8 32 64, 128 completions
    python benchmarks/bench_eval.py --batch-sizes 8 64 --completions 64 --max-new-tokens 16   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--completions", type=int, default=128, help="completions per batch size")
    parser.add_argument("--problems", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    if args.completions % args.problems:
        parser.error("--completions must be a multiple of --problems")
    torch.set_num_threads(args.threads)

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from gtpo.demo.tiny import make_tiny_checkpoint
    from gtpo.eval import evaluate
    from gtpo.eval import runner as runner_mod
    from gtpo.tasks import load_task

    spent = {"generate": 0.0}

    class TimedSampler(runner_mod.HFSampler):
        def generate(self, *a, **kw):
            start = time.perf_counter()
            try:
                return super().generate(*a, **kw)
            finally:
                spent["generate"] += time.perf_counter() - start

    runner_mod.HFSampler = TimedSampler
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_tiny_checkpoint(Path(tmp) / "model", seed=0)
        model = AutoModelForCausalLM.from_pretrained(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        params = sum(p.numel() for p in model.parameters())
        data = load_task("arith", split="test", limit=args.problems)
        n = args.completions // args.problems
        common = dict(tokenizer=tokenizer, dataset=data, temperature=1.0, top_p=1.0, show_progress=False)
        evaluate(model, "arith", Path(tmp) / "warmup", n=2, batch_size=8, max_new_tokens=8, **common)
        print(
            f"# tiny model: {params / 1e6:.2f} M params; {args.threads} torch threads; "
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs; torch {torch.__version__}"
        )
        print(
            f"# {args.completions} completions per row ({args.problems} problems x n={n}), "
            f"max_new_tokens={args.max_new_tokens}"
        )
        print(
            "| batch size | runner completions/s | generate completions/s | mean tokens | generated tokens/s |"
        )
        print("|---:|---:|---:|---:|---:|")
        rows = []
        for batch in args.batch_sizes:
            spent["generate"] = 0.0
            start = time.perf_counter()
            summary = evaluate(
                model,
                "arith",
                Path(tmp) / f"b{batch}",
                n=n,
                batch_size=batch,
                max_new_tokens=args.max_new_tokens,
                **common,
            )
            wall = time.perf_counter() - start
            (row,) = summary["results"]
            tokens = row["mean_tokens"]
            rows.append(
                {
                    "batch_size": batch,
                    "runner_cps": args.completions / wall,
                    "generate_cps": args.completions / spent["generate"],
                    "mean_tokens": tokens,
                }
            )
            print(
                f"| {batch} | {args.completions / wall:.1f} | {args.completions / spent['generate']:.1f} | "
                f"{tokens:.1f} | {args.completions * tokens / spent['generate']:.0f} |",
                flush=True,
            )
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
