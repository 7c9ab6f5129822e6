"""docs/img/frame-regime/summary.json: the frame-regime question's start figures and every finished run.

Reads, per model (`tiny`, `smollm2`):
- the start measurement written by `bench_frame_start.py` (`--json IMG/start-MODEL.json`):
  `median_completion_tokens`, and the start's conflict share of positive completions;
- the finished runs `bench_learning.py` archived under runs folders (IMG/runs and IMG/lr*/runs, e.g.
  IMG/lr1e-3/runs, for the tiny model; IMG/smollm2/runs and IMG/smollm2/lr*/runs for SmolLM2): each
  `done.json` (configuration, seed, training metrics, held-out scores) with the `--learning_rate` of
  its command line.
`conflict_share_pos` is GTPO's `conflict_frac_pos` over the first 10% of its runs' logged steps (the mean
over the finished GTPO runs) when there are any, else the start measurement's; pass@16 is the run's
held-out pass@16 (null when it sampled fewer than 16 per problem). Writes IMG/summary.json in the schema

    {"tiny": M, "smollm2": M}, M = {"median_completion_tokens": float | null, "conflict_share_pos": float | null,
        "runs": [{"config": str, "seed": int, "lr": float, "accuracy": float, "format_rate": float,
                  "pass_at_16": float | null}, ...]}

and IMG/summary.md: per model the start, where each figure came from, per (configuration, lr) the
mean +- std over seeds and the difference to GRPO (beta 0) at the same lr paired by seed, and per run
its held-out maj@16, the training format rate over the last 10% of steps, accuracy and entropy over the
first and last 10%, GTPO's conflict share over the first 10%, and the first step whose format rate fell
below 0.5 (where training broke). Runs of any suite in those folders count; rerun it whenever more runs
finish:

    .venv/bin/python benchmarks/frame_summary.py --img docs/img/frame-regime
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

MODELS = {"tiny": ("runs", "lr*/runs"), "smollm2": ("smollm2/runs", "smollm2/lr*/runs")}  # model -> run folders under IMG


def phase_mean(values: list, lo: float, hi: float) -> float | None:
    """Mean of the non-null values in the [lo, hi) share of the logged steps (bench_learning's rule)."""
    part = [v for v in values[int(len(values) * lo) : max(int(len(values) * hi), 1)] if v is not None]
    return sum(part) / len(part) if part else None


def argv_value(argv: list[str], flag: str) -> str | None:
    """The value after the LAST occurrence of `flag` in a command line (a later flag wins), or None."""
    hits = [i for i, a in enumerate(argv) if a == flag]
    return argv[hits[-1] + 1] if hits and hits[-1] + 1 < len(argv) else None


def finished_runs(img: Path, patterns: tuple[str, ...]) -> list[dict]:
    """Every archived run's done.json in the folders `patterns` name under `img`, sorted by (config, lr, seed)."""
    runs = []
    for done in sorted({d for pattern in patterns for d in img.glob(f"{pattern}/*/done.json")}):
        d = json.loads(done.read_text())
        if "eval" not in d or "metrics" not in d:
            raise SystemExit(f"frame_summary: {done} is not a finished bench_learning run (no eval/metrics)")
        lr = argv_value(d["argv"], "--learning_rate")
        if lr is None:
            raise SystemExit(f"frame_summary: {done}: its command line has no --learning_rate")
        d["lr"] = float(lr)
        runs.append(d)
    return sorted(runs, key=lambda d: (d["name"], d["lr"], d["seed"]))


def broke_at(d: dict, below: float = 0.5) -> int | None:
    """The first logged step whose training format rate fell below `below`, or None."""
    return next((row["step"] for row in d["metrics"] if row.get("format_rate") is not None and row["format_rate"] < below), None)


def run_entry(d: dict) -> dict:
    e = d["eval"]
    pass16 = e.get("pass@16")
    return {"config": d["name"], "seed": int(d["seed"]), "lr": d["lr"], "accuracy": float(e["accuracy"]),
            "format_rate": float(e["format_rate"]), "pass_at_16": None if pass16 is None else float(pass16)}  # fmt: skip


def model_summary(start: dict | None, runs: list[dict]) -> tuple[dict, dict]:
    """(the schema's M, where its start figures came from)."""
    training = [{"config": d["name"], "lr": d["lr"], "seed": int(d["seed"]), "broke_at": broke_at(d),
                 "maj_at_16": d["eval"].get("maj@16"), **phases(d["metrics"])} for d in runs]  # fmt: skip
    early = [t["conflict_first10"] for t in training if t["config"] == "gtpo" and t["conflict_first10"] is not None]
    if early:
        share, source = sum(early) / len(early), f"gtpo/conflict_frac_pos, first 10% of {len(early)} GTPO run(s)"
    elif start is not None and start.get("conflict_share_pos") is not None:
        share, source = float(start["conflict_share_pos"]), "start measurement (bench_frame_start.py)"
    else:
        share, source = None, "none yet"
    median = None if start is None else float(start["median_completion_tokens"])
    summary = {"median_completion_tokens": median, "conflict_share_pos": share, "runs": [run_entry(d) for d in runs]}
    return summary, {"conflict_share_pos": source, "start": start, "training": training}


def phases(metrics: list[dict]) -> dict[str, float | None]:
    """One run's training figures: format over the last 10% of logged steps, accuracy and entropy over the
    first and last 10%, GTPO's conflict share of positive completions over the first 10% (None for GRPO)."""

    def col(key):
        return [row.get(key) for row in metrics]

    return {"format_last10": phase_mean(col("format_rate"), 0.9, 1.0),
            "accuracy_first10": phase_mean(col("accuracy"), 0.0, 0.1), "accuracy_last10": phase_mean(col("accuracy"), 0.9, 1.0),
            "entropy_first10": phase_mean(col("entropy"), 0.0, 0.1), "entropy_last10": phase_mean(col("entropy"), 0.9, 1.0),
            "conflict_first10": phase_mean(col("conflict_frac_pos"), 0.0, 0.1)}  # fmt: skip


def mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    m = sum(values) / len(values)
    if len(values) == 1:
        return f"{m:.3f}"
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))
    return f"{m:.3f} ± {sd:.3f}"


def paired(entries: list[dict], ref: list[dict], key: str) -> str:
    """Mean difference to `ref` over the seeds both have, +- its standard error (n - 1 in the variance)."""
    base = {r["seed"]: r[key] for r in ref if r[key] is not None}
    diffs = [r[key] - base[r["seed"]] for r in entries if r["seed"] in base and r[key] is not None]
    if len(diffs) < 2:
        return "-" if not diffs else f"{diffs[0]:+.3f} (1 seed)"
    m = sum(diffs) / len(diffs)
    se = math.sqrt(sum((d - m) ** 2 for d in diffs) / (len(diffs) - 1) / len(diffs))
    return f"{m:+.3f} ± {se:.3f} ({len(diffs)} seeds)"


def num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown(summary: dict, sources: dict) -> str:
    lines = ["# Frame regime: summary of the finished runs", "",
             "Written by `benchmarks/frame_summary.py` from the start measurements and the archived runs.", ""]  # fmt: skip
    for model, m in summary.items():
        src = sources[model]
        start = src["start"] or {}
        lines += [f"## {model}", "",
                  f"- start: median completion {num(m['median_completion_tokens'], 1)} tokens, accuracy "
                  f"{num(start.get('accuracy'))}, format rate {num(start.get('format_rate'))}"
                  f" ({start.get('problems', '-')} problems x {start.get('samples', '-')} samples)",
                  f"- conflict share of positive completions: {num(m['conflict_share_pos'])} ({src['conflict_share_pos']})", ""]  # fmt: skip
        if not m["runs"]:
            lines += ["No finished runs yet.", ""]
            continue
        lines += ["| config | lr | seeds | accuracy | format rate | pass@16 | accuracy - grpo (paired by seed) | "
                  "pass@16 - grpo |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        groups: dict[tuple[str, float], list[dict]] = {}
        for r in m["runs"]:
            groups.setdefault((r["config"], r["lr"]), []).append(r)
        for (config, lr), rs in groups.items():
            ref = groups.get(("grpo", lr), [])
            cols = [mean_std([r[k] for r in rs if r[k] is not None]) for k in ("accuracy", "format_rate", "pass_at_16")]
            diff = ["-", "-"] if config == "grpo" else [paired(rs, ref, k) for k in ("accuracy", "pass_at_16")]
            seeds = ",".join(str(r["seed"]) for r in rs)
            lines.append(f"| {config} | {lr:g} | {seeds} | " + " | ".join(cols + diff) + " |")
        lines += ["", "Per run: held-out maj@16, and from the training samples the format rate over the last 10% of steps, "
                  "accuracy and entropy (nats/token) over the first -> last 10%, GTPO's conflict share of positive "
                  "completions over the first 10%, and the first step whose format rate fell below 0.5.", "",
                  "| config | lr | seed | maj@16 | format, last 10% | accuracy, first -> last 10% | entropy, first -> last 10% "
                  "| conflict share, first 10% | format < 0.5 first at step |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for t in src["training"]:
            f = {k: num(v) for k, v in t.items() if k not in ("config", "lr", "seed", "broke_at")}
            lines.append(f"| {t['config']} | {t['lr']:g} | {t['seed']} | {f['maj_at_16']} | {f['format_last10']} | "
                         f"{f['accuracy_first10']} -> {f['accuracy_last10']} | {f['entropy_first10']} -> {f['entropy_last10']} | "
                         f"{f['conflict_first10']} | {t['broke_at'] or 'never'} |")  # fmt: skip
        lines.append("")
    return "\n".join(lines)


def build(img: Path) -> tuple[dict, str]:
    summary, sources = {}, {}
    for model, sub in MODELS.items():
        start_file = img / f"start-{model}.json"
        start = json.loads(start_file.read_text()) if start_file.is_file() else None
        summary[model], sources[model] = model_summary(start, finished_runs(img, sub))
    return summary, markdown(summary, sources)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--img", default="docs/img/frame-regime", help="folder with start-*.json and the runs (default docs/img/frame-regime)")
    args = p.parse_args(argv)
    img = Path(args.img)
    summary, md = build(img)
    img.mkdir(parents=True, exist_ok=True)
    (img / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (img / "summary.md").write_text(md + "\n")
    print(md)
    print(f"wrote {img / 'summary.json'}, {img / 'summary.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
