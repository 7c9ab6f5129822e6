"""`gtpo report RUN_DIR [RUN_DIR ...] [--output DIR]`: plots, a markdown summary and a conflict-token view.

Reads what `gtpo train` writes in each run folder:
- `metrics.jsonl`: one JSON object per logged step ("step", "accuracy", "format_rate", "entropy",
  "conflict_frac_pos", "conflict_frac_neg", "reward", ...). Missing keys, nulls and NaNs are skipped.
- `conflict_samples.jsonl` (optional): per logged step, one group of completions with their tokens
  and GTPO weights lambda (0 = protected conflict token of a negative completion, w > 1 = amplified
  conflict token of a positive completion, 1 = ordinary token).
- `run_config.yaml` (optional): the run's algorithm, its reward functions (`rewards`) and their
  `reward_weights`.

Writes into the output folder: one PNG per metric the runs logged, with every run overlaid (raw values
thin, a moving average over a tenth of the run bold); a metric no run logged gets no plot. The
reward panel is titled with the runs' own reward functions and weights ("Mean reward: 0.5 x score +
brevity"); it has a fixed axis (e.g. 0..20 for format + correctness) only when every function is a
built-in with a known range, else the axis follows the values. `reward_functions.png` draws each
function's mean (`reward/<name>` in metrics.jsonl). `overview.png` holds up to four of accuracy,
formatting, entropy, conflict fraction, reward and completion length, the first ones logged;
`summary.md` (a table of final and mean values per run, the plots, the conflict view in
markdown: `[[token]]` amplified, `~~token~~` protected) and `conflicts.html` (the same view in colour).
Matplotlib runs with the Agg backend, so no display is needed.
"""

from __future__ import annotations

import html
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

from gtpo.run.io import read_jsonl

PLOTS: dict[str, tuple[str, tuple[str, ...]]] = {
    # file stem: (title, metric keys drawn on it)
    "accuracy": ("Accuracy (share of sampled completions with the right answer)", ("accuracy",)),
    "format_rate": ("Formatting rate (share of completions with format score 10)", ("format_rate",)),
    "entropy": ("Mean token entropy (nats/token, token-weighted)", ("entropy",)),
    "conflict_frac": (
        "Conflict-token fraction (solid: positive, dashed: negative)",
        ("conflict_frac_pos", "conflict_frac_neg"),
    ),
    "reward": ("Mean reward", ("reward",)),  # the title and axis come from the runs' functions (reward_plot)
    "reward_functions": ("Mean of each reward function (before weights)", ()),  # keys: the runs' reward/<name>
    "completion_length": ("Mean completion length (tokens)", ("completion_length",)),
}
RATES = ("accuracy", "format_rate")  # plotted on a fixed 0..1 axis
OVERVIEW = ("accuracy", "format_rate", "entropy", "conflict_frac", "reward", "completion_length")  # first 4 logged
REWARD_PREFIX = "reward/"  # metrics.jsonl: reward/<name> is one reward function's mean (gtpo.run.logger)
KNOWN_RANGES = {"format": (0.0, 10.0), "correctness": (0.0, 10.0)}  # built-in rewards' ranges (gtpo.rewards)
SUMMARY_KEYS = (
    "accuracy", "format_rate", "entropy", "conflict_frac_pos", "conflict_frac_neg", "filtered_frac",
    "reward", "completion_length",
)  # fmt: skip


@dataclass
class ReportConfig:
    """Options of `gtpo report` (run folders are given as positional arguments)."""

    runs: list[str] = field(default_factory=list, metadata={"help": "Run folders written by `gtpo train`."})
    output: str | None = field(
        default=None,
        metadata={"help": "Output folder; default: RUN_DIR/report for one run, ./report otherwise."},
    )
    labels: list[str] | None = field(
        default=None, metadata={"help": "Names of the runs in plots and tables (default: folder names)."}
    )
    tail: float = field(
        default=0.1, metadata={"help": "Share of the last logged steps averaged into the 'final' value."}
    )
    groups: int = field(
        default=2, metadata={"help": "Logged groups shown per run in the conflict view (the latest ones)."}
    )
    title: str = field(default="GTPO training report", metadata={"help": "Title of summary.md."})


@dataclass
class Run:
    """One run folder, loaded."""

    label: str
    path: Path
    metrics: list[dict]
    samples: list[dict]
    algo: str | None = None
    rewards: list[str] = field(default_factory=list)  # reward function names, from run_config.yaml or the metrics
    reward_weights: list[float] | None = None  # run_config.yaml's training.reward_weights (None: all 1)

    def series(self, key: str) -> tuple[list[float], list[float]]:
        """(steps, values) for `key`, skipping missing, null and non-finite values."""
        steps, values = [], []
        for row in self.metrics:
            value = row.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                steps.append(float(row.get("step", len(steps))))
                values.append(float(value))
        return steps, values

    def trend(self, key: str, tail: float) -> tuple[float, float, float]:
        """(first, final, mean) of `key`: means of the first and last `tail` share of the logged values
        (at least one each) and of all of them; NaN when the key was never logged."""
        _, values = self.series(key)
        if not values:
            return math.nan, math.nan, math.nan
        k = max(1, math.ceil(len(values) * tail))
        final, mean = summarize(values, tail)
        return sum(values[:k]) / k, final, mean


def _read_jsonl(path: Path) -> list[dict]:
    """The rows of a run file; a run still writing may have a partial last line, which is skipped."""
    return read_jsonl(path, torn="skip", hint="is this a `gtpo train` folder?")


def load_run(path: str | Path, label: str | None = None) -> Run:
    """Load a run folder; a clear error when it has no metrics.jsonl."""
    path = Path(path)
    metrics_file = path / "metrics.jsonl"
    if not metrics_file.is_file():
        raise FileNotFoundError(
            f"gtpo report: {path} has no metrics.jsonl; pass a folder written by `gtpo train`"
        )
    samples_file = path / "conflict_samples.jsonl"
    samples = _read_jsonl(samples_file) if samples_file.is_file() else []
    algo, rewards, weights = None, [], None
    config_file = path / "run_config.yaml"
    if config_file.is_file():
        import yaml

        config = yaml.safe_load(config_file.read_text()) or {}
        if isinstance(config, dict):
            algo = config.get("algo") or config.get("loss_type")
            specs = (config.get("rewards") or {}).get("rewards") if isinstance(config.get("rewards"), dict) else None
            rewards = [str(spec).rpartition(":")[2] for spec in specs or []]  # 'file.py:score' is logged as score
            weights = (config.get("training") or {}).get("reward_weights") if isinstance(config.get("training"), dict) else None
    metrics = _read_jsonl(metrics_file)
    logged = [k[len(REWARD_PREFIX) :] for k in dict.fromkeys(k for row in metrics for k in row) if k.startswith(REWARD_PREFIX)]
    if not rewards or (logged and set(logged) != set(rewards)):
        rewards, weights = logged, None
    if weights is not None and len(weights) != len(rewards):
        weights = None
    return Run(label or path.resolve().name, path, metrics, samples, algo, rewards, weights)


def reward_plot(runs: list[Run]) -> tuple[str, tuple[float, float] | None]:
    """(title, fixed y range or None) of the reward panel, from the runs' reward functions and weights."""
    def terms(run: Run) -> list[tuple[float, str]]:
        return list(zip(run.reward_weights or [1.0] * len(run.rewards), run.rewards, strict=True))

    kinds = {tuple(terms(run)) for run in runs if run.rewards}
    if len(kinds) != 1:
        return ("Mean reward (each run's weighted sum of its reward functions)" if kinds else "Mean reward"), None
    (combo,) = kinds
    formula = " + ".join(name if weight == 1 else f"{weight:g} x {name}" for weight, name in combo)
    if not all(name in KNOWN_RANGES for _, name in combo):
        return f"Mean reward: {formula}", None
    low = sum(min(w * KNOWN_RANGES[n][0], w * KNOWN_RANGES[n][1]) for w, n in combo)
    high = sum(max(w * KNOWN_RANGES[n][0], w * KNOWN_RANGES[n][1]) for w, n in combo)
    return f"Mean reward: {formula} ({low:g}..{high:g})", (low, high)


def reward_keys(runs: list[Run]) -> tuple[str, ...]:
    """The reward/<name> metrics of the runs, in order of first appearance."""
    return tuple(dict.fromkeys(REWARD_PREFIX + name for run in runs for name in run.rewards))


def smooth(values: list[float], window: int) -> list[float]:
    """Trailing moving average over `window` values (shorter at the start)."""
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def summarize(values: list[float], tail: float) -> tuple[float, float]:
    """(final, mean): final = mean of the last `tail` share of the values (at least one)."""
    k = max(1, math.ceil(len(values) * tail))
    return sum(values[-k:]) / k, sum(values) / len(values)


def _draw(ax, runs: list[Run], keys: tuple[str, ...], title: str, ylim: tuple[float, float] | None = None) -> bool:
    drew = False
    for index, run in enumerate(runs):
        color = f"C{index}"
        for key_index, key in enumerate(keys):
            steps, values = run.series(key)
            if not values:
                continue
            style = ("-", "--", ":", "-.")[key_index % 4]
            window = max(1, len(values) // 10)
            ax.plot(steps, values, style, color=color, alpha=0.25, linewidth=0.8)
            short = key[len(REWARD_PREFIX) :] if key.startswith(REWARD_PREFIX) else key.rsplit("_", 1)[-1]
            suffix = f" ({short})" if len(keys) > 1 else ""
            ax.plot(steps, smooth(values, window), style, color=color, linewidth=2, label=run.label + suffix)
            drew = True
        for step in run.series("collapse")[0]:  # where the collapse monitor warned
            ax.axvline(step, color=color, linestyle=":", linewidth=1.2)
    if keys and keys[0] in RATES:
        ax.set_ylim(-0.02, 1.02)
    elif ylim is not None:
        pad = 0.02 * (ylim[1] - ylim[0])
        ax.set_ylim(ylim[0] - pad, ylim[1] + pad)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    if drew:
        ax.legend(fontsize=7)
    return drew


def panels(runs: list[Run]) -> dict[str, tuple[str, tuple[str, ...], tuple[float, float] | None]]:
    """stem -> (title, keys, fixed y range) of every panel with data in at least one run."""
    out = {}
    for stem, (title, keys) in PLOTS.items():
        ylim = None
        if stem == "reward":
            title, ylim = reward_plot(runs)
        elif stem == "reward_functions":
            keys = reward_keys(runs)
        if any(run.series(key)[1] for run in runs for key in keys):
            out[stem] = (title, keys, ylim)
    return out


def write_plots(runs: list[Run], output: Path) -> list[str]:
    """One PNG per metric the runs logged, plus overview.png (up to four of them); returns the file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = panels(runs)
    written = []
    for stem, (title, keys, ylim) in shown.items():
        fig, ax = plt.subplots(figsize=(6, 3.6))
        _draw(ax, runs, keys, title, ylim)
        fig.tight_layout()
        fig.savefig(output / f"{stem}.png", dpi=110)
        written.append(f"{stem}.png")
        plt.close(fig)
    overview = [stem for stem in OVERVIEW if stem in shown][:4]
    if not overview:
        return written
    rows, cols = (1, len(overview)) if len(overview) <= 2 else (2, 2)
    fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 3.5 * rows), squeeze=False)
    for ax, stem in zip(axes.flat, overview, strict=False):
        _draw(ax, runs, shown[stem][1], shown[stem][0], shown[stem][2])
    for ax in list(axes.flat)[len(overview) :]:
        ax.remove()
    fig.tight_layout()
    fig.savefig(output / "overview.png", dpi=110)
    plt.close(fig)
    return ["overview.png", *written]


def training_table(runs: list[Run], tail: float) -> str:
    """Markdown table: per run and metric, final (mean of the last `tail` steps) / mean over the run."""
    keys = [k for k in (*SUMMARY_KEYS, *reward_keys(runs)) if any(run.series(k)[1] for run in runs)]
    head = "| run | steps | " + " | ".join(keys) + " |"
    lines = [head, "|" + "---|" * (len(keys) + 2)]
    for run in runs:
        steps, _ = run.series("step") if run.series("step")[1] else ([], [])
        cells = []
        for key in keys:
            _, values = run.series(key)
            cells.append("-" if not values else "{:.3f} / {:.3f}".format(*summarize(values, tail)))
        last = int(max((row.get("step", 0) for row in run.metrics), default=0))
        lines.append(f"| {run.label} | {last} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def findings(runs: list[Run], tail: float) -> list[str]:
    """Plain statements of what the logged numbers show (no interpretation beyond the numbers)."""
    out = []
    for key in ("accuracy", "format_rate", "entropy", "conflict_frac_pos", *reward_keys(runs)):
        parts = []
        for run in runs:
            first, final, _ = run.trend(key, tail)
            if math.isfinite(first):
                parts.append(f"{run.label} {first:.3f} -> {final:.3f}")
        if parts:
            out.append(
                f"- {key} (mean of the first -> last {tail:.0%} of logged steps): " + "; ".join(parts) + "."
            )
    reasons = {1: "conflict share of positive completions above the limit", 2: "entropy below the limit",
               3: "conflict share and entropy"}  # fmt: skip
    for run in runs:
        steps, codes = run.series("collapse")
        if steps:
            out.append(f"- collapse monitor ({run.label}): warned at step {steps[0]:.0f} "
                       f"({reasons.get(int(codes[0]), 'see the run log')}); dotted line in the plots.")  # fmt: skip
    return out


def _classify(weight: float) -> str:
    if weight <= 1e-6:
        return "protected"
    if weight > 1 + 1e-6:
        return "amplified"
    return "plain"


def _token_text(token: str) -> str:
    # Byte-level BPE pieces as stored by convert_ids_to_tokens: show spaces and newlines as text.
    return token.replace("Ġ", " ").replace("Ċ", "\n")


def _runs_of_kind(tokens: list[str], weights: list[float]) -> list[tuple[str, str]]:
    """Consecutive tokens of the same kind joined: [(kind, text), ...]."""
    out: list[tuple[str, str]] = []
    for token, weight in zip(tokens, weights, strict=True):
        kind, piece = _classify(float(weight)), _token_text(token)
        if out and out[-1][0] == kind:
            out[-1] = (kind, out[-1][1] + piece)
        else:
            out.append((kind, piece))
    return out


def conflict_markdown(run: Run, groups: int) -> str:
    """The latest `groups` logged groups of a run, amplified tokens as [[t]] and protected as ~~t~~."""
    if not run.samples:
        return f"_{run.label}: no conflict_samples.jsonl._"
    parts = []
    for record in run.samples[-groups:]:
        parts.append(f"**{run.label}, step {record.get('step')}**\n")
        for index, completion in enumerate(record.get("completions", [])):
            text = []
            for kind, piece in _runs_of_kind(completion["tokens"], completion["weights"]):
                text.append(
                    f"[[{piece}]]"
                    if kind == "amplified"
                    else f"~~{piece}~~"
                    if kind == "protected"
                    else piece
                )
            counts = [_classify(float(w)) for w in completion["weights"]]
            parts.append(
                f"completion {index}: advantage {completion.get('advantage', float('nan')):+.3f}, "
                f"reward {completion.get('reward', float('nan')):.1f}, "
                f"{counts.count('amplified')} amplified, {counts.count('protected')} protected\n"
            )
            parts.append("```text\n" + "".join(text) + "\n```\n")
    return "\n".join(parts)


def conflict_html(runs: list[Run], groups: int) -> str:
    """A standalone HTML page: amplified tokens green, protected tokens red."""
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "pre{white-space:pre-wrap;background:#f7f7f7;padding:6px;border-radius:4px}"
        ".amplified{background:#b6f2b6}.protected{background:#f5b5b5;text-decoration:line-through}"
    )
    body = [
        "<h1>Conflict tokens</h1><p>Per logged group: <span class='amplified'>amplified</span> tokens "
        "(conflict tokens of positive-advantage completions, weight w) and <span class='protected'>protected"
        "</span> tokens (conflict tokens of negative-advantage completions, weight 0).</p>"
    ]
    for run in runs:
        body.append(f"<h2>{html.escape(run.label)}</h2>")
        if not run.samples:
            body.append("<p>No conflict_samples.jsonl.</p>")
        for record in run.samples[-groups:]:
            body.append(f"<h3>step {html.escape(str(record.get('step')))}</h3>")
            for completion in record.get("completions", []):
                spans = []
                for token, weight in zip(completion["tokens"], completion["weights"], strict=True):
                    kind = _classify(float(weight))
                    piece = html.escape(_token_text(token))
                    spans.append(
                        piece
                        if kind == "plain"
                        else f"<span class='{kind}' title='w={weight:g}'>{piece}</span>"
                    )
                body.append(
                    f"<p>advantage {completion.get('advantage', float('nan')):+.3f}, "
                    f"reward {completion.get('reward', float('nan')):.1f}</p><pre>{''.join(spans)}</pre>"
                )
    return f"<!doctype html><html><head><meta charset='utf-8'><style>{style}</style></head><body>{''.join(body)}</body></html>\n"


def write_report(
    runs: list[Run], output: str | Path, *, title: str = "GTPO training report", tail: float = 0.1, groups: int = 2,
    intro: str = "", extra_sections: str = "",
) -> Path:  # fmt: skip
    """Write plots, summary.md and conflicts.html for `runs` into `output`; return summary.md's path."""
    if not runs:
        raise ValueError("gtpo report: give at least one run folder")
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    images = write_plots(runs, output)
    (output / "conflicts.html").write_text(conflict_html(runs, groups))
    lines = [f"# {title}", ""]
    if intro:
        lines += [intro.strip(), ""]
    lines += ["## Runs", ""]
    for run in runs:
        algo = f" (algorithm: {run.algo})" if run.algo else ""
        lines.append(f"- **{run.label}**{algo}: `{run.path}`, {len(run.metrics)} logged steps")
    lines += ["", "## What the logged training metrics show", "", *findings(runs, tail), ""]
    lines += [f"## Summary (final = mean of the last {tail:.0%} of logged steps / mean over the run)", ""]
    lines += [training_table(runs, tail), ""]
    if extra_sections:
        lines += [extra_sections.strip(), ""]
    lines += ["## Plots", ""] + [f"![{name}]({name})" for name in images] + [""]
    lines += ["## Conflict tokens", "", "`[[token]]`: amplified (weight w > 1, positive completion); "
              "`~~token~~`: protected (weight 0, negative completion). In colour: [conflicts.html](conflicts.html).", ""]  # fmt: skip
    for run in runs:
        lines += [conflict_markdown(run, groups), ""]
    summary = output / "summary.md"
    summary.write_text("\n".join(lines))
    return summary


def main(argv: list[str] | None = None) -> int:
    from transformers import HfArgumentParser

    parser = HfArgumentParser(
        ReportConfig, prog="gtpo report", usage="gtpo report RUN_DIR [RUN_DIR ...] [--output DIR] [options]"
    )
    config, rest = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
    unknown = [arg for arg in rest if arg.startswith("-")]
    if unknown:
        parser.error(f"unknown option(s): {' '.join(unknown)}")
    paths = rest + config.runs
    if not paths:
        parser.error("give at least one RUN_DIR (a folder written by `gtpo train`)")
    if config.labels is not None and len(config.labels) != len(paths):
        parser.error(f"--labels: give one label per run ({len(paths)}), got {len(config.labels)}")
    labels = config.labels or [None] * len(paths)
    try:
        runs = [load_run(path, label) for path, label in zip(paths, labels, strict=True)]
    except (FileNotFoundError, ValueError) as error:
        print(error, file=sys.stderr)
        return 2
    output = (
        Path(config.output)
        if config.output
        else (Path(paths[0]) / "report" if len(paths) == 1 else Path("report"))
    )
    summary = write_report(runs, output, title=config.title, tail=config.tail, groups=config.groups)
    print(f"report: {summary}")
    return 0
