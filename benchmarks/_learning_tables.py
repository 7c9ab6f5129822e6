"""Tables and plots of `bench_learning.py`: per-configuration statistics over seeds, differences to a
reference configuration, the markdown table and the training-curve figure.

`aggregate` turns the finished runs (`done.json` rows with their held-out samples) into the results dict
written as OUT/SUITE/results.json: per configuration the held-out metrics over seeds, the mean of each
training metric over the first and last 10% of steps, the per-step curves (mean, min, max over seeds),
and per-problem accuracies for `compare`'s paired standard error.
"""

from __future__ import annotations

import math
from pathlib import Path

from gtpo.eval.metrics import paired_difference, per_problem_accuracy

CURVES = (("accuracy", "accuracy (training samples)"), ("format_rate", "formatting rate (training samples)"),
          ("entropy", "mean token entropy (nats)"))  # fmt: skip
EXTRA_CURVES = (("reward", "reward (training samples)"), ("completion_length", "completion length (tokens)"),
                ("conflict_frac_pos", "conflict share, positive"), ("conflict_frac_neg", "conflict share, negative"))  # fmt: skip
HELDOUT = (("accuracy", "held-out accuracy"), ("format_rate", "held-out formatting rate"))
DIAGNOSTICS = ("filtered_frac", "conflict_frac_pos", "conflict_frac_neg", "completion_length", "kl")


# ---------------------------------------------------------------- aggregation
def stats(values: list[float]) -> dict:
    clean = [v for v in values if v is not None and math.isfinite(v)]
    if not clean:
        return {"n": 0}
    mean = sum(clean) / len(clean)
    std = math.sqrt(sum((v - mean) ** 2 for v in clean) / (len(clean) - 1)) if len(clean) > 1 else 0.0
    return {"n": len(clean), "mean": mean, "std": std, "min": min(clean), "max": max(clean), "values": clean}


def series(done: dict, key: str) -> list[float | None]:
    return [row.get(key) for row in done["metrics"]]


def phase_mean(values: list[float | None], lo: float, hi: float) -> float | None:
    part = [v for v in values[int(len(values) * lo) : max(int(len(values) * hi), 1)] if v is not None]
    return sum(part) / len(part) if part else None


def aggregate(runs: list[dict], start_row: dict, ks: list[int]) -> dict:
    configs: dict[str, dict] = {}
    for done in runs:
        configs.setdefault(done["name"], {"runs": []})["runs"].append(done)
    eval_keys = ["accuracy", "format_rate", *[f"pass@{k}" for k in ks if k > 1], *[f"maj@{k}" for k in ks if k > 1],
                 "mean_tokens"]  # fmt: skip
    out: dict = {"start": {k: start_row.get(k) for k in eval_keys}, "configs": {}}
    for name, group in configs.items():
        rs = group["runs"]
        entry: dict = {"seeds": [r["seed"] for r in rs], "heldout": {}, "training": {}, "curves": {}}
        for key in eval_keys:
            entry["heldout"][key] = stats([r["eval"].get(key) for r in rs])
        for key in [k for k, _ in CURVES] + list(DIAGNOSTICS):
            entry["training"][key] = {
                "first10%": stats([phase_mean(series(r, key), 0.0, 0.1) for r in rs]),
                "last10%": stats([phase_mean(series(r, key), 0.9, 1.0) for r in rs]),
                "mean": stats([phase_mean(series(r, key), 0.0, 1.0) for r in rs]),
            }
        for key, _ in (*CURVES, *EXTRA_CURVES):
            length = min(len(r["metrics"]) for r in rs)
            per_step = [stats([series(r, key)[i] for r in rs]) for i in range(length)]
            entry["curves"][key] = {"mean": [s.get("mean") for s in per_step], "min": [s.get("min") for s in per_step],
                                    "max": [s.get("max") for s in per_step]}  # fmt: skip
        entry["train_s"] = stats([r["train_s"] for r in rs])
        entry["eval_s"] = stats([r["eval_s"] for r in rs])
        entry["per_problem"] = _mean_per_problem(rs)
        entry["runs"] = [{"seed": r["seed"], "eval_dir": r["eval_dir"]} for r in rs]  # for bench_passk.py
        out["configs"][name] = entry
    return out


def _mean_per_problem(rs: list[dict]) -> dict[str, float]:
    tables = [per_problem_accuracy(Path(r["eval_dir"]) / "samples.jsonl") for r in rs]
    keys = set.intersection(*(set(t) for t in tables))
    return {k: sum(t[k] for t in tables) / len(tables) for k in sorted(keys)}


def compare(results: dict, ref: str) -> dict:
    """Each config minus `ref`: seed-level difference (Welch SE) and per-problem paired SE."""
    base = results["configs"].get(ref)
    out = {}
    for name, entry in results["configs"].items():
        if base is None or name == ref:
            continue
        a, b = entry["heldout"]["accuracy"], base["heldout"]["accuracy"]
        se = math.sqrt(a["std"] ** 2 / a["n"] + b["std"] ** 2 / b["n"]) if a["n"] > 1 and b["n"] > 1 else None
        pa, pb = entry["per_problem"], base["per_problem"]
        _, paired_se, problems = paired_difference(pa, pb)
        out[name] = {"diff": a["mean"] - b["mean"], "seed_se": se, "paired_se": paired_se, "problems": problems}
    return out


# ---------------------------------------------------------------- outputs
def fmt(s: dict, digits: int = 3) -> str:
    if not s.get("n"):
        return "-"
    if s["n"] == 1:
        return f"{s['mean']:.{digits}f}"
    return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f} [{s['min']:.{digits}f}, {s['max']:.{digits}f}]"


def table(results: dict, ks: list[int], ref: str) -> str:
    k = max(ks)
    cols = ["accuracy", "format_rate"] + ([f"pass@{k}", f"maj@{k}"] if k > 1 else [])
    lines = ["| config | seeds | held-out " + " | ".join(cols) + f" | acc. - {ref} (seed SE / paired SE) | "
             "entropy first -> last 10% | filtered | train s |", "|---" * (len(cols) + 6) + "|"]  # fmt: skip
    start = results["start"]
    lines.append("| warm start | - | " + " | ".join(f"{start[c]:.3f}" for c in cols) + " | | | | |")
    diffs = results["comparison"]
    for name, e in results["configs"].items():
        d = diffs.get(name)
        delta = "-" if d is None else (f"{d['diff']:+.3f} ({d['seed_se']:.3f} / {d['paired_se']:.3f})"
                                       if d["seed_se"] is not None else f"{d['diff']:+.3f} (- / {d['paired_se']:.3f})")  # fmt: skip
        ent = e["training"]["entropy"]
        filt = e["training"]["filtered_frac"]["mean"]
        lines.append(f"| {name} | {len(e['seeds'])} | " + " | ".join(fmt(e["heldout"][c]) for c in cols)
                     + f" | {delta} | {fmt(ent['first10%'])} -> {fmt(ent['last10%'])} | "
                     f"{fmt(filt) if filt.get('n') else '-'} | {e['train_s']['mean']:.0f} |")  # fmt: skip
    return "\n".join(lines)


def plot(results: dict, panels: dict[str, tuple[str, ...]], path: Path, title: str, curves=CURVES) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gtpo.report import smooth

    configs = results["configs"]
    rows = [(label, [n for n in names if n in configs]) for label, names in panels.items()]
    rows = [r for i, r in enumerate(rows) if r[1] and not any(set(r[1]) <= set(o[1]) for o in rows[:i])]  # no repeats
    fig, axes = plt.subplots(len(rows), len(curves) + len(HELDOUT), figsize=(3 * (len(curves) + len(HELDOUT)), 3.6 * len(rows)),
                             squeeze=False)  # fmt: skip
    for (label, names), axrow in zip(rows, axes, strict=True):
        axrow[0].set_ylabel(label, fontsize=10, fontweight="bold")  # the panel's name, once per row
        for ax, (key, ylabel) in zip(axrow, curves, strict=False):
            for i, name in enumerate(names):
                c = configs[name]["curves"][key]
                keep = [j for j, v in enumerate(c["mean"]) if v is not None]
                if not keep:
                    continue
                steps = [j + 1 for j in keep]
                window = max(1, len(keep) // 10)
                sm = {part: smooth([c[part][j] for j in keep], window) for part in ("mean", "min", "max")}
                n = len(configs[name]["seeds"])
                ax.plot(steps, sm["mean"], color=f"C{i}", lw=2, label=f"{name} (n={n})")
                ax.fill_between(steps, sm["min"], sm["max"], color=f"C{i}", alpha=0.15)
            ax.set_title(ylabel, fontsize=9)
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        for ax, (key, what) in zip(axrow[len(curves):], HELDOUT, strict=True):
            for i, name in enumerate(names):
                vals = configs[name]["heldout"][key]["values"]
                ax.scatter([i] * len(vals), vals, color=f"C{i}", s=25)
                ax.errorbar([i], [sum(vals) / len(vals)], yerr=[configs[name]["heldout"][key]["std"]],
                            fmt="_", color="k", markersize=18, capsize=4)  # fmt: skip
            ax.axhline(results["start"][key], color="grey", ls="--", lw=1, label="warm start")
            ax.set_xticks(range(len(names)), names, rotation=20, fontsize=7)
            ax.set_title(what, fontsize=9)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    fig.suptitle(title + " (curves: mean over seeds, moving average, band min..max; held-out: dots = seeds, bar = mean ± std)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
