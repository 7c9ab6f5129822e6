"""pass@k curves (k = 1..n, the unbiased estimator) from a `bench_learning.py` results folder.

For each configuration of a suite's results.json, every run's held-out samples (n per problem) give
per-problem correct counts c; pass@k = mean over problems of 1 - C(n - c, k) / C(n, k)
(`gtpo.eval.metrics.pass_at_k`), then mean +- standard error over seeds. Paired differences against
`--ref` use the same seeds and problems (per seed, the mean over problems of the per-problem
difference; then mean +- SE over seeds). The start model's curve (one evaluation, no seeds) comes from
its samples in OUT/runs/start-*/. Writes OUT/SUITE/passk.json, OUT/SUITE/passk.md and IMG/SUITE_passk.png.
`bench_learning.py` calls it at the end of a suite evaluated with more than one sample per problem.

    .venv/bin/python benchmarks/bench_passk.py --out runs/bench-neg-lr1e-3 --suite negatives --ref grpo \\
        --img docs/img/negatives-lr1e-3
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # this checkout's gtpo (see bench_learning)

from gtpo.eval.metrics import pass_at_k  # noqa: E402
from gtpo.run.io import read_jsonl, write_text_atomic  # noqa: E402


def counts(samples_file: Path) -> dict[str, tuple[int, int]]:
    """problem id -> (n samples, c correct)."""
    seen: dict[str, list[bool]] = {}
    for row in read_jsonl(samples_file, torn="error"):
        seen.setdefault(str(row["id"]), []).append(bool(row["correct"]))
    return {key: (len(v), sum(v)) for key, v in seen.items()}


def curve(table: dict[str, tuple[int, int]]) -> list[float]:
    n = min(n for n, _ in table.values())
    return [sum(pass_at_k(n, c, k) for n, c in table.values()) / len(table) for k in range(1, n + 1)]


def mean_se(values: list[float]) -> tuple[float, float]:
    m = sum(values) / len(values)
    se = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1) / len(values)) if len(values) > 1 else math.nan
    return m, se


def start_samples(out: Path, results: dict) -> Path | None:
    """The start model's samples.jsonl: the folder results.json names, else the one OUT/runs/start-*/."""
    named = results.get("settings", {}).get("start_eval_dir")
    found = [Path(named)] if named else sorted(out.glob("runs/start-*"))
    found = [f / "samples.jsonl" for f in found if (f / "samples.jsonl").is_file()]
    return found[0] if len(found) == 1 else None


def markdown(out: dict[str, dict], ref: str) -> str:
    """pass@k at k = 1, 2, 4, ... (mean +- SE over seeds) and each configuration minus `ref` (paired over seeds)."""
    ks = sorted(set.intersection(*(set(row["pass@k"]) for row in out.values())))
    show = [k for k in ks if k & (k - 1) == 0]  # powers of two
    lines = ["| config | seeds | " + " | ".join(f"pass@{k}" for k in show) + " |", "|---|---|" + "---|" * len(show)]
    for name, row in out.items():
        cells = [fmt_cell(*row["pass@k"][k]) for k in show]
        lines.append(f"| {name} | {len(row['seeds']) or '-'} | " + " | ".join(cells) + " |")
    for name, row in out.items():
        if "minus_ref" in row:
            cells = [fmt_cell(*row["minus_ref"][k], sign=True) for k in show]
            lines.append(f"| {name} - {ref} (paired) | {len(row['seeds'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fmt_cell(mean: float, se: float, sign: bool = False) -> str:
    text = f"{mean:+.3f}" if sign else f"{mean:.3f}"
    return text + (f" ± {se:.3f}" if math.isfinite(se) else "")


def passk_tables(out: Path, suite: str, ref: str, img: Path) -> str:
    """Write OUT/SUITE/passk.json, passk.md and IMG/SUITE_passk.png from OUT/SUITE/results.json; return the markdown."""
    results = json.loads((out / suite / "results.json").read_text())
    curves: dict[str, dict[int, list[float]]] = {}
    for name, entry in results["configs"].items():
        for run in entry["runs"]:
            curves.setdefault(name, {})[run["seed"]] = curve(counts(Path(run["eval_dir"]) / "samples.jsonl"))
    rows: dict[str, dict] = {}
    start = start_samples(out, results)
    if start is not None:
        rows["start"] = {"seeds": [], "pass@k": {k: (v, math.nan) for k, v in enumerate(curve(counts(start)), 1)}}
    for name, by_seed in curves.items():
        ks = range(1, min(len(c) for c in by_seed.values()) + 1)
        row = {"seeds": sorted(by_seed), "pass@k": {k: mean_se([c[k - 1] for c in by_seed.values()]) for k in ks}}
        if name != ref and ref in curves:
            shared = sorted(set(by_seed) & set(curves[ref]))
            row["minus_ref"] = {k: mean_se([by_seed[s][k - 1] - curves[ref][s][k - 1] for s in shared]) for k in ks}
        rows[name] = row
    path = out / suite / "passk.json"
    write_text_atomic(path, json.dumps(rows, indent=1) + "\n")
    md = markdown(rows, ref)
    write_text_atomic(path.with_suffix(".md"), md + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, row in rows.items():
        ks = sorted(row["pass@k"])
        means = [row["pass@k"][k][0] for k in ks]
        ses = [row["pass@k"][k][1] if math.isfinite(row["pass@k"][k][1]) else 0 for k in ks]
        style = {"color": "black", "linestyle": "--"} if name == "start" else {}
        ax.errorbar(ks, means, yerr=ses, label=name, capsize=2, **style)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k")
    ax.set_ylabel("pass@k (held-out)")
    ax.set_title(f"{suite}: pass@k, mean ± SE over seeds", fontsize=9)
    ax.legend()
    img.mkdir(parents=True, exist_ok=True)
    fig.savefig(img / f"{suite}_passk.png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return md


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="the bench_learning --out folder")
    p.add_argument("--suite", required=True)
    p.add_argument("--ref", default="grpo", help="configuration the paired differences are taken against")
    p.add_argument("--img", default="docs/img")
    args = p.parse_args()
    print(passk_tables(Path(args.out), args.suite, args.ref, Path(args.img)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
