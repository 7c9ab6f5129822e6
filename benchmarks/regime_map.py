"""docs/img/regime-map: GTPO - GRPO against the conflict share of positive completions, every suite measured.

A suite is one model, task, learning rate and start on which GTPO (the paper's formula) and GRPO (beta 0)
were trained by one `bench_learning.py` command: the same start, training prompts, budget and seeds,
sampled on the same held-out problems with the same eval seed. For each suite this computes:
- GTPO - GRPO of held-out pass@1 (accuracy) and pass@16, paired by seed: per seed s, d_s = GTPO_s -
  GRPO_s over the seeds both configurations ran; the mean of d_s, its standard error over seeds
  (sample SD with n - 1, over sqrt(n); none with one seed), and in how many seeds GTPO was higher, level
  and lower. pass@16 is the unbiased estimator the evaluation stores; a suite that drew fewer than 16
  samples per problem has none (the table says so).
- the conflict share of positive completions: per GTPO run, the mean of its logged `conflict_frac_pos`
  (trainer metric `gtpo/conflict_frac_pos`: conflict tokens / tokens of the positive completions) over
  the first 10% of its logged steps (bench_learning's `first10%` window, `frame_summary.phase_mean`),
  then the mean over the suite's GTPO runs. Read from the runs' archived done.json (`explain`), else
  from the suite's results.json, which stores the same per-run values (`arith`). The first 10% is the
  regime near the start: at lr 1e-3 the share grows as runs collapse.

Suites (ARITH: results.json files; EXPLAIN: the frame regime's archived runs, one suite per learning
rate, found at run time, so seeds archived later count on the next run):
- tiny model on `arith`: 2026-11-25 at lr 1e-4 and 1e-3 (bench_learning.json; the variants-* and
  components suites reuse these GTPO and GRPO runs, so they add no suite), 2026-12-02 at lr 1e-4 and 1e-3
  (negatives-*; another build of the start); the *_oldreward files use a superseded reward and are left out;
- SmolLM2-135M on `arith`: 5 seeds (smollm2-negatives) and the earlier 1 seed x 4 samples (smollm2/),
  whose training is seed 0 of the five (the table says so);
- `explain`: the tiny model (frame-regime/runs, frame-regime/lr*/runs) and SmolLM2 (frame-regime/smollm2/
  runs and lr*/runs; "not measured" until its runs are archived).

    .venv/bin/python benchmarks/regime_map.py      # writes docs/img/regime-map/regime_map.{json,md,png}
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from frame_summary import argv_value, phase_mean  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KS = (1, 16)
# (id, results.json under IMG, model, label): one comparison each; the label names the start build's date
ARITH = [
    ("arith-tiny-1e-4-a", "bench_learning.json", "tiny", "tiny arith 1e-4 (11-25)"),
    ("arith-tiny-1e-3-a", "lr1e-3/bench_learning.json", "tiny", "tiny arith 1e-3 (11-25)"),
    ("arith-tiny-1e-4-b", "negatives-lr1e-4/results.json", "tiny", "tiny arith 1e-4 (12-02)"),
    ("arith-tiny-1e-3-b", "negatives-lr1e-3/results.json", "tiny", "tiny arith 1e-3 (12-02)"),
    ("arith-smollm2-1e-4", "smollm2-negatives/results.json", "SmolLM2-135M", "SmolLM2 arith 1e-4"),
    ("arith-smollm2-1e-4-1seed", "smollm2/bench_real.json", "SmolLM2-135M", "SmolLM2 arith 1e-4 (4 samples)"),
]
NOTES = {"arith-smollm2-1e-4-1seed": "the same training as seed 0 of arith-smollm2-1e-4 (identical GTPO conflict "
         "shares), evaluated with 4 samples: not independent of it"}  # fmt: skip
# (model, run folders under IMG) of the `explain` suites
EXPLAIN = [("tiny", ("frame-regime/runs", "frame-regime/lr*/runs")),
           ("SmolLM2-135M", ("frame-regime/smollm2/runs", "frame-regime/smollm2/lr*/runs"))]  # fmt: skip
ALGO_FLAGS = ("--algo", "--beta", "--seed")  # what may differ between a suite's GTPO and GRPO runs


def paired(a: dict[int, float | None], b: dict[int, float | None]) -> dict | None:
    """a - b over the seeds both have a value for: mean, SE over seeds (n - 1), higher/level/lower counts."""
    seeds = sorted(s for s in a if s in b and a[s] is not None and b[s] is not None)
    if not seeds:
        return None
    diffs = [a[s] - b[s] for s in seeds]
    n, mean = len(diffs), sum(diffs) / len(diffs)
    se = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1) / n) if n > 1 else None
    return {"n": n, "mean": mean, "se": se, "higher": sum(d > 0 for d in diffs), "level": sum(d == 0 for d in diffs),
            "lower": sum(d < 0 for d in diffs), "seeds": seeds, "diffs": diffs}  # fmt: skip


def suite(
    meta: dict, gtpo: dict[int, dict], grpo: dict[int, dict], shares: list[float], samples: int
) -> dict:
    """One row: meta + the paired differences at each k + the conflict share (mean, range) of the GTPO runs."""
    row = dict(meta, samples=samples, seeds=sorted(set(gtpo) & set(grpo)), conflict_runs=len(shares))
    row["conflict_share_pos"] = sum(shares) / len(shares) if shares else None
    row["conflict_share_range"] = [min(shares), max(shares)] if shares else None
    for k in KS:
        key = f"pass@{k}"
        row[key] = (
            None
            if samples < k
            else paired({s: r[key] for s, r in gtpo.items()}, {s: r[key] for s, r in grpo.items()})
        )
    return row


def from_results(path: Path) -> tuple[dict[str, dict[int, dict]], list[float], dict]:
    """Per config, seed -> {pass@1, pass@16}; the GTPO runs' first-10% conflict shares; the settings."""
    d = json.loads(path.read_text())
    per: dict[str, dict[int, dict]] = {}
    for name in ("gtpo", "grpo"):
        c = d["configs"][name]
        cols = {
            f"pass@{k}": c["heldout"].get("accuracy" if k == 1 else f"pass@{k}", {}).get("values") for k in KS
        }
        for key, values in cols.items():
            if values is not None and len(values) != len(c["seeds"]):
                raise SystemExit(
                    f"regime_map: {path} {name} {key}: {len(values)} values for seeds {c['seeds']}"
                )
        per[name] = {
            s: {key: values[i] if values else None for key, values in cols.items()}
            for i, s in enumerate(c["seeds"])
        }
    shares = d["configs"]["gtpo"]["training"]["conflict_frac_pos"]["first10%"].get("values", [])
    return per, shares, d["settings"]


def arith_suites(img: Path) -> list[dict]:
    rows = []
    for sid, file, model, label in ARITH:
        per, shares, st = from_results(img / file)
        meta = {"id": sid, "label": label, "model": model, "task": st.get("task") or "arith", "lr": st["lr"],
                "problems": st["eval_problems"], "steps": st["steps"], "completions_per_step": st["prompts"] * st["group_size"],
                "start_sha256": st["start_sha256"], "source": f"docs/img/{file}", "conflict_source": "results.json first10%"}  # fmt: skip
        if sid in NOTES:
            meta["note"] = NOTES[sid]
        rows.append(suite(meta, per["gtpo"], per["grpo"], shares, st["eval_samples"]))
    return rows


def budget(argv: list[str]) -> list[str]:
    """A run's command line without the flags that define the configuration and the seed."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in ALGO_FLAGS:
            skip = True
        else:
            out.append(a)
    return out


def run_suites(img: Path, model: str, patterns: tuple[str, ...]) -> list[dict]:
    """One suite per learning rate from the archived done.json of GTPO and GRPO (beta 0) runs."""
    groups: dict[float, list[tuple[Path, dict]]] = {}
    for done in sorted({p for pattern in patterns for p in img.glob(f"{pattern}/*/done.json")}):
        d = json.loads(done.read_text())
        if d["name"] in ("gtpo", "grpo"):
            groups.setdefault(float(argv_value(d["argv"], "--learning_rate")), []).append((done, d))
    rows = []
    for lr, runs in sorted(groups.items()):
        ref = runs[0][1]
        for done, d in runs:  # one command: the same start, prompts, budget and evaluation
            if budget(d["argv"]) != budget(ref["argv"]) or (d["eval"]["problems"], d["eval"]["n"]) != (
                ref["eval"]["problems"],
                ref["eval"]["n"],
            ):
                raise SystemExit(
                    f"regime_map: {done} was not trained or evaluated like {runs[0][0]}: not one suite"
                )
        per = {name: {int(d["seed"]): {"pass@1": d["eval"]["accuracy"], "pass@16": d["eval"].get("pass@16")}
                      for _, d in runs if d["name"] == name} for name in ("gtpo", "grpo")}  # fmt: skip
        shares = [v for _, d in runs if d["name"] == "gtpo"
                  if (v := phase_mean([m.get("conflict_frac_pos") for m in d["metrics"]], 0.0, 0.1)) is not None]  # fmt: skip
        folders = sorted({str(done.parent.parent.relative_to(img)) for done, _ in runs})
        batch = int(argv_value(ref["argv"], "--per_device_train_batch_size"))
        name = "tiny" if model == "tiny" else "SmolLM2"
        meta = {"id": f"explain-{name.lower()}-{lr:.0e}".replace("e-0", "e-"), "label": f"{name} explain {lr:.0e}".replace("e-0", "e-"),
                "model": model, "task": argv_value(ref["argv"], "--task") or "arith", "lr": lr, "problems": ref["eval"]["problems"],
                "steps": int(argv_value(ref["argv"], "--max_steps")), "completions_per_step": batch, "start_sha256": None,
                "source": ", ".join(f"docs/img/{f}" for f in folders), "conflict_source": "done.json metrics, first 10%"}  # fmt: skip
        rows.append(suite(meta, per["gtpo"], per["grpo"], shares, int(ref["eval"]["n"])))
    return rows


def build(img: Path) -> dict:
    rows, missing = arith_suites(img), []
    for model, patterns in EXPLAIN:
        found = run_suites(img, model, patterns)
        rows += found
        if not found:
            missing.append(
                {"model": model, "task": "explain", "looked_in": [f"docs/img/{p}" for p in patterns]}
            )
    rows.sort(key=lambda r: -(r["conflict_share_pos"] if r["conflict_share_pos"] is not None else -1))
    return {
        "definition": __doc__.split("\n\nSuites")[0],
        "ks": list(KS),
        "suites": {r["id"]: r for r in rows},
        "not_measured": missing,
    }


def cell(p: dict | None, samples: int, k: int) -> tuple[str, str]:
    if samples < k:
        return f"- ({samples} samples per problem)", "-"
    if p is None:
        return "-", "-"
    se = f" ± {p['se']:.3f}" if p["se"] is not None else " (1 seed, no SE)"
    return f"{p['mean']:+.3f}{se}", f"{p['higher']} / {p['level']} / {p['lower']}"


def markdown(doc: dict) -> str:
    lines = ["# Regime map: GTPO - GRPO against the conflict share of positive completions", "",
             "Written by `benchmarks/regime_map.py` from the committed JSON (its docstring defines every column). "
             "Differences are paired by seed, ± SE over seeds; counts are seeds where GTPO was higher / level / lower; "
             "conflict share: `conflict_frac_pos` over the first 10% of each GTPO run's steps, mean [min, max] over the "
             "suite's GTPO runs.", "",
             "| suite | model | task | lr | seeds | samples per problem | conflict share pos | pass@1 GTPO - GRPO | "
             "higher / level / lower | pass@16 GTPO - GRPO | higher / level / lower | source |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in doc["suites"].values():
        share = (
            "-"
            if r["conflict_share_pos"] is None
            else f"{r['conflict_share_pos']:.3f} [{r['conflict_share_range'][0]:.3f}, {r['conflict_share_range'][1]:.3f}]"
        )
        cells = [c for k in KS for c in cell(r[f"pass@{k}"], r["samples"], k)]
        seeds = ",".join(map(str, r["seeds"]))
        lines.append(f"| {r['label']} | {r['model']} | {r['task']} | {r['lr']:g} | {len(r['seeds'])} ({seeds}) | {r['samples']} | {share} | "
                     + " | ".join(cells) + f" | {r['source']} |")  # fmt: skip
    for m in doc["not_measured"]:
        lines.append(f"| {m['model']} explain | {m['model']} | explain | - | not measured | - | - | - | - | - | - | "
                     f"no runs in {', '.join(m['looked_in'])} |")  # fmt: skip
    notes = [f"- {r['label']}: {r['note']}." for r in doc["suites"].values() if r.get("note")]
    return "\n".join(lines + ([""] + notes if notes else []))


def plot(doc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {("tiny", "arith"): "tab:blue", ("SmolLM2-135M", "arith"): "tab:orange", ("tiny", "explain"): "tab:green",
              ("SmolLM2-135M", "explain"): "tab:red"}  # fmt: skip
    fig, axes = plt.subplots(1, len(KS), figsize=(13, 5.2))
    for ax, k in zip(axes, KS, strict=True):
        ax.axhline(0, color="0.4", lw=0.8)
        drawn = 0
        for r in doc["suites"].values():
            p, x = r[f"pass@{k}"], r["conflict_share_pos"]
            if p is None or x is None:
                continue
            lo, hi = r["conflict_share_range"]
            color, few = colors.get((r["model"], r["task"]), "k"), p["n"] <= 2  # no SE, or an SE on 1 degree of freedom
            ax.errorbar(x, p["mean"], yerr=p["se"] or 0, xerr=[[x - lo], [hi - x]], fmt="s" if r["lr"] >= 1e-3 else "o",
                        color=color, mfc="white" if few else color, capsize=3, elinewidth=1)  # fmt: skip
            ax.annotate(f"{r['label']}, {p['n']} seed{'s' * (p['n'] > 1)}", (x, p["mean"]), fontsize=7,
                        xytext=(6, 10 if drawn % 2 == 0 else -14), textcoords="offset points")  # fmt: skip
            drawn += 1
        ax.set_xlim(0, 1)
        ax.set_xlabel("conflict share of positive completions (GTPO, first 10% of steps)")
        ax.set_ylabel(f"pass@{k}: GTPO - GRPO (paired by seed, ± SE)")
        ax.set_title(f"pass@{k}" + (" (suites with 16 samples per problem)" if k > 1 else ""))
        ax.grid(alpha=0.3)
    fig.suptitle("GTPO - GRPO against the conflict share. Circles: lr 1e-4; squares: lr 1e-3, where training broke; "
                 "hollow: 1-2 seeds (no SE, or an SE on 1 degree of freedom); horizontal bars: range over the GTPO runs", fontsize=9)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--img", default=str(ROOT / "docs" / "img"), help="folder of the committed JSON (default docs/img)"
    )
    p.add_argument(
        "--out",
        default=str(ROOT / "docs" / "img" / "regime-map"),
        help="output folder (default docs/img/regime-map)",
    )
    p.add_argument("--no-plot", action="store_true", help="write the JSON and the table only")
    args = p.parse_args(argv)
    doc, out = build(Path(args.img)), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "regime_map.json").write_text(json.dumps(doc, indent=1) + "\n")
    md = markdown(doc)
    (out / "regime_map.md").write_text(md + "\n")
    if not args.no_plot:
        plot(doc, out / "regime_map.png")
    print(md)
    print(
        f"wrote {out / 'regime_map.json'}, {out / 'regime_map.md'}"
        + ("" if args.no_plot else f", {out / 'regime_map.png'}")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
