"""Rewards per second on 1,000 realistic completions (GSM8K and MATH shapes): in-process vs the pool.

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_rewards.py --data ../shared/data

Completions are built from the real test sets: half GSM8K (reference from ``####``), half MATH-500
(its ``answer`` field); the reasoning block is the reference solution text. The mix per shape:
`--hostile` (1%) hostile answers (huge powers, deep nesting, a 200 kB answer, a lone surrogate),
the reference verbatim up to 45%, 20% an equivalent rewrite ("1,000", "$18", "18.00";
``\\boxed{...}``, ``$...$``, ``\\dfrac`` for ``\\frac``), 20% wrong (+1 on numbers, an extra ``+1``
on expressions), 10% malformed (no tags, unclosed answer, text after the answer), 5% without a
reasoning block. Each configuration scores the same completions with
`format_reward` per completion + `correctness_scores` in batches of `--batch` (a TRL step), after a
warm-up batch (worker start-up is timed separately). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
from pathlib import Path

from gtpo.rewards import Grader, correctness_scores, format_reward
from gtpo.tasks import load_task

HOSTILE = [
    "10^{10^{10^{10}}}",
    "{" * 400 + "1" + "}" * 400,
    "9" * 200_000,
    "2^{2^{2^{2^{2^{2}}}}}",
    "\ud800 5",
]


def _rewrite(ref: str, rng: random.Random) -> str:
    """An equivalent way to write `ref`."""
    plain = ref.replace(",", "")
    if plain.lstrip("-").isdigit():
        number = int(plain)
        return rng.choice([f"{number:,}", f"${number}", f"{number}.00", f"\\${number}", f"{number} "])
    return rng.choice([f"\\boxed{{{ref}}}", f"${ref}$", ref.replace("\\frac", "\\dfrac"), f" {ref} "])


def _wrong(ref: str) -> str:
    plain = ref.replace(",", "")
    if plain.lstrip("-").isdigit():
        return str(int(plain) + 1)
    return f"{ref}+1"


def build_completions(data: Path, n: int, seed: int, args_hostile: float) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    gsm = load_task("gsm8k", "test", source=data)
    gsm_solutions = [
        line.split("####")[0] for line in (data / "gsm8k" / "test.jsonl").read_text().splitlines()
    ]
    m500 = load_task("math500", "test", source=data)
    import json

    m500_solutions = [
        json.loads(line)["solution"] for line in (data / "math500" / "test.jsonl").read_text().splitlines()
    ]
    completions, refs = [], []
    for k in range(n):
        if k % 2 == 0:
            i = rng.randrange(len(gsm))
            ref, reasoning = gsm[i]["answer"], gsm_solutions[i]
        else:
            i = rng.randrange(len(m500))
            ref, reasoning = m500[i]["answer"], m500_solutions[i]
        roll = rng.random()
        if roll < args_hostile:
            answer = rng.choice(HOSTILE)
        elif roll < 0.45:
            answer = ref
        elif roll < 0.65:
            answer = _rewrite(ref, rng)
        elif roll < 0.85:
            answer = _wrong(ref)
        else:
            answer = ref
        text = f"<reasoning>\n{reasoning.strip()}\n</reasoning>\n<answer>\n{answer}\n</answer>"
        if 0.85 <= roll < 0.95:  # malformed
            text = rng.choice(
                [reasoning + f"\nThe answer is {ref}.", text[: text.rfind("</answer>")], text + "\nDone."]
            )
        elif roll >= 0.95:
            text = f"{reasoning}\n<answer>{ref}</answer>"  # no reasoning block
        completions.append(text)
        refs.append(ref)
    return completions, refs


def run(grader: Grader, completions: list[str], refs: list[str], batch: int) -> tuple[float, float]:
    """(seconds for everything, mean correctness reward) after one warm-up batch."""
    correctness_scores(completions[:batch], refs[:batch], grader=grader)
    start = time.perf_counter()
    total = 0.0
    for i in range(0, len(completions), batch):
        [format_reward(c) for c in completions[i : i + batch]]
        total += sum(correctness_scores(completions[i : i + batch], refs[i : i + batch], grader=grader))
    return time.perf_counter() - start, total / len(completions)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, default=os.environ.get("GTPO_TEST_DATA"), help="benchmark data folder"
    )
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hostile", type=float, default=0.01, help="share of hostile answers")
    args = parser.parse_args()
    if args.data is None:
        parser.error("pass --data PATH (the folder holding gsm8k/ and math500/) or set GTPO_TEST_DATA")
    completions, refs = build_completions(args.data, args.n, args.seed, args.hostile)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"{len(completions)} completions, batch {args.batch}, per-item deadline {args.timeout} s\n")
    print(
        "| grader | start-up s | scoring s | completions/s | mean correctness | fast | symbolic | timeouts | errors | too long |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for workers in args.workers:
        grader = Grader(num_workers=workers, timeout=args.timeout)
        start = time.perf_counter()
        grader.matches([r"3\sqrt{2}"], [r"\sqrt{18}"])  # starts the workers
        startup = time.perf_counter() - start
        seconds, mean = run(grader, completions, refs, args.batch)
        s = grader.stats
        name = "in-process (main thread)" if workers == 0 else f"pool, {workers} worker(s)"
        print(
            f"| {name} | {startup:.2f} | {seconds:.2f} | {len(completions) / seconds:.0f} | {mean:.2f} | "
            f"{s['fast']} | {s['symbolic']} | {s['timeouts']} | {s['errors']} | {s['too_long']} |"
        )
        grader.close()


if __name__ == "__main__":
    main()
