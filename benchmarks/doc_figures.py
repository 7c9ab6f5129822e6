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
    paired_values,
    sample_passk,
    seed_values,
    shift,
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

# counts over seeds: format lost (held-out format rate < 0.5), entropy collapsed (last 10% < 0.15 nats/token)
LR3_FMT = {c: seed_values(LR3, c, "format_rate") for c in ("gtpo", "grpo")}
LR3_ENT = {c: seed_values(LR3, c, "entropy", "training", "last10%") for c in ("gtpo", "grpo")}
NEG3_FMT = {c: seed_values(NEG3, c, "format_rate") for c in ("gtpo", "grpo", NW)}
NEG3_ENT = {c: seed_values(NEG3, c, "entropy", "training", "last10%") for c in ("gtpo", "grpo", NW, "max_run=4")}
KEPT = {c: count(lambda root, c=c: [-v for v in NEG3_FMT[c](root)], -0.5) for c in NEG3_FMT}  # format >= 0.5
GTPO_LOST, GRPO_LOST = count(NEG3_FMT["gtpo"], 0.5), count(NEG3_FMT["grpo"], 0.5)
FISHER_1_3 = fisher_two_sided(GTPO_LOST, 6, GRPO_LOST, 6)

README = "README.md"
FIGURES += [
    # "When to use GTPO"
    Figure(README, "GTPO - GRPO pass@1 {} ± {}. Tiny model at lr 1e-4 (6 seeds): {} ± {} (paired",
           [passk(SMOLK, "gtpo", 1, "minus_ref"), passk(SMOLK, "gtpo", 1, "minus_ref", 1),
            paired(NEG4, "gtpo", "grpo"), paired(NEG4, "gtpo", "grpo", what="se")]),
    Figure(README, "by seed, {} SE; GTPO lower in {} of 6 seeds)",
           [lambda root: -paired(NEG4, "gtpo", "grpo")(root) / paired(NEG4, "gtpo", "grpo", what="se")(root),
            count_pairs(seed_values(NEG4, "gtpo", "accuracy"), seed_values(NEG4, "grpo", "accuracy"), -1)]),
    Figure(README, "Tiny model: pass@16 {} ± {} ({} SE; lower in {} of 6 seeds). SmolLM2: {} ± {} at k = 8 ({} SE, "
           "lower in all 5 seeds) and {} ± {} at k = 16 ({} SE; lower in {} seeds, level in {})",
           [passk(NEG4K, "gtpo", 16, "minus_ref"), passk(NEG4K, "gtpo", 16, "minus_ref", 1),
            lambda root: -passk(NEG4K, "gtpo", 16, "minus_ref")(root) / passk(NEG4K, "gtpo", 16, "minus_ref", 1)(root),
            count_pairs(seed_values(NEG4, "gtpo", "pass@16"), seed_values(NEG4, "grpo", "pass@16"), -1),
            passk(SMOLK, "gtpo", 8, "minus_ref"), passk(SMOLK, "gtpo", 8, "minus_ref", 1),
            lambda root: -passk(SMOLK, "gtpo", 8, "minus_ref")(root) / passk(SMOLK, "gtpo", 8, "minus_ref", 1)(root),
            passk(SMOLK, "gtpo", 16, "minus_ref"), passk(SMOLK, "gtpo", 16, "minus_ref", 1),
            lambda root: -passk(SMOLK, "gtpo", 16, "minus_ref")(root) / passk(SMOLK, "gtpo", 16, "minus_ref", 1)(root),
            count_pairs(seed_values(SMOL, "gtpo", "pass@16"), seed_values(SMOL, "grpo", "pass@16"), -1),
            count_pairs(seed_values(SMOL, "gtpo", "pass@16"), seed_values(SMOL, "grpo", "pass@16"), 0)]),
    Figure(README, "restored the tiny model's pass@16 ({} ± {} over GTPO, higher in all {} seeds, pass@1 {} ± {}), "
           "not SmolLM2's ({} ± {} at k = 16; {} ± {} at k = 1)",
           [paired(NEG4, NW, "gtpo", "pass@16"), paired(NEG4, NW, "gtpo", "pass@16", what="se"),
            count_pairs(seed_values(NEG4, NW, "pass@16"), seed_values(NEG4, "gtpo", "pass@16"), 1),
            paired(NEG4, NW, "gtpo"), paired(NEG4, NW, "gtpo", what="se"),
            paired(SMOL, NW, "gtpo", "pass@16"), paired(SMOL, NW, "gtpo", "pass@16", what="se"),
            paired(SMOL, NW, "gtpo"), paired(SMOL, NW, "gtpo", what="se")]),
    Figure(README, "GTPO lost the format in {} seed of 6 and GRPO in {} of 6, in both experiments",
           [GTPO_LOST, GRPO_LOST]),
    Figure(README, "Fisher p = {}), but GTPO's entropy collapsed (below 0.15 nats/token) in {} of 6 seeds in the first "
           "experiment, onto a constant answer, and in {} of 6 in the second",
           [FISHER_1_3, count(LR3_ENT["gtpo"], 0.15), count(NEG3_ENT["gtpo"], 0.15)]),
    Figure(README, "kept the format in {} of 6 seeds and still collapsed in {} of 6",
           [KEPT[NW], count(NEG3_ENT[NW], 0.15)]),
    Figure(README, "did not help ({} of 6 collapsed and one seed's entropy rose to {} nats/token; accuracy {} ± {}",
           [count(NEG3_ENT["max_run=4"], 0.15), lambda root: max(NEG3_ENT["max_run=4"](root)),
            paired(NEG3, "max_run=4", "gtpo"), paired(NEG3, "max_run=4", "gtpo", what="se")]),
    # Evidence
    Figure(README, "from the SFT start (accuracy {}, pass@16 {}), accuracy GTPO {}, GRPO {}, `negative_weight 0.5` {}; "
           "pass@16 {}, {}, {};",
           [value(SMOL, "start", "accuracy"), value(SMOL, "start", "pass@16")]
           + [value(SMOL, "configs", c, "heldout", "accuracy", "mean") for c in ("gtpo", "grpo", NW)]
           + [value(SMOL, "configs", c, "heldout", "pass@16", "mean") for c in ("gtpo", "grpo", NW)]),
    Figure(README, "had GTPO {} ± {} below GRPO",
           [shift(value("docs/img/smollm2/bench_real.json", "comparison", "gtpo", "diff"), -1),
            value("docs/img/smollm2/bench_real.json", "comparison", "gtpo", "paired_se")]),
    Figure(README, "GTPO's pass@16 {} vs GRPO {} and `negative_weight 0.5` {}",
           [value(NEG4, "configs", c, "heldout", "pass@16", "mean") for c in ("gtpo", "grpo", NW)]),
    Figure(README, "GTPO lost the format in 1 seed of {} (GRPO {}) and collapsed",
           [lambda root: float(len(LR3_FMT["gtpo"](root))), count(LR3_FMT["grpo"], 0.5)]),
    Figure(README, "GTPO lost the format in {} of 6 and collapsed in {} of 6.",
           [GTPO_LOST, count(NEG3_ENT["gtpo"], 0.15)]),
    # results.md
    Figure("docs/results.md", "time at one thread each on the 2-core machine: {}-{} s of training and {}-{} s of evaluation",
           [extreme(SMOL_DONE, "train_s", min), extreme(SMOL_DONE, "train_s", max),
            extreme(SMOL_DONE, "eval_s", min), extreme(SMOL_DONE, "eval_s", max)]),
    Figure("docs/results.md", "5 seeds: GTPO - GRPO {} ± {} at k = 1, {} ± {} at k = 8 (lower in all five seeds), {} ± {} at k = 16",
           [passk(SMOLK, "gtpo", k, "minus_ref", w) for k in (1, 8, 16) for w in (0, 1)]),
    Figure("docs/results.md", "SmolLM2, 5 seeds: {} ± {}; tiny model, 6 seeds: {} ± {} (GTPO lower in 5 of 6 seeds",
           [passk(SMOLK, "gtpo", 1, "minus_ref"), passk(SMOLK, "gtpo", 1, "minus_ref", 1),
            paired(NEG4, "gtpo", "grpo"), paired(NEG4, "gtpo", "grpo", what="se")]),
    Figure("docs/results.md", "1/6 vs 3/6 is Fisher p = {}, not significant", [FISHER_1_3]),
    Figure("docs/results.md", "kept the format in all 6 seeds (against GRPO's 3, Fisher p = {})",
           [fisher_two_sided(KEPT[NW], 6, KEPT["grpo"], 6)]),
    Figure("docs/results.md", "with the highest accuracy of the four ({} ± {} over GRPO, {} ± {} over GTPO)",
           [paired(NEG3, NW, "grpo"), value(NEG3, "comparison", NW, "seed_se"),
            paired(NEG3, NW, "gtpo"), paired(NEG3, NW, "gtpo", what="se")]),
]

LEARN = "docs/img/bench_learning.json"
SMOL_P8 = {c: sample_passk(f"docs/img/smollm2-negatives/runs/{c.replace('=', '')}-s*/eval/samples.jsonl", 8) for c in ("gtpo", "grpo", NW)}
FIGURES += [
    # README, the demo paragraph (docs/img/demo-search: o5-n30 is the demo's default, seeds 1 and 2 beside it)
    Figure(README, "seed 0 (the default) gave start {} -> GTPO {} (+{} +- {}), GRPO {} (+{} +- {}).",
           [value(DEMO.format("o5-n30"), "models", "start", "accuracy"), value(DEMO.format("o5-n30"), "models", "gtpo", "accuracy"),
            diff("o5-n30", "gtpo-start", "mean"), diff("o5-n30", "gtpo-start", "se"),
            value(DEMO.format("o5-n30"), "models", "grpo", "accuracy"),
            diff("o5-n30", "grpo-start", "mean"), diff("o5-n30", "grpo-start", "se")]),
    Figure(README, "two gains {} +- {} and {} +- {} (GRPO both times)",
           [diff("o5-n30-seed1", "grpo-start", "mean"), diff("o5-n30-seed1", "grpo-start", "se"),
            diff("o5-n30-seed2", "grpo-start", "mean"), diff("o5-n30-seed2", "grpo-start", "se")]),
    Figure(README, "GTPO on two (seed 2: {}, with", [diff("o5-n30-seed2", "gtpo-start", "mean")]),
    Figure("docs/demo.md", "GRPO improves on every seed ({}, {}, {}); GTPO on seeds 0 and 1 ({}, {}) and loses on seed 2 ({})",
           [diff(r, "grpo-start", "mean") for r in ("o5-n30", "o5-n30-seed1", "o5-n30-seed2")]
           + [diff(r, "gtpo-start", "mean") for r in ("o5-n30", "o5-n30-seed1", "o5-n30-seed2")]),
    # docs/training.md, "Negative updates and collapse" and "What to watch"
    Figure("docs/training.md", "GTPO's pass@16 fell {} ± {} below GRPO's and `negative_weight 0.5` restored it ({} ± {}, 6 seeds",
           [shift(passk(NEG4K, "gtpo", 16, "minus_ref"), -1), passk(NEG4K, "gtpo", 16, "minus_ref", 1),
            paired(NEG4, NW, "gtpo", "pass@16"), paired(NEG4, NW, "gtpo", "pass@16", what="se")]),
    Figure("docs/training.md", "it kept the format in {} of 6 seeds (GTPO {}, GRPO {};",
           [KEPT[NW], KEPT["gtpo"], KEPT["grpo"]]),
    Figure("docs/training.md", "GTPO's pass@8 was {} ± {} below GRPO's (lower in every seed) and `negative_weight 0.5` recovered "
           "none of it ({} ± {} over GTPO) while costing {} ± {} at k = 1; on average GTPO was level with GRPO at k = 1 ({} ± {})",
           [shift(passk(SMOLK, "gtpo", 8, "minus_ref"), -1), passk(SMOLK, "gtpo", 8, "minus_ref", 1),
            paired_values(SMOL_P8[NW], SMOL_P8["gtpo"]), paired_values(SMOL_P8[NW], SMOL_P8["gtpo"], what="se"),
            shift(paired(SMOL, NW, "gtpo"), -1), paired(SMOL, NW, "gtpo", what="se"),
            passk(SMOLK, "gtpo", 1, "minus_ref"), passk(SMOLK, "gtpo", 1, "minus_ref", 1)]),
    Figure("docs/training.md", "({} of 6 seeds collapsed, one seed's entropy rose to {} nats/token)",
           [count(NEG3_ENT["max_run=4"], 0.15), lambda root: max(NEG3_ENT["max_run=4"](root))]),
    Figure("docs/training.md", "it was about half at lr 1e-4 ({}% of the tokens of positive, {}% of those of negative "
           "completions) and about two thirds at lr 1e-3 ({}% / {}%)",
           [shift(value(LEARN, "configs", "gtpo", "training", f, "mean", "mean"), 100) for f in ("conflict_frac_pos", "conflict_frac_neg")]
           + [shift(value(LR3, "configs", "gtpo", "training", f, "mean", "mean"), 100) for f in ("conflict_frac_pos", "conflict_frac_neg")]),
]


def stat(file: str, config: str, metric: str, key: str):
    return value(file, "configs", config, "heldout", metric, key)


def ent(file: str, config: str, window: str):
    return value(file, "configs", config, "training", "entropy", window, "mean")


def vs_ref(file: str, config: str, key: str):
    return value(file, "comparison", config, key)


# results.md, section 1: the `arith` lr 1e-4 table; section 3: the second lr 1e-3 experiment's table
for config, label in (("gtpo", "GTPO (paper)"), (NW, "GTPO, negative_weight 0.5")):
    FIGURES.append(Figure(
        "docs/results.md", f"| {label} | {{}} ± {{}} [{{}}, {{}}] | {{}} ± {{}} | {{}} ± {{}} [{{}}, {{}}] | {{}} ({{}} / {{}}) | {{}} -> {{}} |",
        [stat(NEG4, config, "accuracy", k) for k in ("mean", "std", "min", "max")]
        + [stat(NEG4, config, "format_rate", k) for k in ("mean", "std")]
        + [stat(NEG4, config, "pass@16", k) for k in ("mean", "std", "min", "max")]
        + [vs_ref(NEG4, config, k) for k in ("diff", "seed_se", "paired_se")]
        + [ent(NEG4, config, "first10%"), ent(NEG4, config, "last10%")],
    ))
FIGURES.append(Figure(
    "docs/results.md", "| GRPO (beta 0) | {} ± {} [{}, {}] | {} ± {} | {} ± {} [{}, {}] | - | {} -> {} | - |",
    [stat(NEG4, "grpo", "accuracy", k) for k in ("mean", "std", "min", "max")]
    + [stat(NEG4, "grpo", "format_rate", k) for k in ("mean", "std")]
    + [stat(NEG4, "grpo", "pass@16", k) for k in ("mean", "std", "min", "max")]
    + [ent(NEG4, "grpo", "first10%"), ent(NEG4, "grpo", "last10%")],
))
for config, label in (("gtpo", "GTPO (paper: negative_weight 0)"), ("max_run=4", "GTPO, conflict_max_run 4")):
    FIGURES.append(Figure(
        "docs/results.md", f"| {label} | {{}} ± {{}} [{{}}, {{}}] | {{}} ± {{}} | {{}} ± {{}} | {{}} ({{}} / {{}}) | {{}} -> {{}}",
        [stat(NEG3, config, "accuracy", k) for k in ("mean", "std", "min", "max")]
        + [stat(NEG3, config, "format_rate", k) for k in ("mean", "std")]
        + [stat(NEG3, config, "pass@16", k) for k in ("mean", "std")]
        + [vs_ref(NEG3, config, k) for k in ("diff", "seed_se", "paired_se")]
        + [ent(NEG3, config, "first10%"), ent(NEG3, config, "last10%")],
    ))
FIGURES.append(Figure(
    "docs/results.md", "| {} / {} of 6 |\n| GRPO (beta 0) | {} ± {} [{}, {}] | {} ± {} | {} ± {} | - | {} -> {} | {} / {} of 6 |",
    [count(NEG3_FMT["gtpo"], 0.5), count(NEG3_ENT["gtpo"], 0.15)]
    + [stat(NEG3, "grpo", "accuracy", k) for k in ("mean", "std", "min", "max")]
    + [stat(NEG3, "grpo", "format_rate", k) for k in ("mean", "std")]
    + [stat(NEG3, "grpo", "pass@16", k) for k in ("mean", "std")]
    + [ent(NEG3, "grpo", "first10%"), ent(NEG3, "grpo", "last10%"),
       count(NEG3_FMT["grpo"], 0.5), count(NEG3_ENT["grpo"], 0.15)],
))
FIGURES.append(Figure(
    "docs/results.md", "| GTPO, negative_weight 0.5 | {} ± {} [{}, {}] | {} ± {} [{}, {}] | {} ± {} | {} ({} / {}) | {} -> {} | {} / {} of 6 |",
    [stat(NEG3, NW, "accuracy", k) for k in ("mean", "std", "min", "max")]
    + [stat(NEG3, NW, "format_rate", k) for k in ("mean", "std", "min", "max")]
    + [stat(NEG3, NW, "pass@16", k) for k in ("mean", "std")]
    + [vs_ref(NEG3, NW, k) for k in ("diff", "seed_se", "paired_se")]
    + [ent(NEG3, NW, "first10%"), ent(NEG3, NW, "last10%"), count(NEG3_FMT[NW], 0.5), count(NEG3_ENT[NW], 0.15)],
))
# results.md, section 3: the first lr 1e-3 experiment (held-out format per seed, final entropy per seed)
for config, label in (("gtpo", "GTPO"), ("grpo", "GRPO, beta 0"), ("grpo-kl", "GRPO, beta 0.04")):
    fmt, last = seed_values(LR3, config, "format_rate"), seed_values(LR3, config, "entropy", "training", "last10%")
    FIGURES.append(Figure(
        "docs/results.md",
        f"| {label} | {{}} ± {{}} | {{}} ({', '.join(['{}'] * 6)}) | {{}} of 6 | {{}} ({', '.join(['{}'] * 6)}) | {{}} of 6 |",
        [stat(LR3, config, "accuracy", "mean"), stat(LR3, config, "accuracy", "std"), stat(LR3, config, "format_rate", "mean")]
        + [lambda root, i=i, f=fmt: f(root)[i] for i in range(6)] + [count(fmt, 0.5),
           value(LR3, "configs", config, "training", "entropy", "last10%", "mean")]
        + [lambda root, i=i, f=last: f(root)[i] for i in range(6)] + [count(last, 0.15)],
    ))

# the components at lr 1e-3: runs whose final entropy (last 10%) fell below 0.15 nats/token, with and without
# conflict weights (the first experiment's GTPO and GRPO rows are in bench_learning.json, the rest here)
COMP = "docs/img/lr1e-3/bench_components.json"


def collapsed(configs: tuple[str, ...]):
    def get(root):
        return sum(count(seed_values(COMP, c, "entropy", "training", "last10%"), 0.15)(root) for c in configs)

    return get


def runs(configs: tuple[str, ...]):
    return lambda root: float(sum(len(seed_values(COMP, c, "accuracy")(root)) for c in configs))


WITH = ("gtpo", "gamma=0", "filter=off", "conflict-only", "w=1")
WITHOUT = ("scope=none", "grpo")
FIGURES += [
    Figure("docs/results.md", "drive the collapse ({} of {} runs with them below 0.15 nats/token, {} of {} without)",
           [collapsed(WITH), runs(WITH), collapsed(WITHOUT), runs(WITHOUT)]),
    Figure("docs/results.md", "With them, {} of {} runs end below 0.15 nats/token; without them (`scope none`, GRPO) {} of {} do",
           [collapsed(WITH), runs(WITH), collapsed(WITHOUT), runs(WITHOUT)]),
    Figure("docs/training.md", "at a too-high learning rate {} of {} runs with conflict weights collapsed",
           [collapsed(WITH), runs(WITH)]),
]
