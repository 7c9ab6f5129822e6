"""The figures the README and the docs state, each tied to the committed JSON value it reports.

Read by `check_docs_figures.py` (its docstring says how a `Figure` is checked). One entry per stated
figure or sentence of figures; the numbers themselves are never written here, only where they come from.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from check_docs_figures import (  # noqa: E402
    Figure,
    count,
    count_pairs,
    extreme,
    fisher_two_sided,
    paired,
    seed_values,
    value,
)

DEMO = "docs/img/demo-search/{}.json"
NEG3 = "docs/img/negatives-lr1e-3/results.json"
NEG3K = "docs/img/negatives-lr1e-3/passk.json"
NEG4 = "docs/img/negatives-lr1e-4/results.json"
NEG4K = "docs/img/negatives-lr1e-4/passk.json"
SMOL = "docs/img/smollm2-negatives/results.json"
SMOLK = "docs/img/smollm2-negatives/passk.json"
SMOL_DONE = "docs/img/smollm2-negatives/runs/*/done.json"
LR3 = "docs/img/lr1e-3/bench_learning.json"
NW = "negative_weight=0.5"


def diff(run: str, pair: str, key: str):
    return value(DEMO.format(run), "differences", pair, key)


def passk(file: str, config: str, k: int, part: str = "pass@k", what: int = 0):
    """pass@k (part "pass@k") or the paired difference to the suite's reference (part "minus_ref"):
    what 0 = mean, 1 = SE over seeds."""
    return value(file, config, part, str(k), what)


FIGURES: list[Figure] = []

# demo.md and benchmarks.md: the demo search's three seeds of o5-n30 (paired by problem)
for run, label in (("o5-n30", "seed 0"), ("o5-n30-seed1", "seed 1"), ("o5-n30-seed2", "seed 2")):
    cells = "| {} | {} +- {} | {} +- {} | {} +- {} | {} |"
    sources = [value(DEMO.format(run), "models", "start", "accuracy")]
    for pair in ("gtpo-start", "grpo-start", "gtpo-grpo"):
        sources += [diff(run, pair, "mean"), diff(run, pair, "se")]
    sources.append(value(DEMO.format(run), "seconds", "total"))
    prefix = "o5-n30 (`--arith_max_operand 5 --arith_answer_noise 0.3`), seed 0 " if run == "o5-n30" else f"o5-n30, {label} "
    FIGURES.append(Figure("docs/benchmarks.md", prefix + cells, sources))
FIGURES.append(Figure(
    "docs/demo.md", "GTPO - GRPO: {} +- {}, {} +- {} and {} +- {}:",
    [diff(run, "gtpo-grpo", key) for run in ("o5-n30", "o5-n30-seed1", "o5-n30-seed2") for key in ("mean", "se")],
))
for run, options in (("o5-n30-seed1", "`--seed 1` (its own tiny model and warm start)"), ("o5-n30-seed2", "`--seed 2`")):
    FIGURES.append(Figure(
        "docs/demo.md", f"as above, {options} | {{}} | {{}} | {{}} | {{}} +- {{}} | **{{}} +- {{}}** | {{}} +- {{}} | {{}} |",
        [value(DEMO.format(run), "models", m, "accuracy") for m in ("start", "gtpo", "grpo")]
        + [diff(run, pair, key) for pair in ("gtpo-start", "grpo-start", "gtpo-grpo") for key in ("mean", "se")]
        + [value(DEMO.format(run), "seconds", "total")],
    ))
