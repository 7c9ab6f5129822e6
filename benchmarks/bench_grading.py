"""How often the two numeric rules of the answer check disagree, on the references of MATH-500 and GSM8K.

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_grading.py --data ../shared/data

The rules (`gtpo.rewards.grading`): "strict" (the default: equal values only) and "paper" (the
authors' absolute 1e-2 rule). Both only differ on numbers, so the benchmark builds two stated sets of
(prediction, reference) pairs from each test set's reference answers and grades every pair with the
real grader (`gtpo.rewards.Grader`, fast path + math-verify workers) under both rules:

- A "other references": every ordered pair of two references of the same set whose normalised texts
  differ and whose values (exact rationals, or closed forms evaluated by sympy) lie within 0.0101 of
  each other (pairs further apart cannot match under either rule, so they are not graded). A model
  answering problem j's reference to problem i is a wrong answer; "paper" counts some as right.
- B "rounded to 2 decimals": for every reference whose value is not an integer, the prediction is
  the value rounded to two decimals ("0.07" for .0672) when that differs from the reference: what a
  model that rounds writes. "paper" accepts most of them; "strict" none.

Prints a markdown table (pairs graded, pairs where the rules disagree, references involved) and a few
examples, and writes --json.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

from gtpo.rewards import Grader, normalize_answer
from gtpo.rewards.grading import parse_rational
from gtpo.tasks import load_task

WINDOW = 0.0101  # pairs further apart than this can match under neither rule


def closed_form_value(ref: str) -> float | None:
    """The value of a reference that is a number: exact rationals first, else a sympy closed form."""
    text = normalize_answer(ref)
    value = parse_rational(text)
    if value is not None:
        return float(value)
    try:
        from math_verify import parse

        parsed = parse("$" + text + "$", parsing_timeout=2)
    except Exception:  # math-verify's timeout is a BaseException subclass of Exception here
        return None
    for item in parsed:
        try:
            if getattr(item, "is_number", False) and item.is_real:
                number = float(item.evalf(20))
                if math.isfinite(number):
                    return number
        except (TypeError, ValueError, AttributeError):
            continue
    return None


def pair_sets(refs: list[str]) -> dict[str, list[tuple[str, str]]]:
    """The stated sets A and B for one test set's references."""
    values = [(ref, closed_form_value(ref)) for ref in refs]
    numeric = [(ref, v) for ref, v in values if v is not None]
    numeric.sort(key=lambda item: item[1])
    others = []
    for i, (ref_i, v_i) in enumerate(numeric):  # sorted: stop once out of the window
        for ref_j, v_j in numeric[i + 1 :]:
            if v_j - v_i > WINDOW:
                break
            if normalize_answer(ref_i) != normalize_answer(ref_j):
                others += [(ref_i, ref_j), (ref_j, ref_i)]
    rounded = []
    for ref, v in numeric:
        if v != round(v) and abs(v) < 1e6:
            guess = f"{v:.2f}"
            if normalize_answer(guess) != normalize_answer(ref):
                rounded.append((guess, ref))
    return {"A other references": others, "B rounded to 2 decimals": rounded}


def grade(grader: Grader, pairs: list[tuple[str, str]], tolerance: str) -> list[bool]:
    if not pairs:
        return []
    return grader.matches([p for p, _ in pairs], [r for _, r in pairs], tolerance=tolerance)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="../shared/data", help="folder with math500/ and gsm8k/ (default ../shared/data)")
    p.add_argument("--tasks", nargs="+", default=["math500", "gsm8k"])
    p.add_argument("--examples", type=int, default=5, help="examples printed per set")
    p.add_argument("--json", default="runs/bench/grading.json")
    args = p.parse_args()

    start = time.perf_counter()
    results, lines = [], ["| task | set | references | pairs graded | strict match | paper match | disagree | references involved |",
                          "|---|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    with Grader(num_workers=2, timeout=5.0) as grader:
        for task in args.tasks:
            refs = [str(a) for a in load_task(task, "test", source=args.data)["answer"]]
            for name, pairs in pair_sets(refs).items():
                strict, paper = grade(grader, pairs, "strict"), grade(grader, pairs, "paper")
                differ = [pair for pair, s, q in zip(pairs, strict, paper, strict=True) if s != q]
                involved = sorted({ref for _, ref in differ})
                row = {"task": task, "set": name, "references": len(refs), "pairs": len(pairs),
                       "strict_matches": sum(strict), "paper_matches": sum(paper), "disagree": len(differ),
                       "references_involved": len(involved), "examples": differ[: args.examples]}  # fmt: skip
                results.append(row)
                lines.append(f"| {task} | {name} | {len(refs)} | {len(pairs)} | {sum(strict)} | {sum(paper)} | "
                             f"{len(differ)} | {len(involved)} |")  # fmt: skip
        stats = dict(grader.stats)
    seconds = time.perf_counter() - start
    print("\n".join(lines))
    for row in results:
        if row["examples"]:
            shown = "; ".join(f"{pred!r} vs {ref!r}" for pred, ref in row["examples"])
            print(f"\n{row['task']} / {row['set']}: paper accepts, strict rejects: {shown}")
    print(f"\n{seconds:.1f} s on {platform.processor() or platform.machine()}; grader stats {stats}")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"results": results, "seconds": seconds, "grader": stats}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
