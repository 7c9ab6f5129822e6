"""The figures the README and the docs state, each tied to the committed JSON value it reports.

Read by `check_docs_figures.py` (its docstring says how a `Figure` is checked). One entry per stated
figure or sentence of figures; the numbers themselves are never written here, only where they come from.
"""

from __future__ import annotations

import json
import math
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

# the regime map (benchmarks/regime_map.py): one suite per id of regime_map.json
MAP = "docs/img/regime-map/regime_map.json"
SMOL_MAP, TINY4_MAP, TINY3_MAP = "arith-smollm2-1e-4", "arith-tiny-1e-4-b", "arith-tiny-1e-3-b"
EXPL4_MAP, EXPL3_MAP = "explain-tiny-1e-4", "explain-tiny-1e-3"
SMOLX = "explain-smollm2-1e-4"
FRAME, FRAMEK = "docs/img/frame-regime/results.json", "docs/img/frame-regime/passk.json"
FRAME_START = "docs/img/frame-regime/start-tiny.json"


def suites(root: Path) -> dict:
    return json.loads((root / MAP).read_text())["suites"]


def mp(sid: str, k: int, key: str = "mean"):
    """GTPO - GRPO at pass@k of one suite of the map: mean, se, or a count (higher / level / lower)."""
    return value(MAP, "suites", sid, f"pass@{k}", key)


def at(sid: str, k: int):
    """(conflict share, mean, SE) of one suite at pass@k."""
    return share(sid), mp(sid, k), mp(sid, k, "se")


def share(sid: str):
    return value(MAP, "suites", sid, "conflict_share_pos")


def n_seeds(sid: str):
    return lambda root: float(len(suites(root)[sid]["seeds"]))


def vote(sid: str, k: int, side: str):
    return mp(sid, k, side)


def with_se(root: Path, k: int, lr: float | None = None, min_seeds: int = 2) -> list[dict]:
    """The pass@k differences of the map's suites (at `lr` when given) with an SE over at least `min_seeds` seeds."""
    return [p for r in suites(root).values()
            if (lr is None or r["lr"] == lr) and (p := r[f"pass@{k}"]) and p["se"] and p["n"] >= min_seeds]  # fmt: skip


def t_test(sid: str, k: int):
    """(t, two-sided p) of a 2- or 3-seed suite's paired pass@k difference: |mean| / SE on n - 1 degrees of
    freedom, from the t distribution's closed forms (1: a Cauchy tail, 2: 1 - t / sqrt(2 + t^2)). Fails
    with more seeds, so a sentence quoting it is revisited when seeds land."""

    def paired_n(root):
        p = suites(root)[sid][f"pass@{k}"]
        if p["n"] not in (2, 3):
            raise ValueError(f"{sid}: the closed-form t test covers 2-3 seeds, the map has {p['n']}")
        return p, p["n"] - 1

    def t(root):
        p, _ = paired_n(root)
        return abs(p["mean"]) / p["se"]

    def two_sided(root):
        _, df = paired_n(root)
        x = t(root)
        return 1 - 2 * math.atan(x) / math.pi if df == 1 else 1 - x / math.sqrt(2 + x * x)

    return t, two_sided


def ratio_range(k: int, lr: float | None = None, min_seeds: int = 2):
    """min and max |mean| / SE over the map's suites with a pass@k difference and an SE over at least
    `min_seeds` seeds (at `lr` when given)."""

    def ratios(root):
        return [abs(p["mean"]) / p["se"] for p in with_se(root, k, lr, min_seeds)]

    return (lambda root: min(ratios(root))), (lambda root: max(ratios(root)))


def task_shares(root: Path, task: str) -> list[float]:
    return [r["conflict_share_pos"] for r in suites(root).values() if r["task"] == task]


# the gap on the share axis: the largest `explain` share and the smallest `arith` share
share_gap = [lambda root: max(task_shares(root, "explain")), lambda root: min(task_shares(root, "arith"))]


def frame_lost(config: str, lr: float):
    """(seeds whose held-out format rate fell below 0.5, seeds) of a frame-regime config at `lr` (summary.json)."""

    def runs(root):
        summary = json.loads((root / "docs/img/frame-regime/summary.json").read_text())["tiny"]["runs"]
        return [r for r in summary if r["config"] == config and r["lr"] == lr]

    return (lambda root: float(sum(r["format_rate"] < 0.5 for r in runs(root)))), (lambda root: float(len(runs(root))))


def frame_runs(config: str, lr: float, key: str):
    """The values of `key` (accuracy, format_rate, pass_at_16) over the tiny model's frame-regime runs of `config`
    at `lr` (summary.json)."""

    def get(root):
        summary = json.loads((root / "docs/img/frame-regime/summary.json").read_text())["tiny"]["runs"]
        return [r[key] for r in summary if r["config"] == config and r["lr"] == lr]

    return get


def frame_entropy_last10(config: str, lr: float):
    """Each archived frame-regime run's training entropy over its last 10% of logged steps (frame_summary's rule)."""
    from frame_summary import phase_mean

    def get(root):
        folder = root / "docs/img/frame-regime" / ("runs" if lr == 1e-4 else "lr1e-3/runs")
        done = [json.loads(f.read_text()) for f in sorted(folder.glob(f"{config}-s*/done.json"))]
        return [phase_mean([row.get("entropy") for row in d["metrics"]], 0.9, 1.0) for d in done]

    return get


FRAME3_ACC = [frame_runs(c, 1e-3, "accuracy") for c in ("gtpo", "grpo")]
FRAME3_ENT = frame_entropy_last10("gtpo", 1e-3)

README = "README.md"
FIGURES += [
    # the demo at one torch thread (README "The demo, as measured")
    Figure(README, "with one thread (`OMP_NUM_THREADS=1`) that machine gave start\n{}, GTPO {} ({} +- {}), GRPO {} ({} +- {}).",
           [value(DEMO.format("o5-n30-threads1"), "models", m, "accuracy") for m in ("start",)]
           + [value(DEMO.format("o5-n30-threads1"), "models", "gtpo", "accuracy"), diff("o5-n30-threads1", "gtpo-start", "mean"),
              diff("o5-n30-threads1", "gtpo-start", "se"), value(DEMO.format("o5-n30-threads1"), "models", "grpo", "accuracy"),
              diff("o5-n30-threads1", "grpo-start", "mean"), diff("o5-n30-threads1", "grpo-start", "se")]),

    # "When to use GTPO": the regime map (docs/img/regime-map/regime_map.json) and the option advice
    Figure(README, "pass@16 was negative where that share was about half or more (SmolLM2-135M on `arith`, share {}: "
           "{} ± {}, {} seeds; the 0.9 M-parameter tiny model on `arith`, share {}: {} ± {}, lower in {} of 6 seeds) and "
           "positive where it was {} (the tiny model on `explain`, ~{}-token explained solutions: {} ± {}, higher in {} "
           "of 6 seeds); pass@1\nshowed no difference in the suites with 3-6 seeds ({} suites, each within {} SE of zero).",
           [*at(SMOL_MAP, 16), n_seeds(SMOL_MAP), *at(TINY4_MAP, 16), vote(TINY4_MAP, 16, "lower"),
            share(EXPL4_MAP), value(FRAME_START, "median_completion_tokens"), mp(EXPL4_MAP, 16), mp(EXPL4_MAP, 16, "se"),
            vote(EXPL4_MAP, 16, "higher"), lambda root: float(len(with_se(root, 1, 1e-4, 3))),
            ratio_range(1, 1e-4, 3)[1]]),
    Figure(README, "Where training broke (lr 1e-3) the signs reversed: pass@16 {} ± {} on `arith` (share {}, {} seeds), "
           "{} ± {} on `explain` ({} seeds). Each of these pass@16 differences is {}-{} SE; the axis holds two small "
           "models, one task at each end and no suite between {} and {}:",
           [mp(TINY3_MAP, 16), mp(TINY3_MAP, 16, "se"), share(TINY3_MAP), n_seeds(TINY3_MAP), mp(EXPL3_MAP, 16),
            mp(EXPL3_MAP, 16, "se"), n_seeds(EXPL3_MAP), *ratio_range(16), *share_gap]),
    Figure(README, "`negative_weight: 0.5` is worth a run when GTPO falls behind: it restored the tiny model's pass@16 "
           "({} ± {} over GTPO, higher in all {} seeds), not SmolLM2's ({} ± {}).",
           [paired(NEG4, NW, "gtpo", "pass@16"), paired(NEG4, NW, "gtpo", "pass@16", what="se"),
            count_pairs(seed_values(NEG4, NW, "pass@16"), seed_values(NEG4, "gtpo", "pass@16"), 1),
            paired(SMOL, NW, "gtpo", "pass@16"), paired(SMOL, NW, "gtpo", "pass@16", what="se")]),
    Figure(README, "Where the share is small (the tiny model on `explain`, {} seeds), GTPO's pass@16 was ahead of GRPO's, and "
           "GRPO with a KL term (beta 0.04) ahead of both ({} ± {} over GRPO at pass@16).",
           [lambda root: float(len(seed_values(FRAME, "grpo-kl", "pass@16")(root))),
            passk(FRAMEK, "grpo-kl", 16, "minus_ref"), passk(FRAMEK, "grpo-kl", 16, "minus_ref", 1)]),
    Figure(README, "GTPO lost the format in {} seed of 6 and GRPO in {} of 6, in both experiments",
           [GTPO_LOST, GRPO_LOST]),
    Figure(README, "in both experiments (Fisher p = {}), but collapsed its entropy (below 0.15 nats/token) in {} of 6 "
           "and {} of 6 seeds;",
           [FISHER_1_3, count(LR3_ENT["gtpo"], 0.15), count(NEG3_ENT["gtpo"], 0.15)]),
    Figure(README, "kept the format in {} of 6 seeds and still collapsed in {} of 6",
           [KEPT[NW], count(NEG3_ENT[NW], 0.15)]),
    Figure(README, "On `explain` GTPO lost the held-out format in {} of {} seeds, GRPO in {} of {}.",
           [*frame_lost("gtpo", 1e-3), *frame_lost("grpo", 1e-3)]),
    Figure(README, "There both methods' held-out accuracy fell to {}-{} and GTPO's entropy rose ({}-{} nats/token\n  in {} of "
           "6 seeds) instead of collapsing: the opposite of the paper's format claim, not significant (Fisher p = {}).",
           [lambda root: min(min(f(root)) for f in FRAME3_ACC), lambda root: max(max(f(root)) for f in FRAME3_ACC),
            lambda root: min(e for e in FRAME3_ENT(root) if e > 0.5), lambda root: max(FRAME3_ENT(root)),
            lambda root: float(sum(e > 0.5 for e in FRAME3_ENT(root))),
            fisher_two_sided(frame_lost("gtpo", 1e-3)[0], 6, frame_lost("grpo", 1e-3)[0], 6)]),
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
    Figure(README, "fell below it in two (seed 2: {}, with", [diff("o5-n30-seed2", "gtpo-start", "mean")]),
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


# results.md, section 7 and its summary item: the regime map's table and reading
def map_row(sid: str, label: str, ks: tuple[int, ...]) -> Figure:
    """A row of the map's table: seeds x samples, conflict share, then per k in `ks` mean ± SE (higher / level / lower)."""
    cells = "".join(" {} ± {} ({} / {} / {}) |" for _ in ks)
    rest = " - (4 samples) |" if 16 not in ks else ""
    sources = [n_seeds(sid), value(MAP, "suites", sid, "samples"), share(sid)]
    sources += [mp(sid, k, key) for k in ks for key in ("mean", "se", "higher", "level", "lower")]
    return Figure("docs/results.md", f"| {label} | {{}} x {{}} | {{}} |{cells}{rest}", sources)


FIGURES += [
    map_row(SMOL_MAP, "SmolLM2-135M, `arith`, lr 1e-4", (1, 16)),
    Figure("docs/results.md", "| SmolLM2-135M, `arith`, lr 1e-4, 4 samples: seed 0 of the row above | {} x {} | {} | {} (1 seed, no SE) "
           "| - (4 samples) |", [n_seeds("arith-smollm2-1e-4-1seed"), value(MAP, "suites", "arith-smollm2-1e-4-1seed", "samples"),
                                 share("arith-smollm2-1e-4-1seed"), mp("arith-smollm2-1e-4-1seed", 1)]),
    map_row("arith-tiny-1e-4-a", "tiny, `arith`, lr 1e-4 (2026-11-25 start)", (1,)),
    map_row(TINY4_MAP, "tiny, `arith`, lr 1e-4 (2026-12-02 start)", (1, 16)),
    map_row("arith-tiny-1e-3-a", "tiny, `arith`, lr 1e-3 (2026-11-25 start)", (1,)),
    map_row(TINY3_MAP, "tiny, `arith`, lr 1e-3 (2026-12-02 start)", (1, 16)),
    map_row(EXPL4_MAP, "tiny, `explain`, lr 1e-4", (1, 16)),
    map_row(EXPL3_MAP, "tiny, `explain`, lr 1e-3", (1, 16)),
    Figure("docs/results.md", "pass@16 went from below GRPO where conflict tokens were about half or more of a positive completion "
           "({} ± {} at share {}, SmolLM2; {} ± {} at {}, tiny model) to above it at {} ({} ± {}, `explain`); pass@1 showed no "
           "difference in the suites with 3-6 seeds. SmolLM2 on `explain` (share {}, {} of 3 seeds so far): "
           "{} ± {} at pass@16 (level in {} seed) and {} ± {} at pass@1 (higher in both); too few seeds to call. Where training broke (lr 1e-3) the signs reversed ({} ± {} at {}, "
           "{} ± {} at {}). Differences of {}-{} SE,",
           [mp(SMOL_MAP, 16), mp(SMOL_MAP, 16, "se"), share(SMOL_MAP), mp(TINY4_MAP, 16), mp(TINY4_MAP, 16, "se"),
            share(TINY4_MAP), share(EXPL4_MAP), mp(EXPL4_MAP, 16), mp(EXPL4_MAP, 16, "se"), share(SMOLX), n_seeds(SMOLX),
            mp(SMOLX, 16), mp(SMOLX, 16, "se"), mp(SMOLX, 16, "level"), mp(SMOLX, 1), mp(SMOLX, 1, "se"), mp(TINY3_MAP, 16),
            mp(TINY3_MAP, 16, "se"), share(TINY3_MAP), mp(EXPL3_MAP, 16), mp(EXPL3_MAP, 16, "se"), share(EXPL3_MAP),
            *ratio_range(16)]),
    Figure("docs/results.md", "negative at {} (SmolLM2, {} seeds) and {} (tiny model, {} seeds), positive at {} (`explain`, {} "
           "seeds). Three suites with 5-6 seeds, each {}-{} SE from zero. SmolLM2 on `explain` (share {}, {} seeds so far) is "
           "level-to-positive, {} ± {} ({} and {}): not yet on either side.",
           [share(SMOL_MAP), n_seeds(SMOL_MAP), share(TINY4_MAP), n_seeds(TINY4_MAP), share(EXPL4_MAP), n_seeds(EXPL4_MAP),
            *ratio_range(16, 1e-4, 5),
            share(SMOLX), n_seeds(SMOLX), mp(SMOLX, 16), mp(SMOLX, 16, "se"),
            *(value(MAP, "suites", SMOLX, "pass@16", "diffs", i) for i in (0, 1))]),
    Figure("docs/results.md", "the four of them at lr 1e-4 are each within {} SE of zero. SmolLM2 on `explain` ({} seeds so far) "
           "had GTPO higher at pass@1 in both ({} and {}; {} ± {}); with one degree of freedom that is not yet a measured "
           "difference (t = {}, p = {}, weaker evidence than the {} SE over 6 seeds",
           [ratio_range(1, 1e-4, 3)[1], n_seeds(SMOLX),
            value(MAP, "suites", SMOLX, "pass@1", "diffs", 0), value(MAP, "suites", SMOLX, "pass@1", "diffs", 1),
            mp(SMOLX, 1), mp(SMOLX, 1, "se"), *t_test(SMOLX, 1),
            ratio_range(1, 1e-4, 3)[1]]),
    Figure("docs/results.md", "GTPO ahead on `arith` (pass@1 {} ± {} and pass@16 {} ± {} in the 2026-12-02 suite), behind on "
           "`explain` ({} ± {} and {} ± {}, {} seeds;",
           [mp(TINY3_MAP, 1), mp(TINY3_MAP, 1, "se"), mp(TINY3_MAP, 16), mp(TINY3_MAP, 16, "se"), mp(EXPL3_MAP, 1),
            mp(EXPL3_MAP, 1, "se"), mp(EXPL3_MAP, 16), mp(EXPL3_MAP, 16, "se"), n_seeds(EXPL3_MAP)]),
    Figure("docs/results.md", "(every `arith` suite at {}-{}, every\n  `explain` suite at or below {}, nothing between)",
           [lambda root: min(task_shares(root, "arith")), lambda root: max(task_shares(root, "arith")),
            lambda root: max(task_shares(root, "explain"))]),
]
def frame3_broke(config: str):
    """The first training step whose format rate fell below 0.5, per lr 1e-3 frame-regime run of `config`."""
    from frame_summary import broke_at

    def get(root):
        done = sorted((root / "docs/img/frame-regime/lr1e-3/runs").glob(f"{config}-s*/done.json"))
        return [float(broke_at(json.loads(f.read_text()))) for f in done]

    return get


# results.md section 6: the lr 1e-3 suite on `explain`
FRAME3_LOST = [frame_lost(c, 1e-3)[0] for c in ("gtpo", "grpo")]
FIGURES += [
    Figure("docs/results.md", "in all {} runs (GRPO first at steps {}-{},\nGTPO at {}-{}), and held-out accuracy fell to {}-{} "
           "(GTPO {} in every seed).",
           [lambda root: float(len(frame3_broke("gtpo")(root)) + len(frame3_broke("grpo")(root))),
            lambda root: min(frame3_broke("grpo")(root)), lambda root: max(frame3_broke("grpo")(root)),
            lambda root: min(frame3_broke("gtpo")(root)), lambda root: max(frame3_broke("gtpo")(root)),
            lambda root: min(min(f(root)) for f in FRAME3_ACC), lambda root: max(max(f(root)) for f in FRAME3_ACC),
            lambda root: max(FRAME3_ACC[0](root))]),
    Figure("docs/results.md", "the difference in lost formats ({} of 6\nagainst {} of 6) is not significant (Fisher p = {}).",
           [*FRAME3_LOST, fisher_two_sided(FRAME3_LOST[0], 6, FRAME3_LOST[1], 6)]),
    Figure("docs/results.md", "GTPO - GRPO is {} ± {} at pass@1 and\n{} ± {} at pass@16 (lower in {} seeds, level at zero in {})",
           [mp(EXPL3_MAP, 1), mp(EXPL3_MAP, 1, "se"), mp(EXPL3_MAP, 16), mp(EXPL3_MAP, 16, "se"),
            mp(EXPL3_MAP, 16, "lower"), mp(EXPL3_MAP, 16, "level")]),
    Figure("docs/frame-regime.md", "GTPO - GRPO, paired by seed: {} ± {} at pass@1, {} ± {} at pass@16 (lower in {} seeds,\n"
           "level at zero in {}). Held-out format lost (below 0.5) in {} of 6 GTPO seeds and {} of 6 GRPO seeds\n(Fisher p = {}).",
           [mp(EXPL3_MAP, 1), mp(EXPL3_MAP, 1, "se"), mp(EXPL3_MAP, 16), mp(EXPL3_MAP, 16, "se"),
            mp(EXPL3_MAP, 16, "lower"), mp(EXPL3_MAP, 16, "level"), *FRAME3_LOST,
            fisher_two_sided(FRAME3_LOST[0], 6, FRAME3_LOST[1], 6)]),
]

# frame-regime.md: the SmolLM2 start on `explain`
SMOL_START = "docs/img/frame-regime/start-smollm2.json"
FIGURES += [
    Figure("docs/frame-regime.md", "| SmolLM2-135M-Instruct, SFT on `explain` | {} [{}, {}] | {} | {} | {} | {} / {} | {}% / {}% / {}% "
           "| {} ({}) tokens | start-smollm2.json |",
           [value(SMOL_START, "median_completion_tokens"), value(SMOL_START, "completion_tokens_quartiles", 0),
            value(SMOL_START, "completion_tokens_quartiles", 1), value(SMOL_START, "accuracy"),
            value(SMOL_START, "format_rate"), value(SMOL_START, "pass@8"), value(SMOL_START, "conflict_share_pos"),
            value(SMOL_START, "conflict_share_neg")]
           + [shift(value(SMOL_START, "conflict_tokens_pos", part, "share_of_conflicts"), 100)
              for part in ("frame", "reasoning", "answer")]
           + [value(SMOL_START, "pair_common_prefix_tokens", "median"), value(SMOL_START, "pair_common_prefix_tokens", "mean")]),
]


def frame_model_runs_of(root: Path, model: str) -> list[dict]:
    """The finished frame-regime runs of `model` in docs/img/frame-regime/summary.json."""
    return json.loads((root / "docs/img/frame-regime/summary.json").read_text())[model]["runs"]


def frame_model_runs(model: str, config: str, key: str, seed: int):
    """`key` of the finished frame-regime run of `config` and `seed` for `model` (summary.json)."""

    def get(root):
        (run,) = [r for r in frame_model_runs_of(root, model) if r["config"] == config and r["seed"] == seed]
        return run[key]

    return get


def smol_format_range_end(which):
    """min or max held-out format rate over the finished SmolLM2 `explain` runs (summary.json)."""
    return lambda root: which(r["format_rate"] for r in frame_model_runs_of(root, "smollm2"))


smol_format_range = (smol_format_range_end(min), smol_format_range_end(max))

FIGURES += [
    Figure("docs/results.md", "| SmolLM2-135M, `explain`, lr 1e-4 (seeds 0-1 of 3) | {} x {} | {} | {} ± {} ({} / {} / {}) | {} ± {} ({} / {} / {}) |",
           [n_seeds(SMOLX), value(MAP, "suites", SMOLX, "samples"), share(SMOLX)]
           + [mp(SMOLX, k, key) for k in (1, 16) for key in ("mean", "se", "higher", "level", "lower")]),
    Figure("docs/frame-regime.md", "GTPO - GRPO, paired by seed: {} ± {} at pass@1 ({} and {}: higher in both seeds) and\n{} ± {} "
           "at pass@16 ({} and {}).",
           [mp(SMOLX, 1), mp(SMOLX, 1, "se"), *(value(MAP, "suites", SMOLX, "pass@1", "diffs", i) for i in (0, 1)),
            mp(SMOLX, 16), mp(SMOLX, 16, "se"), *(value(MAP, "suites", SMOLX, "pass@16", "diffs", i) for i in (0, 1))]),
    *(Figure("docs/frame-regime.md", f"| {label} | {seed} | {{}} | {{}} | {{}} |",
             [frame_model_runs("smollm2", config, k, seed) for k in ("accuracy", "format_rate", "pass_at_16")])
      for config, label in (("gtpo", "GTPO"), ("grpo", "GRPO, beta 0")) for seed in (0, 1)),
    Figure("docs/results.md", "32 problems x 16 samples: GTPO {} and {}, GRPO (beta 0) {} and {} held-out accuracy;\nGTPO - GRPO {} ± {} "
           "at pass@1 and {} ± {} at pass@16 (paired by seed, {} seeds).",
           [*(frame_model_runs("smollm2", c, "accuracy", seed) for c in ("gtpo", "grpo") for seed in (0, 1)),
            mp(SMOLX, 1), mp(SMOLX, 1, "se"), mp(SMOLX, 16), mp(SMOLX, 16, "se"), n_seeds(SMOLX)]),
    Figure("docs/results.md", "{} of its 3 GTPO / GRPO seeds have finished: GTPO above GRPO by {} ± {} at pass@1 (higher in {} of {}) and "
           "{} ± {} at pass@16 (higher in {}, level in {}), both keeping the format ({}-{})",
           [n_seeds(SMOLX), mp(SMOLX, 1), mp(SMOLX, 1, "se"), mp(SMOLX, 1, "higher"), n_seeds(SMOLX), mp(SMOLX, 16),
            mp(SMOLX, 16, "se"), mp(SMOLX, 16, "higher"), mp(SMOLX, 16, "level"), *smol_format_range]),
    Figure("docs/frame-regime.md", "the pass@1 gap is not yet a measured difference (t = {}, two-sided p = {})", [*t_test(SMOLX, 1)]),
    Figure("docs/results.md", "(the pass@1 gap: t = {}, two-sided p = {})", [*t_test(SMOLX, 1)]),
    Figure("docs/frame-regime.md", "GTPO's conflict share of positive completions over its first 10% of steps: {} and {} (mean {})",
           [value(MAP, "suites", SMOLX, "conflict_share_range", 0), value(MAP, "suites", SMOLX, "conflict_share_range", 1),
            share(SMOLX)]),
    Figure(README, "SmolLM2-135M on `explain` (median {} tokens at its start, share {}) has {} of its 3 seeds so far: GTPO "
           "above GRPO by {} ± {} at pass@1 (higher in {} of {} seeds) and {} ± {} at pass@16 (higher in {} seed, level in "
           "{}); with one degree of freedom neither is yet a measured difference.",
           [value(SMOL_START, "median_completion_tokens"), share(SMOLX), n_seeds(SMOLX), mp(SMOLX, 1), mp(SMOLX, 1, "se"),
            mp(SMOLX, 1, "higher"), n_seeds(SMOLX), mp(SMOLX, 16), mp(SMOLX, 16, "se"), mp(SMOLX, 16, "higher"),
            mp(SMOLX, 16, "level")]),
]
FIGURES.append(Figure("docs/results.md", "measured (median {} tokens, accuracy {}, conflict share of positive completions {})",
                      [value(SMOL_START, "median_completion_tokens"), value(SMOL_START, "accuracy"),
                       value(SMOL_START, "conflict_share_pos")]))  # fmt: skip
FIGURES.append(Figure("docs/benchmarks.md", "| {} suites (SmolLM2 on `explain`: seeds 0-1 of 3) and {} not measured |",
                      [lambda root: float(len(suites(root))),
                       lambda root: float(len(json.loads((root / MAP).read_text())["not_measured"]))]))  # fmt: skip
