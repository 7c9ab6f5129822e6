"""Kill `gtpo train` with SIGKILL (alternately at a random moment and while a checkpoint is being written), resume it with --resume each time, and compare the
result with an uninterrupted run of the same seed (docs/guards.md, "Random kills").

    python benchmarks/kill_resume.py --model runs/tiny-model --kills 8 --out /tmp/kill-resume

The model folder is any tiny checkpoint (`python -c "from gtpo.demo.tiny import make_tiny_checkpoint as m;
m('runs/tiny-model')"`). CPU, one thread, full_determinism: the final weights must be bit-identical.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

RECIPE = str(Path(__file__).resolve().parents[1] / "recipes" / "tiny-cpu.yaml")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def command(model: str, out: Path, steps: int) -> list[str]:
    return [sys.executable, "-m", "gtpo.trl.train", RECIPE, "--model_name_or_path", model, "--output_dir", str(out),
            "--per_device_train_batch_size", "8", "--num_generations", "4", "--max_completion_length", "12",
            "--task_limit", "64", "--learning_rate", "1e-2", "--max_steps", str(steps), "--save_steps", "1",
            "--save_total_limit", "2", "--full_determinism", "true", "--resume"]  # fmt: skip


def logged(out: Path) -> int:
    rows = (out / "metrics.jsonl").read_text().splitlines() if (out / "metrics.jsonl").is_file() else []
    try:
        return json.loads(rows[-1])["step"] if rows else 0
    except json.JSONDecodeError:  # a row being written
        return 0


def staged(out: Path) -> bool:
    return any(out.glob(".tmp-checkpoint-*/checkpoint-*"))


def state(out: Path) -> str:
    rows = (out / "metrics.jsonl").read_text().splitlines() if (out / "metrics.jsonl").is_file() else []
    names = sorted(p.name for p in out.glob("*checkpoint-*")) if out.is_dir() else []  # incl. .tmp-checkpoint-*
    return f"logged step {json.loads(rows[-1])['step'] if rows else 0}, folders {names}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", default="/tmp/kill-resume")
    parser.add_argument("--kills", type=int, default=8)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng, root = random.Random(args.seed), Path(args.out)
    shutil.rmtree(root, ignore_errors=True)
    subprocess.run(command(args.model, root / "reference", args.steps), env=ENV, check=True, capture_output=True)
    crashed, kills = root / "crashed", 0
    while True:
        proc = subprocess.Popen(command(args.model, crashed, args.steps), env=ENV, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)  # fmt: skip
        if kills < args.kills:
            start = logged(crashed)
            if kills % 2:  # odd kills: the moment a checkpoint is being staged (inside transformers' save)
                while proc.poll() is None and not (logged(crashed) > start and staged(crashed)):
                    time.sleep(0.002)
            else:  # even kills: once this launch has logged a new step, at a random moment
                while proc.poll() is None and logged(crashed) <= start:
                    time.sleep(0.01)
                time.sleep(rng.uniform(0.0, 0.6))  # a step takes ~0.3 s: inside a step, a save, or a log write
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                print(f"kill {kills}: {state(crashed)}", flush=True)
                continue
        _, err = proc.communicate()
        if proc.returncode != 0:
            print(err.decode()[-2000:])
            return 1
        break
    import torch
    from safetensors.torch import load_file

    ref, got = load_file(root / "reference" / "model.safetensors"), load_file(crashed / "model.safetensors")
    same = all(torch.equal(ref[k], got[k]) for k in ref)
    steps = [json.loads(line)["step"] for line in (crashed / "metrics.jsonl").read_text().splitlines()]
    losses = [json.loads(line)["loss"] for line in (crashed / "metrics.jsonl").read_text().splitlines()]
    ref_losses = [json.loads(line)["loss"] for line in (root / "reference" / "metrics.jsonl").read_text().splitlines()]
    print(f"{kills} kills; logged steps {steps}; losses equal: {losses == ref_losses}; weights bit-identical: {same}")
    return 0 if same and steps == list(range(1, args.steps + 1)) and losses == ref_losses else 1


if __name__ == "__main__":
    raise SystemExit(main())
