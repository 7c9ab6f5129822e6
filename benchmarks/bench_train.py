"""Seconds per optimizer step: GTPOTrainer vs TRL's GRPOTrainer on the same tiny model, batch and seed.

Each round builds a fresh trainer per algorithm (same seed, so the same initial weights and the same
first generation batch) and times `--steps` optimizer steps with a callback (on_step_begin ->
on_step_end, so generation, scoring, forward, backward and the optimizer are all inside). The first
step of every run is warm-up and is dropped. Rounds alternate the order of the two algorithms
(GTPO first, then GRPO first, ...), so drift of a shared machine hits both alike. The GRPO baseline
uses loss_type='grpo' and beta=0, the same per-completion normalisation as GTPO, and no reference
model. The learning rate is 0 by default: the optimizer still runs, but both trainers then sample
exactly the same completions at every step, so the ratio measures the trainer's own cost rather
than differences in completion length after different updates (the output says in how many rounds
the digests of the completion ids agreed). Per step it also times generation + scoring and forward + backward, so a
gap can be placed. Prints a table and three ratios:
of the medians (the headline, goal <= 1.05), the median of the per-round ratios (robust to load that
drifts between rounds), and of the minima (the least disturbed steps).

    python benchmarks/bench_train.py                          # tiny model built in a temp folder
    python benchmarks/bench_train.py --model runs/tiny-sft --rounds 6 --steps 6
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path


def reward(completions, **_):
    """A cheap reward with within-group variance, so advantages and conflict weights are non-trivial."""
    texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]  # chat completions
    return [float(sum(map(ord, t)) % 2) for t in texts]


def build(algo: str, model_dir: str, output_dir: str, args, callbacks=()):
    """The trainer of `algo` with the benchmark's settings (identical apart from the algorithm)."""
    from transformers import AutoTokenizer, PrinterCallback

    from gtpo.tasks import load_task
    from gtpo.trl import GTPOConfig, GTPOTrainer
    from trl import GRPOConfig, GRPOTrainer

    common = dict(
        output_dir=output_dir, use_cpu=args.device == "cpu", bf16=False, activation_checkpointing=False,
        per_device_train_batch_size=args.prompts * args.group, num_generations=args.group,
        max_completion_length=args.completion_length, max_steps=args.steps, learning_rate=args.lr,
        temperature=1.0, logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True,
        seed=args.seed, loss_type="grpo", beta=0.0, dataloader_num_workers=0,
    )  # fmt: skip
    config_cls, trainer_cls = (GTPOConfig, GTPOTrainer) if algo == "gtpo" else (GRPOConfig, GRPOTrainer)
    trainer = trainer_cls(
        model=model_dir,
        reward_funcs=[reward],
        args=config_cls(**common),
        train_dataset=load_task("arith", limit=256, seed=args.seed),
        processing_class=AutoTokenizer.from_pretrained(model_dir, padding_side="left"),
        callbacks=list(callbacks),
    )
    trainer.remove_callback(PrinterCallback)  # keep the output to the timing lines
    return trainer


def run_once(algo: str, model_dir: str, output_dir: str, args) -> dict[str, list]:
    """Train `args.steps` optimizer steps; per step after the first: seconds of the whole step, of
    generation + scoring (`_generate_and_score_completions`), of the forward + backward
    (`training_step` minus generation), the completion tokens, and a digest of the completion ids
    (equal digests in both trainers: they trained on the same samples)."""
    import hashlib

    from transformers import TrainerCallback

    record: dict[str, list] = {"step": [], "generate": [], "train_step": [], "tokens": [], "digest": []}

    class StepTimer(TrainerCallback):
        def on_step_begin(self, *_, **__):
            self.start = time.perf_counter()

        def on_step_end(self, *_, **__):
            record["step"].append(time.perf_counter() - self.start)

    trainer = build(algo, model_dir, output_dir, args, [StepTimer()])
    generate, train_step = trainer._generate_and_score_completions, trainer.training_step

    def timed_generate(inputs):
        start = time.perf_counter()
        output = generate(inputs)
        record["generate"].append(time.perf_counter() - start)
        ids = (output["completion_ids"] * output["completion_mask"]).cpu()
        record["tokens"].append(int(output["completion_mask"].sum()))
        record["digest"].append(hashlib.sha256(ids.numpy().tobytes()).hexdigest()[:8])
        return output

    def timed_train_step(*a, **kw):
        start = time.perf_counter()
        loss = train_step(*a, **kw)
        record["train_step"].append(time.perf_counter() - start)
        return loss

    trainer._generate_and_score_completions, trainer.training_step = timed_generate, timed_train_step
    trainer.train()
    n = len(record["step"])
    assert all(len(v) == n for v in record.values()), {k: len(v) for k, v in record.items()}
    record["train_step"] = [t - g for t, g in zip(record["train_step"], record["generate"], strict=True)]
    return {k: v[1:] for k, v in record.items()}  # the first step is warm-up


def hook_costs(model_dir: str, tmp: str, args) -> dict[str, float]:
    """Median seconds, on one fixed generation batch, of what GTPO adds: the conflict weights after
    scoring, and its loss + backward next to GRPOTrainer's loss + backward (interleaved repetitions)."""
    from gtpo.tasks import load_task
    from gtpo.trl.trainer import CONFLICTS_KEY, WEIGHTS_KEY

    gtpo, grpo = (build(a, model_dir, str(Path(tmp) / f"hooks-{a}"), args) for a in ("gtpo", "grpo"))
    for trainer in (gtpo, grpo):
        trainer.model.train()
        trainer.current_gradient_accumulation_steps = 1
    rows = list(load_task("arith", limit=args.prompts, seed=args.seed))
    batch = gtpo._generate_and_score_completions([row for row in rows for _ in range(args.group)])
    plain = {k: v for k, v in batch.items() if k not in (WEIGHTS_KEY, CONFLICTS_KEY)}
    costs: dict[str, list[float]] = {"conflict_weights": [], "gtpo_loss_backward": [], "grpo_loss_backward": []}
    for _ in range(args.hook_reps):
        start = time.perf_counter()
        gtpo._add_conflict_weights(dict(plain), "train")
        costs["conflict_weights"].append(time.perf_counter() - start)
        for name, trainer in (("gtpo_loss_backward", gtpo), ("grpo_loss_backward", grpo)):
            start = time.perf_counter()
            trainer._compute_loss(trainer.model, batch).backward()
            costs[name].append(time.perf_counter() - start)
            trainer.model.zero_grad(set_to_none=True)
    return {name: statistics.median(values) for name, values in costs.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="model folder (default: a fresh gtpo.demo.tiny checkpoint)")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds (each runs both algorithms)")
    parser.add_argument("--steps", type=int, default=6, help="optimizer steps per run (the first is warm-up)")
    parser.add_argument("--prompts", type=int, default=4, help="prompts per optimizer step")
    parser.add_argument("--group", type=int, default=8, help="completions per prompt (G)")
    parser.add_argument("--completion-length", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hook-reps", type=int, default=20, help="repetitions of the per-hook timing (0: skip)")
    parser.add_argument("--lr", type=float, default=0.0, help="learning rate (0: identical samples in both runs)")
    args = parser.parse_args(argv)

    import torch
    import transformers

    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model
        if model_dir is None:
            from gtpo.demo.tiny import make_tiny_checkpoint

            model_dir = str(make_tiny_checkpoint(Path(tmp) / "tiny", seed=args.seed))
        times: dict[str, list[float]] = {"gtpo": [], "grpo": []}
        parts: dict[str, dict[str, list]] = {"gtpo": {}, "grpo": {}}
        round_ratios, same_samples = [], []
        for round_ in range(args.rounds):
            order = ("gtpo", "grpo") if round_ % 2 == 0 else ("grpo", "gtpo")
            medians, digests = {}, {}
            for algo in order:
                record = run_once(algo, model_dir, str(Path(tmp) / f"{algo}-{round_}"), args)
                steps = record["step"]
                times[algo] += steps
                for key, values in record.items():
                    parts[algo].setdefault(key, []).extend(values)
                medians[algo], digests[algo] = statistics.median(steps), record["digest"]
                print(f"round {round_} {algo}: median {statistics.median(steps):.3f} s/step over {len(steps)} steps",
                      flush=True)  # fmt: skip
            round_ratios.append(medians["gtpo"] / medians["grpo"])
            same_samples.append(digests["gtpo"] == digests["grpo"])
        hooks = hook_costs(model_dir, tmp, args) if args.hook_reps > 0 else None

    print(f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch threads "
          f"{args.threads}, device {args.device}; model {args.model or 'gtpo.demo.tiny (fresh)'}")  # fmt: skip
    print(f"batch: {args.prompts} prompts x G={args.group}, {args.completion_length} completion tokens")
    print(f"{'algo':<6}{'steps':>7}{'median s/step':>15}{'mean s/step':>13}{'min s/step':>12}")
    for algo, v in times.items():
        print(f"{algo:<6}{len(v):>7}{statistics.median(v):>15.3f}{statistics.mean(v):>13.3f}{min(v):>12.3f}")
    print(f"{'algo':<6}{'generate+score':>16}{'fwd+bwd':>10}{'rest':>8}{'tokens/step':>13}   (medians, s/step)")
    for algo, p in parts.items():
        rest = [s - g - t for s, g, t in zip(p["step"], p["generate"], p["train_step"], strict=True)]
        print(f"{algo:<6}{statistics.median(p['generate']):>16.3f}{statistics.median(p['train_step']):>10.3f}"
              f"{statistics.median(rest):>8.3f}{statistics.mean(p['tokens']):>13.1f}")  # fmt: skip
    print(f"same completions in both trainers: {sum(same_samples)} of {len(same_samples)} rounds"
          + ("" if args.lr == 0 else " (lr > 0: not expected after the first step)"))
    ratio = statistics.median(times["gtpo"]) / statistics.median(times["grpo"])
    print(f"ratio GTPO / GRPO: medians {ratio:.3f} (goal <= 1.05); median per-round ratio "
          f"{statistics.median(round_ratios):.3f}; minima {min(times['gtpo']) / min(times['grpo']):.3f}")
    if hooks is not None:
        extra = hooks["conflict_weights"] + hooks["gtpo_loss_backward"] - hooks["grpo_loss_backward"]
        print(f"per-hook medians over {args.hook_reps} reps on one batch: conflict weights "
              f"{hooks['conflict_weights'] * 1e3:.2f} ms; loss+backward GTPO {hooks['gtpo_loss_backward'] * 1e3:.1f} ms"
              f" vs GRPO {hooks['grpo_loss_backward'] * 1e3:.1f} ms; GTPO's extra work per step {extra * 1e3:.1f} ms"
              f" = {extra / statistics.median(times['grpo']):.3f} of the GRPO step")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
