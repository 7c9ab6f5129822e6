"""`gtpo demo`: GTPO vs GRPO end to end, offline, on a laptop CPU, in a few minutes.

Phases (each with a progress bar; heavy phases log to OUTPUT/logs/):
1. tiny model: a byte-level BPE tokenizer and a ~0.9 M-parameter Qwen2 (`gtpo.demo.tiny`), cached in
   CACHE_DIR so later runs reuse it;
2. warm start: supervised fine-tuning on `arith` reference solutions (`gtpo.demo.warm_start`) until
   the answer format is learned, also cached;
3. GTPO and 4. GRPO (beta = 0): `gtpo train` (`gtpo.trl.train.main`, in-process) from the same warm
   start with the same recipe, seed and budget; only `--algo` differs;
5. evaluation: the start and both results sampled on held-out `arith` problems (`evaluate_heldout`,
   which the learning benchmarks use too);
6. report: plots, tables, the conflict-token view (`gtpo.report`) and what the numbers show.

The report states the measured differences and their sampling noise, whatever they are; nothing is
tuned per algorithm. The task is `arith` with operands 1-5 and up to two operations, and the warm start
learns from imperfect demonstrations: 30% of them have their final answer miscopied (+-1) while the
equations stay right (`ArithConfig.answer_noise`); the RL rewards and the evaluation check the true
answers, so RL can correct what imitation learned (docs/demo.md, "Imperfect demonstrations").
`--fast` shrinks every budget (for tests and a quick look); its numbers mean little.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import re
import shutil
import sys
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import yaml

from gtpo.demo.config import DemoConfig
from gtpo.demo.summary import comparison_section, evaluate_heldout, evaluation_section, outcome
from gtpo.run.arguments import ALGOS
from gtpo.run.io import write_text_atomic


class Phases:
    """Numbered phase headers on stderr, their wall times and the process's CPU times."""

    def __init__(self, total: int):
        self.total, self.index, self.times, self.cpu = total, 0, {}, {}

    @contextlib.contextmanager
    def __call__(self, name: str, what: str):
        self.index += 1
        print(f"[{self.index}/{self.total}] {what}", file=sys.stderr, flush=True)
        start, cpu = time.perf_counter(), time.process_time()
        yield
        self.times[name] = time.perf_counter() - start
        self.cpu[name] = time.process_time() - cpu
        print(f"      done in {self.times[name]:.0f} s", file=sys.stderr, flush=True)


class LineProgress(io.TextIOBase):
    """A stderr for logs that are not a terminal: progress bars (tqdm redraws a line after each '\\r')
    become one plain line every `interval` seconds plus the bar's final state; other text passes through."""

    def __init__(self, stream, interval: float = 10.0):
        self.stream, self.interval, self.line, self.last = stream, interval, "", -math.inf

    def write(self, text: str) -> int:
        for piece in re.split(r"(\r|\n)", text):
            if piece == "\r":
                now = time.monotonic()
                if self.line.strip() and now - self.last >= self.interval:
                    self.stream.write(self.line.strip() + "\n")
                    self.last = now
                self.line = ""
            elif piece == "\n":
                self.stream.write(self.line.rstrip() + "\n")
                self.line = ""
            else:
                self.line += piece
        self.stream.flush()
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False


@contextlib.contextmanager
def _log_stdout(path: Path):
    """Send stdout (trainer log lines) to `path`; progress bars stay on stderr."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as log, contextlib.redirect_stdout(log):
        yield


def _short_hash(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:10]


def task_options(config: DemoConfig) -> dict[str, float]:
    """The arith settings (ArithConfig fields) of the demo's task, for the warm start, training and test."""
    options: dict[str, float] = {"max_steps": config.arith_max_steps, "max_operand": config.arith_max_operand}
    if config.arith_answer_noise:
        options["answer_noise"] = config.arith_answer_noise
    return options


def write_recipe(config: DemoConfig, model_dir: Path, path: Path) -> Path:
    """The shared `gtpo train` recipe of both runs (only --algo and --output_dir differ)."""
    recipe = {
        "model_name_or_path": str(model_dir),
        "dtype": "float32",
        "task": "arith",
        "task_options": task_options(config),
        "task_seed": config.seed,
        "task_limit": max(2000, config.rl_steps * config.prompts_per_step),
        "seed": config.seed,
        "max_steps": config.rl_steps,
        "per_device_train_batch_size": config.prompts_per_step * config.group_size,
        "num_generations": config.group_size,
        "max_completion_length": config.max_completion_length,
        "temperature": config.temperature,
        "top_p": 1.0,
        "beta": 0.0,
        "learning_rate": config.rl_lr,
        "lr_scheduler_type": "constant",
        "logging_steps": config.logging_steps,
        "save_strategy": "no",
        "report_to": "none",
        "use_cpu": True,
        "bf16": False,
        "dataloader_num_workers": 0,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def run_demo(config: DemoConfig) -> Path:
    """Run every phase with `config.threads` torch threads; return the path of the report's summary.md."""
    import torch

    threads = torch.get_num_threads()
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    try:
        return _run_phases(config)
    finally:
        torch.set_num_threads(threads)


def _run_phases(config: DemoConfig) -> Path:
    """The six phases of the module docstring, in order."""
    import torch

    from gtpo import report
    from gtpo.demo.tiny import make_tiny_checkpoint
    from gtpo.demo.warm_start import WarmStartConfig, warm_start
    from gtpo.tasks.arith import ArithConfig
    from gtpo.trl import train as train_cli

    out = Path(config.output_dir).expanduser()
    cache = Path(config.cache_dir).expanduser()
    for stale in ("gtpo", "grpo", "eval", "report", "logs"):
        shutil.rmtree(out / stale, ignore_errors=True)
    logs = out / "logs"
    phases = Phases(6)
    task = ArithConfig(**task_options(config))

    with phases("tiny model", f"tiny tokenizer + model (cache: {cache})"):
        base = make_tiny_checkpoint(cache / f"tiny-seed{config.seed}", seed=config.seed)

    sft_config = WarmStartConfig(
        steps=config.sft_steps, batch_size=config.sft_batch_size, lr=config.sft_lr, seed=config.seed,
        n_train=config.sft_problems,
    )  # fmt: skip
    # the thread count changes floating-point sums, so a warm start is reused only at the same count
    sft_key = {"sft": asdict(sft_config), "task": asdict(task), "torch_threads": torch.get_num_threads()}
    sft_dir = cache / f"sft-{_short_hash(sft_key)}"
    with phases(
        "warm start",
        f"supervised warm start: {config.sft_steps} steps x {config.sft_batch_size} (reused from the cache when done before)",
    ):
        with _log_stdout(logs / "sft.log"):
            start = warm_start(base, sft_dir, sft_config, task_config=task, progress=True)

    recipe = write_recipe(config, start, out / "recipe.yaml")
    runs = {}
    for algo in ALGOS:
        what = f"{algo.upper()} from the warm start: {config.rl_steps} steps x {config.prompts_per_step} prompts x {config.group_size}"
        with phases(algo, what), _log_stdout(logs / f"{algo}.log"):
            code = train_cli.main([str(recipe), "--algo", algo, "--output_dir", str(out / algo)])
        if code != 0:
            raise RuntimeError(
                f"gtpo demo: `gtpo train --algo {algo}` failed (exit {code}); see {logs / (algo + '.log')}"
            )
        runs[algo] = out / algo

    with phases(
        "evaluation", f"evaluate start, GTPO, GRPO: {config.eval_problems} problems x {config.eval_samples}"
    ):
        with _log_stdout(logs / "eval.log"):
            summary = evaluate_heldout(
                [str(start), str(runs["gtpo"]), str(runs["grpo"])], out / "eval", task_config=task,
                problems=config.eval_problems, samples=config.eval_samples,
                max_new_tokens=config.max_completion_length, seed=config.seed, names=["start", "gtpo", "grpo"],
                temperature=config.temperature,
            )  # fmt: skip

    with phases("report", "report"):
        result = outcome(summary, out / "eval", config)
        section, terminal = evaluation_section(summary, result, config, dict(phases.times), dict(phases.cpu))
        intro = (
            "`gtpo demo`: a tiny Qwen2 model warm-started on arith word problems, then trained with GTPO and "
            "with GRPO (beta = 0) from the same start, seed, recipe and budget. Settings: "
            f"`{json.dumps(asdict(config))}`. The training curves below come from each run's metrics.jsonl "
            "(accuracy and format rate there are over the sampled training completions)."
        )
        loaded = [report.load_run(runs[algo], algo) for algo in ALGOS]
        section += "\n\n" + comparison_section(dict(zip(ALGOS, loaded, strict=True)), result, config)
        path = report.write_report(
            loaded,
            out / "report",
            title="gtpo demo: GTPO vs GRPO on arith",
            intro=intro,
            extra_sections=section,
        )
    total = sum(phases.times.values())
    written = {**result, "torch_threads": torch.get_num_threads(), "seconds": {**phases.times, "total": total}}
    write_text_atomic(out / "demo.json", json.dumps(written, indent=2) + "\n")
    rows = {row["model"]: row for row in summary["results"]}
    print("\ngtpo demo: held-out accuracy / format rate", file=sys.stderr)
    for name, row in rows.items():
        print(f"  {name:6s} {row['accuracy']:.3f} / {row['format_rate']:.3f}", file=sys.stderr)
    print("\n".join(terminal), file=sys.stderr)
    print(f"total {total:.0f} s; report: {path}", file=sys.stderr)
    return path


def main(argv: list[str] | None = None) -> int:
    from transformers import HfArgumentParser

    parser = HfArgumentParser(DemoConfig, prog="gtpo demo", description=__doc__.split("\n")[0])
    try:
        (config,) = parser.parse_args_into_dataclasses(args=argv)
    except ValueError as error:
        print(f"gtpo demo: error: {error}", file=sys.stderr)
        return 2
    import datasets
    from transformers.utils import logging as hf_logging

    # Quiet the per-call bars of dataset maps and weight loading; the phase bars stay.
    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
    stderr = sys.stderr
    if not stderr.isatty():  # a log file or a pipe: bars as a line every 10 s, not thousands of redraws
        sys.stderr = LineProgress(stderr)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            path = run_demo(config)
    except RuntimeError as error:  # a failed `gtpo train` phase: the message names its log
        print(error, file=sys.stderr)
        return 1
    finally:
        sys.stderr = stderr
        datasets.enable_progress_bars()
        hf_logging.enable_progress_bar()
    print(path)
    return 0
