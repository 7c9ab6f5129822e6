"""The demo's held-out evaluation and the sections of its report, with this run's numbers.

- `evaluate_heldout`: sample models on held-out test problems of a generated task (`arith` by default)
  with the demo's sampling settings and score them (`gtpo.eval.evaluate`); the learning benchmarks
  evaluate with it too.
- `outcome`: what OUTPUT/demo.json holds: each model's held-out scores and the paired differences by
  problem (`gtpo.eval.metrics.paired_difference`, computed once here).
- `evaluation_section`, `comparison_section`: the report's "Held-out evaluation" and "What GTPO did
  differently", stating the measured differences and their sampling noise, whatever they are.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path

from gtpo.demo.config import DemoConfig
from gtpo.eval.metrics import paired_difference, per_problem_accuracy


def _verdict(name_a: str, name_b: str, diff: float, se: float) -> str:
    if not math.isfinite(diff):
        return "no shared problems to compare"
    if se == 0 and diff == 0:
        return f"{name_a} and {name_b} score the same on every problem"
    if abs(diff) > 2 * se:
        better = name_a if diff > 0 else name_b
        return f"{better} is ahead by more than twice the standard error"
    return (
        "the difference is within two standard errors: not distinguishable from sampling noise at this budget"
    )


PAIRS = (("gtpo", "start"), ("grpo", "start"), ("gtpo", "grpo"))


def outcome(summary: dict, eval_dir: Path, config: DemoConfig) -> dict:
    """What `demo.json` holds: each model's held-out scores and the paired differences by problem."""
    k = config.eval_samples
    models = {
        row["model"]: {key: row.get(key) for key in ("accuracy", "format_rate", f"pass@{k}", f"maj@{k}", "mean_tokens")}
        for row in summary["results"]
    }
    per = {row["model"]: per_problem_accuracy(eval_dir / row["dir"] / "samples.jsonl") for row in summary["results"]}
    differences = {}
    for a, b in PAIRS:
        if a in per and b in per:
            diff, se, n = paired_difference(per[a], per[b])
            differences[f"{a}-{b}"] = {"mean": diff, "se": se, "problems": n}
    return {"models": models, "differences": differences, "settings": asdict(config)}


def comparison_section(runs: dict, result: dict, config: DemoConfig) -> str:
    """'What GTPO did differently', in plain words with this run's numbers (`runs`: algo -> report.Run)."""
    gtpo = runs["gtpo"]
    pos, neg, filtered = (gtpo.trend(key, 0.1)[2] for key in ("conflict_frac_pos", "conflict_frac_neg", "filtered_frac"))
    completions = config.rl_steps * config.prompts_per_step * config.group_size
    ent, fmt, acc = ({algo: run.trend(key, 0.1)[:2] for algo, run in runs.items()}
                     for key in ("entropy", "format_rate", "accuracy"))  # fmt: skip
    models, diff = result["models"], result["differences"].get("gtpo-grpo", {})
    lines = [
        "## What GTPO did differently (this run's numbers)",
        "",
        "Both runs start from the same warm start with the same recipe, seed, prompts and budget; only the "
        "objective differs. Training-time values are means of the first and last 10% of the logged steps.",
        "",
        f"- **Conflict tokens.** On average {pos:.0%} of the tokens of GTPO's positive completions (right "
        f"answers) were conflict tokens, counted twice (weight 2, the default), and {neg:.0%} of the tokens of its "
        "negative completions, which got weight 0: those tokens (the shared frame, such as `<reasoning>` at "
        "the start and `</answer>` at the end) were not pushed down in wrong completions. GRPO pushes every "
        "token of a completion by its advantage.",
        f"- **Entropy filter.** It set aside {filtered:.1%} of GTPO's {completions} training completions "
        "(completions whose mean token entropy exceeded ln 2 once the policy was confident).",
        f"- **Entropy** (token-weighted, the same statistic for both): GTPO {ent['gtpo'][0]:.3f} -> "
        f"{ent['gtpo'][1]:.3f}, GRPO {ent['grpo'][0]:.3f} -> {ent['grpo'][1]:.3f} nats/token.",
        f"- **Formatting** of the training samples: GTPO {fmt['gtpo'][0]:.2f} -> {fmt['gtpo'][1]:.2f}, GRPO "
        f"{fmt['grpo'][0]:.2f} -> {fmt['grpo'][1]:.2f}; held-out format rate GTPO {models['gtpo']['format_rate']:.3f}, "
        f"GRPO {models['grpo']['format_rate']:.3f}, start {models['start']['format_rate']:.3f}.",
        f"- **Accuracy** of the training samples: GTPO {acc['gtpo'][0]:.2f} -> {acc['gtpo'][1]:.2f}, GRPO "
        f"{acc['grpo'][0]:.2f} -> {acc['grpo'][1]:.2f}; held-out: GTPO {models['gtpo']['accuracy']:.3f}, GRPO "
        f"{models['grpo']['accuracy']:.3f}, start {models['start']['accuracy']:.3f}.",
    ]
    if diff:
        mean, se = diff["mean"], diff["se"]
        lines.append("")
        if mean < -2 * se:
            lines.append(
                f"GTPO is behind GRPO on held-out accuracy ({mean:+.3f} +- {se:.3f}). What this run shows about why: "
                f"GTPO's updates differ from GRPO's on the {neg:.0%} of wrong-completion tokens it leaves untouched "
                f"and the {pos:.0%} of right-completion tokens it doubles; on completions this short that is a "
                "large part of every update, not only the format tokens the rule is designed for (the paper's "
                "completions are hundreds of tokens long). Its entropy ended "
                f"{'lower' if ent['gtpo'][1] < ent['grpo'][1] else 'higher'} than GRPO's. One run cannot separate "
                "these effects; docs/results.md has the multi-seed comparison and the ablations."
            )
        elif mean > 2 * se:
            lines.append(f"GTPO is ahead of GRPO on held-out accuracy ({mean:+.3f} +- {se:.3f}), more than two "
                         "standard errors, in this run (one seed; docs/demo.md shows other seeds).")  # fmt: skip
        else:
            lines.append(f"GTPO and GRPO are within two standard errors of each other on held-out accuracy "
                         f"({mean:+.3f} +- {se:.3f}): not distinguishable at this budget.")  # fmt: skip
    return "\n".join(lines)


def evaluate_heldout(models: list[str], output: Path, *, task_config, problems: int, samples: int, max_new_tokens: int,
                     seed: int, names: list[str] | None = None, temperature: float = 1.0, show_progress: bool = True,
                     task: str = "arith") -> dict:  # fmt: skip
    """Sample `models` on `problems` held-out test problems of the generated `task` (`task_config`: its
    options dataclass; `samples` each, the same sampling seed for every model) and score them
    (`gtpo.eval.evaluate`, k = 1 and `samples`); returns the summary. Every field of `task_config` is
    recorded as the evaluation's `task_options` in run.json and summary.json."""
    from gtpo.eval import evaluate
    from gtpo.tasks import load_task

    options = asdict(task_config) if task_config is not None else None
    test = load_task(task, "test", limit=problems, seed=seed, options=options)
    named = {"name": names} if names is not None else {}
    return evaluate(
        models, task, output, dataset=test, **named, task_options=options, n=samples,
        k=",".join(str(v) for v in sorted({1, samples})), temperature=temperature, top_p=1.0,
        max_new_tokens=max_new_tokens, batch_size=64, seed=seed, backend="hf", dtype="float32",
        show_progress=show_progress,
    )  # fmt: skip


def evaluation_section(
    summary: dict, result: dict, config: DemoConfig, times: dict[str, float], cpu: dict[str, float]
) -> tuple[str, list[str]]:
    """Markdown for the held-out evaluation (`summary` from `evaluate`, `result` from `outcome`) and terminal lines."""
    rows = {row["model"]: row for row in summary["results"]}
    lines = [
        "## Held-out evaluation",
        "",
        f"{config.eval_problems} held-out arith problems (test split, disjoint from training; operands 1-"
        f"{config.arith_max_operand}, up to {config.arith_max_steps} operations) x {config.eval_samples} samples at "
        f"temperature {config.temperature}, top_p 1.0."
        + (f" The warm start learned from demonstrations of which {config.arith_answer_noise:.0%} had their final "
           "answer miscopied (+-1, equations right); RL rewards and this evaluation use the true answers."
           if config.arith_answer_noise else ""),
        "",
        f"| model | accuracy | format rate | pass@{config.eval_samples} | maj@{config.eval_samples} | mean tokens |",
        "|---|---|---|---|---|---|",
    ]
    k = config.eval_samples
    for name, row in rows.items():
        lines.append(
            f"| {name} | {row['accuracy']:.3f} | {row['format_rate']:.3f} | {row.get(f'pass@{k}', math.nan):.3f} "
            f"| {row.get(f'maj@{k}', math.nan):.3f} | {row.get('mean_tokens', math.nan):.1f} |"
        )
    lines += ["", "Paired by problem (mean of per-problem accuracy differences, +- one standard error):", ""]
    terminal = []
    for a, b in (("gtpo", "grpo"), ("gtpo", "start"), ("grpo", "start")):
        if f"{a}-{b}" in result["differences"]:
            pair = result["differences"][f"{a}-{b}"]
            diff, se, n = pair["mean"], pair["se"], pair["problems"]
            lines.append(
                f"- {a} - {b}: {diff:+.3f} +- {se:.3f} over {n} problems; {_verdict(a, b, diff, se)}."
            )
            terminal.append(f"  {a} - {b}: {diff:+.3f} +- {se:.3f}")
    lines += [
        "",
        "## Time",
        "",
        "Wall seconds, and the CPU seconds of the demo's process (more than wall: several threads; less: the "
        "machine was shared with other work).",
        "",
        "| phase | wall s | CPU s |",
        "|---|---|---|",
    ]
    lines += [
        f"| {name} | {seconds:.0f} | {cpu.get(name, math.nan):.0f} |" for name, seconds in times.items()
    ]
    lines += [f"| total | {sum(times.values()):.0f} | {sum(cpu.values()):.0f} |", ""]
    return "\n".join(lines), terminal
