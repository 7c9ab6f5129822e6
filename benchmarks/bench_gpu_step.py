"""Tokens per second, GTPOTrainer vs TRL's GRPOTrainer, on a Qwen2.5-0.5B-sized model with random weights.

The model is built from a `Qwen2Config` with Qwen2.5-0.5B's sizes (24 layers, hidden 896, MLP 4864,
14 query / 2 key-value heads, vocabulary 151,936, tied embeddings: 494 M parameters) and random
weights, saved in bf16 next to the offline tiny tokenizer (`gtpo.demo.tiny`; ids beyond its 500 tokens
decode to nothing, and a random model practically never samples eos, so every completion runs to
`--completion-length`). Both trainers get the same model, prompts (`arith`), batch (`--prompts` x G),
seed and a cheap reward with within-group variance (conflict weights are then non-trivial);
loss_type 'grpo', beta 0 (`--kl` adds GRPO with beta 0.04 and its reference model), learning rate 0
by default so every round samples the same completions. Rounds alternate the order of the
algorithms; each run's first step is warm-up and dropped.

Per optimizer step: *generation* = time inside TRL's `_generate` (HF `generate` with the KV cache),
*training* = the rest of the step (reward scoring, GTPO's conflict weights, the log-prob / entropy
forward, loss, backward, optimizer). Tokens/s = completion tokens of the step / that time; peak GPU
memory from `torch.cuda.max_memory_allocated`.

    python benchmarks/bench_gpu_step.py                       # GPU, bf16, 0.5B, 4 x 8 x 256 tokens
    python benchmarks/bench_gpu_step.py --tiny                # CPU smoke check: a 2-layer model, 2 rounds
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

QWEN25_05B = dict(
    hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
    vocab_size=151936, max_position_embeddings=32768, rope_theta=1_000_000.0, rms_norm_eps=1e-6,
    tie_word_embeddings=True,
)  # fmt: skip
TINY = dict(QWEN25_05B, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2)  # fmt: skip


def reward(completions, **_):
    """Cheap reward with within-group variance (parity of the characters' code points)."""
    texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
    return [float(sum(map(ord, t)) % 2) for t in texts]


def make_model(folder: Path, sizes: dict, seed: int, dtype) -> int:
    """Random-weight Qwen2 + the tiny offline tokenizer in `folder`; return the parameter count."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    from gtpo.demo.tiny import make_tiny_checkpoint

    tok_dir = make_tiny_checkpoint(folder.with_name(folder.name + ".tok"), seed=seed)
    tokenizer = AutoTokenizer.from_pretrained(tok_dir)
    config = Qwen2Config(**sizes, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config).to(dtype)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def build(algo: str, model_dir: Path, out: str, args, callbacks):
    import torch
    from transformers import AutoTokenizer, PrinterCallback

    from gtpo.tasks import load_task
    from gtpo.trl import GTPOConfig, GTPOTrainer
    from trl import GRPOConfig, GRPOTrainer

    cuda = args.device == "cuda"
    common = dict(
        output_dir=out, use_cpu=not cuda, bf16=cuda, activation_checkpointing=False,
        model_init_kwargs={"dtype": torch.bfloat16 if cuda else torch.float32},
        per_device_train_batch_size=args.prompts * args.group, num_generations=args.group,
        max_completion_length=args.completion_length, max_steps=args.steps, learning_rate=args.lr,
        temperature=1.0, logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True,
        seed=args.seed, loss_type="grpo", beta=0.04 if algo == "grpo-kl" else 0.0, dataloader_num_workers=0,
    )  # fmt: skip
    config_cls, trainer_cls = (GTPOConfig, GTPOTrainer) if algo == "gtpo" else (GRPOConfig, GRPOTrainer)
    trainer = trainer_cls(
        model=str(model_dir), reward_funcs=[reward], args=config_cls(**common),
        train_dataset=load_task("arith", limit=256, seed=args.seed),
        processing_class=AutoTokenizer.from_pretrained(model_dir, padding_side="left"), callbacks=list(callbacks),
    )  # fmt: skip
    trainer.remove_callback(PrinterCallback)
    return trainer


def run_once(algo: str, model_dir: Path, out: str, args) -> list[dict]:
    """Train `args.steps` steps; per step after the first: seconds total / in generation, tokens."""
    import torch
    from transformers import TrainerCallback

    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    steps: list[dict] = []

    class Timer(TrainerCallback):
        def on_step_begin(self, *_, **__):
            sync()
            steps.append({"gen_s": 0.0, "tokens": 0, "start": time.perf_counter()})

        def on_step_end(self, *_, **__):
            sync()
            steps[-1]["step_s"] = time.perf_counter() - steps[-1].pop("start")

    trainer = build(algo, model_dir, out, args, [Timer()])
    generate = trainer._generate

    def timed_generate(prompts):  # the benchmark's only hook: time TRL's generation call
        sync()
        start = time.perf_counter()
        result = generate(prompts)
        sync()
        if steps:
            steps[-1]["gen_s"] += time.perf_counter() - start
            steps[-1]["tokens"] += sum(len(ids) for ids in result[1])
        return result

    trainer._generate = timed_generate
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    peak = torch.cuda.max_memory_allocated() / 2**30 if args.device == "cuda" else None
    for step in steps:
        step["peak_gib"] = peak
    del trainer
    if args.device == "cuda":
        torch.cuda.empty_cache()
    return steps[1:]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--tiny", action="store_true", help="CPU smoke check: 2-layer model, 2 x 4 x 32 tokens, 2 rounds"
    )
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (each runs every algorithm)")
    p.add_argument("--steps", type=int, default=5, help="optimizer steps per run (the first is warm-up)")
    p.add_argument("--prompts", type=int, default=4, help="prompts per optimizer step")
    p.add_argument("--group", type=int, default=8, help="completions per prompt (G)")
    p.add_argument("--completion-length", type=int, default=256)
    p.add_argument("--lr", type=float, default=0.0, help="learning rate (0: identical samples in all runs)")
    p.add_argument("--kl", action="store_true", help="also GRPO with beta 0.04 (reference model)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write every step's figures to this file")
    args = p.parse_args(argv)
    import torch

    if args.tiny:
        args.device, sizes = "cpu", TINY
        args.rounds, args.steps, args.completion_length = min(args.rounds, 2), min(args.steps, 3), 32
        args.prompts, args.group = 2, 4  # full-vocabulary logits of 8 x 32 tokens: about 150 MiB
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    else:
        if not torch.cuda.is_available():
            raise SystemExit("bench_gpu_step: no CUDA GPU; run with --tiny for the CPU smoke check")
        args.device, sizes = "cuda", QWEN25_05B
    algos = ["gtpo", "grpo"] + (["grpo-kl"] if args.kl else [])
    results: dict[str, list[dict]] = {a: [] for a in algos}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "model"
        params = make_model(
            model_dir, sizes, args.seed, torch.bfloat16 if args.device == "cuda" else torch.float32
        )
        device = torch.cuda.get_device_name() if args.device == "cuda" else platform.processor() or "cpu"
        print(f"model: {params / 1e6:.1f} M parameters; device {device}; torch {torch.__version__}")
        for r in range(args.rounds):
            order = algos if r % 2 == 0 else algos[::-1]
            for algo in order:
                results[algo] += run_once(algo, model_dir, str(Path(tmp) / f"{algo}-{r}"), args)
    batch = args.prompts * args.group
    print(f"\n{batch} completions x up to {args.completion_length} tokens per step; medians over steps\n")
    print("| trainer | steps | s/step | generation tok/s | training tok/s | overall tok/s | peak GiB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    summary = {}
    for algo, steps in results.items():
        med = {k: statistics.median(s[k] for s in steps) for k in ("step_s", "gen_s", "tokens")}
        gen = statistics.median(s["tokens"] / s["gen_s"] for s in steps)
        train = statistics.median(s["tokens"] / (s["step_s"] - s["gen_s"]) for s in steps)
        overall = statistics.median(s["tokens"] / s["step_s"] for s in steps)
        peak = steps[0]["peak_gib"]
        summary[algo] = {"steps": len(steps), **med, "gen_tok_s": gen, "train_tok_s": train, "tok_s": overall,
                         "peak_gib": peak}  # fmt: skip
        peak_txt = "-" if peak is None else f"{peak:.1f}"
        print(
            f"| {algo} | {len(steps)} | {med['step_s']:.3f} | {gen:.0f} | {train:.0f} | {overall:.0f} | {peak_txt} |"
        )
    ratio = summary["gtpo"]["step_s"] / summary["grpo"]["step_s"]
    print(f"\nGTPO / GRPO seconds per step (medians): {ratio:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "params": params, "device": device,
                                               "summary": summary, "steps": results}, indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
