"""The start of the frame-regime question: how long, how varied and how good are a warm start's completions?

Samples a warm-started model on held-out problems of a generated task (`explain` by default; n samples
per problem at temperature 1, the same sampling as `bench_learning.py`'s evaluation, through
`gtpo.demo.evaluate_heldout`) and reports:
- completion length in tokens (median, quartiles), accuracy, format rate, pass@n;
- the conflict share of positive completions as GTPO's first update would see it: each problem's samples
  in groups of `--group-size` (G, the training group), rewards format + correctness (the recipe's
  rewards, weights 1 and 1), group advantages, and `gtpo.core.conflict_mask` (prefix_suffix, the
  default scope) on the completions' token ids; the share is conflict tokens / valid tokens over all
  positive completions (`gtpo/conflict_frac_pos`'s ratio of sums), the same for negatives;
- where the conflict tokens of positive completions sit: `frame` (the four tags, the whitespace around
  them and the end-of-sequence token), `answer` (the text inside <answer>) or `reasoning` (the text
  inside <reasoning>), as counts and shares;
- how soon two samples of one prompt part ways: the common token prefix of every pair in a group,
  counted after `<reasoning>` and its newline (median and mean).
Token ids are the completions re-encoded with the model's tokenizer (eval keeps text, not ids), plus the
EOS token when the completion was not cut at the length limit; a sampled tokenization that is not the
tokenizer's own can shift a few positions. The in-run figure (`gtpo/conflict_frac_pos` over the first 10%
of a GTPO run) comes from the learning runs (`frame_summary.py`).

The model is `--start` or, by default, the tiny warm start on the task built (and cached) as
`bench_learning.py --task explain` builds it (`gtpo.demo.warm_start.prepare`). Writes OUT/start.json
and, with `--json`, a copy there.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_frame_start.py --sft-dir runs/tiny-explain-sft \\
        --sft-options '{"answer_noise": 0.3}' --json docs/img/frame-regime/start-tiny.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # this checkout's gtpo (see bench_learning)

from gtpo.rewards.extract import ANSWER_CLOSE, ANSWER_OPEN, FULL_SCORE, REASONING_CLOSE, REASONING_OPEN  # noqa: E402

PLACES = ("frame", "answer", "reasoning")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--task", default="explain", help="generated task with solutions (default explain)")
    p.add_argument("--task-options", default=None, help="task settings as JSON, for the warm start and the test set")
    p.add_argument("--start", help="a ready start model folder (e.g. a `gtpo sft` run) instead of the tiny warm start")
    p.add_argument("--sft-dir", default="runs/tiny-explain-sft", help="tiny warm start to build or reuse")
    p.add_argument("--sft-steps", type=int, default=300, help="warm-start steps when it is built (default 300)")
    p.add_argument("--sft-batch-size", type=int, default=32, help="warm-start sequences per step (default 32)")
    p.add_argument("--sft-options", default=None, help="task settings as JSON for the demonstrations only")
    p.add_argument("--problems", type=int, default=200, help="held-out test problems (default 200)")
    p.add_argument("--samples", type=int, default=8, help="samples per problem (default 8)")
    p.add_argument("--group-size", type=int, default=8, help="G: samples per training group (default 8)")
    p.add_argument("--max-new-tokens", type=int, default=200)
    p.add_argument("--out", default="runs/frame-start", help="results folder (default runs/frame-start)")
    p.add_argument("--json", help="also write the result here (e.g. docs/img/frame-regime/start-tiny.json)")
    args = p.parse_args(argv)
    args.task_options = json.loads(args.task_options) if args.task_options else None
    args.sft_options = json.loads(args.sft_options) if args.sft_options else None
    if args.samples % args.group_size or args.group_size < 2:
        raise SystemExit("bench_frame_start: --samples must be a multiple of --group-size (>= 2)")
    return args


def place(text: str, start: int, end: int) -> str:
    """Where the characters text[start:end] of a completion sit: 'reasoning', 'answer' or 'frame'."""
    r0, r1 = text.find(REASONING_OPEN), text.find(REASONING_CLOSE)
    a0, a1 = text.find(ANSWER_OPEN), text.rfind(ANSWER_CLOSE)
    if end <= start or not text[start:end].strip():
        return "frame"  # EOS (no characters) and whitespace between the blocks
    if r0 >= 0 and r1 > r0 and r0 + len(REASONING_OPEN) <= start and end <= r1:
        return "reasoning"
    if a0 >= 0 and a1 > a0 and a0 + len(ANSWER_OPEN) <= start and end <= a1:
        return "answer"
    return "frame"


def encode(tokenizer, text: str, truncated: bool) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids and character spans of a completion, with EOS (empty span) when it was not cut."""
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, spans = list(enc["input_ids"]), [tuple(s) for s in enc["offset_mapping"]]
    if not truncated:
        ids.append(tokenizer.eos_token_id)
        spans.append((len(text), len(text)))
    return ids, spans


def conflicts(groups: list[list[dict]], tokenizer) -> dict:
    """Conflict shares of positive / negative completions and where the positives' conflicts sit.

    `groups`: lists of G eval records (completion, format, correct, truncated) of one prompt each."""
    import torch

    from gtpo.core import conflict_mask, group_advantages

    tokens = {"pos": 0, "neg": 0}
    hits = {"pos": 0, "neg": 0}
    where = dict.fromkeys(PLACES, 0)
    prefixes: list[int] = []
    skip = len(tokenizer(REASONING_OPEN + "\n", add_special_tokens=False)["input_ids"])
    for group in groups:
        encoded = [encode(tokenizer, r["completion"], r["truncated"]) for r in group]
        width = max(len(ids) for ids, _ in encoded)
        ids = torch.full((len(group), width), tokenizer.pad_token_id, dtype=torch.long)  # (G, T)
        mask = torch.zeros(len(group), width, dtype=torch.long)  # (G, T)
        for i, (row, _) in enumerate(encoded):
            ids[i, : len(row)], mask[i, : len(row)] = torch.tensor(row), 1
        rewards = torch.tensor([float(r["format"]) + FULL_SCORE * bool(r["correct"]) for r in group])  # (G,)
        adv = group_advantages(rewards, len(group))  # (G,)
        conf = conflict_mask(ids, mask, adv, len(group))  # (G, T) bool
        for i, (row, spans) in enumerate(encoded):
            sign = "pos" if adv[i] > 0 else "neg" if adv[i] < 0 else None
            if sign is None:
                continue
            tokens[sign] += len(row)
            hits[sign] += int(conf[i].sum())
            if sign == "pos":
                for t in conf[i].nonzero().flatten().tolist():
                    where[place(group[i]["completion"], *spans[t])] += 1
        for (a, _), (b, _) in combinations(encoded, 2):
            n = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
            prefixes.append(max(n - skip, 0))
    total = sum(where.values())
    return {
        "conflict_share_pos": hits["pos"] / tokens["pos"] if tokens["pos"] else None,
        "conflict_share_neg": hits["neg"] / tokens["neg"] if tokens["neg"] else None,
        "positive_tokens": tokens["pos"], "negative_tokens": tokens["neg"],
        "conflict_tokens_pos": {k: {"count": v, "share_of_conflicts": v / total if total else None,
                                    "share_of_positive_tokens": v / tokens["pos"] if tokens["pos"] else None}
                                for k, v in where.items()},
        "pair_common_prefix_tokens": {"median": statistics.median(prefixes) if prefixes else None,
                                      "mean": statistics.fmean(prefixes) if prefixes else None, "pairs": len(prefixes),
                                      "after": REASONING_OPEN + "\\n"},
    }  # fmt: skip


def measure(args: argparse.Namespace) -> dict:
    from transformers import AutoTokenizer

    from gtpo.demo import evaluate_heldout
    from gtpo.demo.warm_start import prepare
    from gtpo.run.io import read_jsonl
    from gtpo.tasks import get_task

    t0 = time.perf_counter()
    options = {**(args.task_options or {}), **(args.sft_options or {})} or None
    start = Path(args.start) if args.start else prepare(args.sft_dir, sft_steps=args.sft_steps, sft_batch_size=args.sft_batch_size, task=args.task,
                                                        task_options=options)  # fmt: skip
    build_s = time.perf_counter() - t0
    config = get_task(args.task).options_type(**(args.task_options or {}))
    out = Path(args.out)
    t0 = time.perf_counter()
    summary = evaluate_heldout([str(start)], out / "eval", task_config=config, problems=args.problems,
                               samples=args.samples, max_new_tokens=args.max_new_tokens, seed=0, show_progress=False,
                               task=args.task)  # fmt: skip
    eval_s = time.perf_counter() - t0
    row = summary["results"][0]
    records = read_jsonl(out / "eval" / row["dir"] / "samples.jsonl", torn="error")
    by_problem: dict[str, list[dict]] = {}
    for r in sorted(records, key=lambda r: (str(r["id"]), r["sample"])):
        by_problem.setdefault(str(r["id"]), []).append(r)
    g = args.group_size
    groups = [rs[i : i + g] for rs in by_problem.values() for i in range(0, len(rs) - g + 1, g)]
    lengths = sorted(r["tokens"] for r in records)
    q = statistics.quantiles(lengths, n=4)
    tokenizer = AutoTokenizer.from_pretrained(start)
    return {
        "task": args.task, "task_options": args.task_options, "start": str(start), "sft_options": args.sft_options,
        "problems": len(by_problem), "samples": args.samples, "group_size": g, "max_new_tokens": args.max_new_tokens,
        "median_completion_tokens": float(statistics.median(lengths)), "completion_tokens_quartiles": [q[0], q[2]],
        "accuracy": row["accuracy"], "format_rate": row["format_rate"], f"pass@{args.samples}": row.get(f"pass@{args.samples}"),
        "truncated_rate": row.get("truncated_rate"), **conflicts(groups, tokenizer),
        "build_s": build_s, "eval_s": eval_s,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = measure(args)
    text = json.dumps(result, indent=1)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "start.json").write_text(text + "\n")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
