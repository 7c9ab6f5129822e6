"""Learning benchmarks on `arith` (or `explain`): GTPO vs GRPO (beta = 0 and 0.04), and GTPO ablations (paper Fig. 4).

Every run starts from ONE shared supervised warm start (`gtpo.demo.warm_start.prepare`, the model of
`recipes/tiny-cpu.yaml`, snapshotted into OUT/start so a later rebuild cannot change a comparison),
trains with `gtpo train` (`gtpo.trl.train.main`, one subprocess per run, one torch thread) on the
same recipe and budget (steps, prompts x G, lr, completion length) where only the algorithm or one
GTPO field differs, and is then sampled on the same held-out `arith` test problems with
`gtpo.eval.evaluate` (same eval seed for every run). Seeds change the data order and the training
samples (`--seed`), never the start or the test set.

Suites (`--suite`):
- learning:  gtpo | grpo (beta 0) | grpo-kl (beta 0.04)
- ablations: gtpo (defaults: gamma 0.1, tau ln 2, filter auto, prefix_suffix) | gamma 0.01 | gamma 0 |
  scope all | tau 0.7 | tau 1.05 | tau 2.0 | filter off | OnlyNeg (filter negative_only), plus
  tau 0.3 with the filter always on and OnlyNeg at tau 0.3 (where the filter fires on this model)
- negatives: gtpo | grpo (beta 0) | negative_weight 0.5 | conflict_max_run 4: does skipping the negative
  update on conflict tokens cost diversity (pass@k, `bench_passk.py`) and stability (entropy)?
- real-negatives: gtpo | grpo (beta 0) | negative_weight 0.5, the same question on a real model (with
  `--recipe recipes/smollm2-135m-gtpo.yaml --start` a `gtpo sft` run; command in docs/results.md)
- frame: gtpo | grpo (beta 0) | grpo-kl (beta 0.04) on `--task explain`, long explained completions where
  the shared tokens are mostly the format frame (docs/frame-regime.md)
- components: gtpo | grpo (beta 0) | scope none (entropy parts only, no conflict weights) | conflict
  only (gamma 0, filter off) | w = 1 (positive_weight 1: negatives' conflict tokens skipped, positives'
  not doubled) | gamma 0 | filter off: which part of GTPO does what; meant for a
  learning rate where GRPO breaks (`--lr 1e-3`, see docs/results.md)

Runs are cached by a hash of everything that defines them, the `gtpo` sources included
(OUT/runs/NAME-sSEED-HASH/done.json), so the two suites share their identical `gtpo` runs and an
interrupted command resumes; a run whose package code changed is run again. Each finished run is also
archived, without its model and logs, under IMG/runs/ (committed with the plots) and restored from there
when the cache lacks it: a later session on another machine adds seeds (`--only-seeds`) instead of
training the suite again (`--start-sha256` for a start rebuilt on another CPU). Outputs:
OUT/SUITE/results.json (every number), OUT/SUITE/table.md, and plots docs/img/bench_SUITE_*.png
(`_learning_tables.py`); with
`--eval-samples` > 1 also the pass@k curves of `bench_passk.py` (OUT/SUITE/passk.json, passk.md, plot).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_learning.py --suite learning
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_learning.py --suite ablations --seeds 2
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_learning.py --suite learning --lr 1e-3 --seeds 6 \
        --out runs/bench-lr1e-3 --img docs/img/lr1e-3
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_learning.py --suite components --lr 1e-3 \
        --seeds 6 --out runs/bench-lr1e-3 --img docs/img/lr1e-3
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_learning.py --quick      # smoke: 1 seed, 4 steps

`--task explain` trains and evaluates on `explain` from a tiny warm start built on it (its own tokenizer,
`--sft-steps`, `--sft-options` for the demonstrations only, e.g. '{"answer_noise": 0.3}'); the command of
the frame suite is in docs/frame-regime.md.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Import the `gtpo` of this checkout (a worktree at a fixed commit), never an editable install of another:
# code_hash() hashes ROOT/src, so the code a run imported must be the code its cache key names.
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # this folder's helpers, also when imported by a test

from _learning_tables import CURVES, EXTRA_CURVES, aggregate, compare, plot, table  # noqa: E402

from gtpo.core import PAPER_THRESHOLD  # noqa: E402

RECIPE = ROOT / "recipes" / "tiny-cpu.yaml"
TASKS = ("arith", "explain")  # generated tasks with solutions: the tiny warm start can be built on them
GTPO = ["--algo", "gtpo"]
SUITES: dict[str, dict[str, list[str]]] = {
    "learning": {
        "gtpo": GTPO,
        "grpo": ["--algo", "grpo", "--beta", "0.0"],
        "grpo-kl": ["--algo", "grpo", "--beta", "0.04"],
    },
    "frame": {  # the learning suite, meant for --task explain (docs/frame-regime.md)
        "gtpo": GTPO,
        "grpo": ["--algo", "grpo", "--beta", "0.0"],
        "grpo-kl": ["--algo", "grpo", "--beta", "0.04"],
    },
    "ablations": {
        "gtpo": GTPO,
        "gamma=0.01": [*GTPO, "--entropy_gamma", "0.01"],
        "gamma=0": [*GTPO, "--entropy_gamma", "0.0"],
        "scope=all": [*GTPO, "--conflict_scope", "all"],
        # The tiny model's completions average ~0.3 nats/token, below every threshold of the paper's
        # Fig. 4, so two extra runs use tau = 0.3 with the filter always on (auto would switch it off,
        # <H>_ini > 0.3), to show what the filter does when it fires.
        "tau=0.3,always": [*GTPO, "--entropy_threshold", "0.3", "--entropy_filter", "always"],
        "OnlyNeg,tau=0.3": [*GTPO, "--entropy_threshold", "0.3", "--entropy_filter", "negative_only"],
        "tau=0.7": [*GTPO, "--entropy_threshold", "0.7"],
        "tau=1.05": [*GTPO, "--entropy_threshold", "1.05"],
        "tau=2.0": [*GTPO, "--entropy_threshold", "2.0"],
        "filter=off": [*GTPO, "--entropy_filter", "off"],
        "OnlyNeg": [*GTPO, "--entropy_filter", "negative_only"],
    },
    "components": {
        "gtpo": GTPO,
        "grpo": ["--algo", "grpo", "--beta", "0.0"],
        "scope=none": [*GTPO, "--conflict_scope", "none"],  # no conflict weights: entropy shaping + filter
        "conflict-only": [*GTPO, "--entropy_gamma", "0.0", "--entropy_filter", "off"],
        "w=1": [*GTPO, "--positive_weight", "1.0"],  # conflicts of negatives still skipped, positives not doubled
        "gamma=0": [*GTPO, "--entropy_gamma", "0.0"],
        "filter=off": [*GTPO, "--entropy_filter", "off"],
    },
}
REF = [*GTPO, "--gtpo_variant", "reference_code"]
SUITES["variants"] = {
    "gtpo": GTPO,  # gtpo_variant: paper (the default)
    "gtpo-ref": REF,
    "grpo": ["--algo", "grpo", "--beta", "0.0"],
    # the reference-code preset with one of its differences put back to the paper's choice
    "ref-scale=group": [*REF, "--scale_rewards", "group"],
    "ref-filter=auto": [*REF, "--entropy_filter", "auto", "--entropy_threshold", repr(PAPER_THRESHOLD)],
    "ref-union": [*REF, "--conflict_combine", "union"],
    "ref-no-norm": [*REF, "--normalize_by_conflicts", "false"],
    "ref-exact-count": [*REF, "--conflict_count", "exact"],
}
SUITES["negatives"] = {  # does skipping negative updates cost diversity and stability? (docs/results.md)
    "gtpo": GTPO,
    "grpo": ["--algo", "grpo", "--beta", "0.0"],
    "negative_weight=0.5": [*GTPO, "--negative_weight", "0.5"],
    "max_run=4": [*GTPO, "--conflict_max_run", "4"],
}
SUITES["real-negatives"] = {  # the negatives question on a real model (--recipe recipes/smollm2-135m-gtpo.yaml ...)
    "gtpo": GTPO,
    "grpo": ["--algo", "grpo", "--beta", "0.0"],
    "negative_weight=0.5": [*GTPO, "--negative_weight", "0.5"],  # the remedy that did best on arith at lr 1e-3
}
SUITES["real"] = {  # the real-model comparison (--recipe recipes/smollm2-135m-gtpo.yaml --start ...)
    "gtpo": GTPO,
    "grpo": ["--algo", "grpo", "--beta", "0.0"],
    "grpo-kl": ["--algo", "grpo", "--beta", "0.04"],
    "gtpo-ref": REF,
}
PANELS = {
    "gamma / scope": ("gtpo", "gamma=0.01", "gamma=0", "scope=all"),
    "entropy filter": ("gtpo", "tau=0.7", "tau=1.05", "tau=2.0", "filter=off", "OnlyNeg"),
    "filter at tau=0.3": ("gtpo", "tau=0.3,always", "OnlyNeg,tau=0.3"),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--suite", choices=[*SUITES, "all"], default="learning")
    p.add_argument("--configs", nargs="*", help="only these configurations of the suite (default: all)")
    p.add_argument("--ref", default=None,
                   help="configuration the others are compared with (default: gtpo for ablations/variants, else grpo)")  # fmt: skip
    p.add_argument("--seeds", type=int, default=3, help="seeds per configuration: 0..N-1 (default 3)")
    p.add_argument("--only-seeds", type=int, nargs="+", metavar="S",
                   help="run and aggregate only these of the seeds 0..N-1 (one suite split across machines or "
                   "sessions: each one's finished runs are archived under IMG/runs and restored from there)")
    p.add_argument("--steps", type=int, default=100, help="optimizer steps per run (default 100)")
    p.add_argument("--prompts", type=int, default=4, help="prompts per step (default 4)")
    p.add_argument("--group-size", type=int, default=8, help="completions per prompt G (default 8)")
    p.add_argument("--lr", type=float, default=1e-4, help="constant learning rate (default 1e-4)")
    p.add_argument("--max-completion-length", type=int, default=40)
    p.add_argument("--eval-problems", type=int, default=200, help="held-out test problems (default 200)")
    p.add_argument("--eval-samples", type=int, default=4, help="samples per test problem: pass@k/maj@k k")
    p.add_argument("--workers", type=int, default=2, help="runs in parallel (default 2; one thread each)")
    p.add_argument("--sft-dir", default="runs/tiny-sft", help="warm start to build or reuse (tiny_model)")
    p.add_argument("--start", help="a ready start model folder (e.g. a `gtpo sft` run) instead of the tiny warm start")
    p.add_argument("--start-sha256", help="continue a suite whose start was built on another CPU: the archived "
                   "start's hash (results.json start_sha256); checked by sampling the start's held-out set")
    p.add_argument("--recipe", default=str(RECIPE), help="gtpo train recipe the runs share (default tiny-cpu.yaml)")
    p.add_argument("--task", default="arith", choices=TASKS, help="generated task to train and evaluate on (default arith)")
    p.add_argument("--task-options", default=None, help="task settings as JSON, for the warm start, training and the test set")
    p.add_argument("--sft-steps", type=int, default=300, help="warm-start steps when the tiny warm start is built (default 300)")
    p.add_argument("--sft-batch-size", type=int, default=32, help="warm-start sequences per step (default 32)")
    p.add_argument("--sft-options", default=None, help="task settings as JSON for the warm start's demonstrations only, "
                   "over --task-options (e.g. '{\"answer_noise\": 0.3}')")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (default 1)")
    p.add_argument("--save-steps", type=int, default=0, help="checkpoint every N steps, so a killed run resumes "
                   "(default 0: no checkpoints, a killed run restarts)")
    p.add_argument("--out", default="runs/bench", help="results folder (default runs/bench)")
    p.add_argument("--img", default="docs/img", help="plot folder (default docs/img)")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 seed, 4 steps, 16 test problems")
    p.add_argument("--worker", help=argparse.SUPPRESS)  # internal: one run, from a spec file
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.steps, args.eval_problems, args.eval_samples = 1, 4, 16, 2
        args.out, args.img = args.out + "-quick", str(Path(args.out + "-quick") / "img")
    args.task_options = json.loads(args.task_options) if args.task_options else None
    args.sft_options = json.loads(args.sft_options) if args.sft_options else None
    for name in ("seeds", "sft_steps", "sft_batch_size", "steps", "prompts", "eval_problems", "eval_samples", "workers", "threads"):
        if getattr(args, name) < 1:
            raise SystemExit(f"bench_learning: --{name.replace('_', '-')} must be >= 1")
    bad = [s for s in args.only_seeds or [] if not 0 <= s < args.seeds]
    if bad:
        raise SystemExit(f"bench_learning: --only-seeds {bad} outside 0..{args.seeds - 1}; raise --seeds or drop them")
    if args.group_size < 2:
        raise SystemExit("bench_learning: --group-size must be >= 2 (advantages are group-relative)")
    return args


def code_hash() -> str:
    """sha256 of the package sources: a run is reused only if it ran the same `gtpo` code."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src" / "gtpo").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode() + path.read_bytes())
    return digest.hexdigest()[:12]


# ---------------------------------------------------------------- one run (worker subprocess)
def task_config(evaluation: dict):
    """The evaluated task's options dataclass (`arith` when the spec names no task)."""
    from gtpo.tasks import get_task

    return get_task(evaluation.get("task", "arith")).options_type(**(evaluation.get("task_options") or {}))


def run_one(spec: dict) -> None:
    """Train one configuration and evaluate it; write done.json last (the cache marker)."""
    import torch

    torch.set_num_threads(spec.get("threads", 1))
    from gtpo.demo import evaluate_heldout
    from gtpo.run.io import read_jsonl
    from gtpo.trl import train as train_cli

    run = Path(spec["dir"])
    train_dir, times, code = run / "train", {}, code_hash()  # the code this process imported
    start = time.perf_counter()
    with (
        open(run / "train.log", "w") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        resume = ["--resume"] if spec.get("resumable") else ["--overwrite"]  # a killed attempt starts again
        status = train_cli.main([spec.get("recipe", str(RECIPE)), *spec["argv"], "--output_dir", str(train_dir), *resume])
    if status != 0:
        raise SystemExit(f"gtpo train failed (exit {status}); see {run / 'train.log'}")
    times["train_s"] = time.perf_counter() - start
    start = time.perf_counter()
    e = spec["eval"]
    with open(run / "eval.log", "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        summary = evaluate_heldout([str(train_dir)], run / "eval", task_config=task_config(e),
                                   problems=e["problems"], samples=e["samples"], max_new_tokens=e["max_new_tokens"],
                                   seed=0, show_progress=False, task=e.get("task", "arith"))  # fmt: skip
    times["eval_s"] = time.perf_counter() - start
    metrics = read_jsonl(train_dir / "metrics.jsonl", torn="error")
    done = {"name": spec["name"], "seed": spec["seed"], "argv": spec["argv"], "code": code, "eval": summary["results"][0],
            "metrics": metrics, **times}  # fmt: skip
    for stale in train_dir.glob("checkpoint-*"):
        shutil.rmtree(stale)
    (run / "done.json").write_text(json.dumps(done))


# ---------------------------------------------------------------- orchestration
def cpu_model() -> str:
    """The CPU's name, family/model and vector extension: a start rebuilt on another CPU gets another hash."""
    info = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    if not info:
        import platform

        return platform.processor() or platform.machine()
    flags = info.get("flags", "").split()
    vector = next((f for f in ("avx512f", "avx2", "neon") if f in flags), "none")
    return f"{info.get('model name', '?')} (family {info.get('cpu family', '?')}, model {info.get('model', '?')}, {vector})"


def vouch_start(args: argparse.Namespace, start: Path, start_hash: str, spec: dict) -> str:
    """The hash the runs are keyed by: the start's own, or --start-sha256 for a start rebuilt on another CPU.

    A rebuild of the same recipe and commit on another CPU differs in float rounding, so its file hash
    differs. It stands in for the archived start only if it samples exactly the archived start's
    held-out completions (the same problems, samples and seed), which this checks.
    """
    claimed = args.start_sha256
    if not claimed or claimed == start_hash:
        return start_hash
    archived = Path(spec["archive"]) / start_eval_folder(args, claimed, spec).name / "samples.jsonl"
    if not archived.is_file():
        raise SystemExit(f"bench_learning: --start-sha256 {claimed}: no archived start evaluation at {archived}; "
                         "drop the option to start a new suite from this start")  # fmt: skip
    from gtpo.run.io import read_jsonl

    own = Path(evaluate_start(args, start, start_hash, spec)["eval_dir"]) / "samples.jsonl"

    def completions(path: Path) -> list[tuple]:
        return sorted((r["id"], r["sample"], r["completion"]) for r in read_jsonl(path, torn="error"))

    if completions(own) != completions(archived):
        raise SystemExit(f"bench_learning: the start {start} (sha256 {start_hash}) samples other held-out completions "
                         f"than the archived start {claimed}: it is another start; drop --start-sha256")  # fmt: skip
    print(f"start {start_hash} samples the archived start {claimed}'s completions exactly: runs keyed by {claimed}")
    return claimed


def snapshot_start(args: argparse.Namespace, out: Path) -> tuple[Path, str]:
    """Build/reuse the warm start, copy it once into OUT/start; return (path, content hash)."""
    from gtpo.demo.warm_start import prepare

    start = out / "start"
    if not (start / "model.safetensors").is_file():
        options = {**(args.task_options or {}), **(args.sft_options or {})} or None
        source = Path(args.start) if args.start else prepare(args.sft_dir, sft_steps=args.sft_steps, sft_batch_size=args.sft_batch_size, task=args.task,
                                                             task_options=options)  # fmt: skip
        if not (source / "model.safetensors").is_file():
            raise SystemExit(f"bench_learning: --start {source} holds no model.safetensors")
        shutil.rmtree(start, ignore_errors=True)
        shutil.copytree(source, start, ignore=shutil.ignore_patterns("checkpoint-*", ".tmp-checkpoint-*"))
    digest = hashlib.sha256((start / "model.safetensors").read_bytes()).hexdigest()[:12]
    return start, digest


def run_specs(args: argparse.Namespace, suite: str, start: Path, start_hash: str) -> list[dict]:
    names = args.configs or list(SUITES[suite])
    unknown = set(names) - set(SUITES[suite])
    if unknown:
        raise SystemExit(
            f"bench_learning: unknown --configs {sorted(unknown)}; {suite} has {list(SUITES[suite])}"
        )
    ks, code = sorted({1, args.eval_samples}), code_hash()
    budget = ["--model_name_or_path", str(start), "--max_steps", str(args.steps), "--per_device_train_batch_size",
              str(args.prompts * args.group_size), "--num_generations", str(args.group_size), "--learning_rate",
              str(args.lr), "--max_completion_length", str(args.max_completion_length), "--save_strategy", "no",
              "--logging_steps", "1", "--task_limit", str(max(512, args.steps * args.prompts))]  # fmt: skip
    if args.task != "arith":
        budget += ["--task", args.task]
    if args.task_options:
        budget += ["--task_options", json.dumps(args.task_options, sort_keys=True)]
    if args.save_steps:
        budget[budget.index("--save_strategy") + 1] = "steps"
        budget += ["--save_steps", str(args.save_steps), "--save_total_limit", "1"]
    evaluation = {"problems": args.eval_problems, "samples": args.eval_samples, "k": ",".join(map(str, ks)),
                  "max_new_tokens": args.max_completion_length}  # fmt: skip
    if args.task != "arith":
        evaluation["task"] = args.task
    if args.task_options:
        evaluation["task_options"] = args.task_options
    recipe = str(Path(args.recipe).resolve())
    specs = []
    for seed in args.only_seeds or range(args.seeds):  # seed-major: an interrupted suite has every configuration at its first seeds
        for name in names:
            argv = [*SUITES[suite][name], *budget, "--seed", str(seed)]
            identity = {"argv": argv, "eval": evaluation, "start": start_hash, "code": code}
            if recipe != str(RECIPE):
                identity["recipe"] = Path(recipe).read_text()
            key = json.dumps(identity)
            tag = hashlib.sha256(key.encode()).hexdigest()[:8]
            folder = Path(args.out) / "runs" / f"{name.replace('=', '')}-s{seed}-{tag}"
            specs.append({"name": name, "seed": seed, "argv": argv, "eval": evaluation, "dir": str(folder),
                          "recipe": recipe, "threads": args.threads, "resumable": bool(args.save_steps),
                          "archive": str(Path(args.img) / "runs")})  # fmt: skip
    return specs


def archive(run: Path, dest: Path) -> None:
    """Copy a finished run's results to DEST/<run's folder name>: everything but the model (train/) and logs.

    DEST (default IMG/runs) is committed beside the plots, so a later session on another machine
    continues the suite from the runs that finished here (`restore`) instead of training them again.
    """
    tmp = dest / f".tmp-{run.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(run, tmp, ignore=lambda d, names: [n for n in names if n == "train" or n.endswith(".log")])
    shutil.rmtree(dest / run.name, ignore_errors=True)
    tmp.rename(dest / run.name)


def restore(run: Path, source: Path, marker: str = "done.json") -> bool:
    """Bring an archived run back into the cache when the cache lacks it; True when it is there afterwards."""
    if (run / marker).is_file():
        return True
    archived = source / run.name
    if not (archived / marker).is_file():
        return False
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(archived, run)
    return True


def launch(spec: dict) -> dict:
    run = Path(spec["dir"])
    if restore(run, Path(spec["archive"])):
        if not (Path(spec["archive"]) / run.name / "done.json").is_file():
            archive(run, Path(spec["archive"]))
        return json.loads((run / "done.json").read_text())
    same = (run / "spec.json").is_file() and json.loads((run / "spec.json").read_text()) == spec
    if not (spec.get("resumable") and same):  # a resumable run continues from its last checkpoint
        shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True, exist_ok=True)
    (run / "spec.json").write_text(json.dumps(spec, indent=1))
    threads = str(spec.get("threads", 1))
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--worker", str(run / "spec.json")], env=env, cwd=ROOT,
                          capture_output=True, text=True)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"run {spec['name']} seed {spec['seed']} failed:\n{proc.stderr[-3000:]}")
    print(f"  done {spec['name']:12s} seed {spec['seed']}  {time.perf_counter() - t0:5.0f} s", flush=True)
    archive(run, Path(spec["archive"]))
    return json.loads((run / "done.json").read_text())


def start_eval_folder(args: argparse.Namespace, start_hash: str, spec: dict) -> Path:
    tag = hashlib.sha256(json.dumps({**spec["eval"], "code": code_hash(), "start": start_hash}).encode()).hexdigest()
    return Path(args.out) / "runs" / f"start-{tag[:8]}"


def evaluate_start(args: argparse.Namespace, start: Path, start_hash: str, spec: dict) -> dict:
    """Held-out scores of the warm start itself (same test set and sampling as the runs)."""
    from gtpo.demo import evaluate_heldout

    e = spec["eval"]
    folder = start_eval_folder(args, start_hash, spec)
    if not restore(folder, Path(spec["archive"]), marker="summary.json"):
        with open(Path(args.out) / "start-eval.log", "w") as log, contextlib.redirect_stdout(log), \
                contextlib.redirect_stderr(log):  # fmt: skip
            evaluate_heldout([str(start)], folder, task_config=task_config(e),
                             problems=e["problems"], samples=e["samples"], max_new_tokens=e["max_new_tokens"],
                             seed=0, show_progress=False, task=e.get("task", "arith"))  # fmt: skip
        archive(folder, Path(spec["archive"]))
    return json.loads((folder / "summary.json").read_text())["results"][0] | {"eval_dir": str(folder)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        run_one(json.loads(Path(args.worker).read_text()))
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start, start_hash = snapshot_start(args, out)
    suites = list(SUITES) if args.suite == "all" else [args.suite]
    ks = sorted({1, args.eval_samples})
    for suite in suites:
        specs = run_specs(args, suite, start, start_hash)
        key = vouch_start(args, start, start_hash, specs[0])
        if key != start_hash:  # the runs are keyed by the archived start this one stands in for
            specs = run_specs(args, suite, start, key)
        if args.ref and args.ref not in {spec["name"] for spec in specs}:
            raise SystemExit(f"bench_learning: --ref {args.ref} is not among the configurations run here")
        print(f"{suite}: {len(specs)} runs ({args.workers} at a time) -> {out}", flush=True)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.workers) as pool:
            done = list(pool.map(launch, specs))
        for spec, d in zip(specs, done, strict=True):
            d["eval_dir"] = str(Path(spec["dir"]) / "eval")
        start_row, start_row_code = evaluate_start(args, start, key, specs[0]), code_hash()
        start_eval_dir = start_row.pop("eval_dir")
        results = aggregate(done, start_row, ks)
        ref = args.ref or ("gtpo" if suite in ("ablations", "variants") else "grpo")
        results["comparison"] = compare(results, ref)
        codes = sorted({d["code"] for d in done if isinstance(d.get("code"), str)} | {start_row_code})
        if len(codes) > 1:
            print(f"WARNING: the package changed during the runs (code hashes {codes}); rerun", flush=True)
        results["settings"] = {k: v for k, v in vars(args).items() if k != "worker"} | {"code_sha256": codes} | {
            "suite": suite, "start": str(start), "start_sha256": key, "start_file_sha256": start_hash, "recipe": os.path.relpath(args.recipe, ROOT),
            "start_eval_dir": start_eval_dir, "wall_s": time.perf_counter() - t0, "load_average": os.getloadavg(), "cpus": os.cpu_count(),
            "cpu": cpu_model()}  # fmt: skip
        folder = out / suite
        folder.mkdir(exist_ok=True)
        for e in results["configs"].values():
            e.pop("per_problem")
        (folder / "results.json").write_text(json.dumps(results, indent=1))
        md = table(results, ks, ref)
        (folder / "table.md").write_text(md + "\n")
        panels = {"learning": {"GTPO vs GRPO": tuple(SUITES["learning"])}, "ablations": PANELS,
                  "frame": {f"GTPO vs GRPO, {args.task}": tuple(SUITES["frame"])},
                  "components": {"GTPO components": tuple(SUITES["components"])},
                  "variants": {"paper vs reference code": ("gtpo", "gtpo-ref", "grpo"),
                               "reference code minus one difference": tuple(n for n in SUITES["variants"]
                                                                            if n.startswith(("gtpo-ref", "ref-")))},
                  "real": {"real model": tuple(SUITES["real"])},
                  "negatives": {"negative updates on conflict tokens": tuple(SUITES["negatives"])},
                  "real-negatives": {"negative updates, real model": tuple(SUITES["real-negatives"])}}[suite]  # fmt: skip
        img = Path(args.img) / f"bench_{suite}.png"
        curves = (*CURVES, *EXTRA_CURVES) if suite in ("variants", "real", "negatives", "real-negatives", "frame") else CURVES
        model = "" if Path(args.recipe).resolve() == RECIPE else f"{Path(args.recipe).stem}, "
        plot(results, panels, img, f"{model}{args.task}, {args.steps} steps x {args.prompts} prompts x G={args.group_size}, "
             f"lr {args.lr:g}", curves)  # fmt: skip
        print(md)
        print(f"wrote {folder / 'results.json'}, {folder / 'table.md'}, {img}", flush=True)
        if args.eval_samples > 1:
            from bench_passk import passk_tables  # this folder's script (sys.path[0])

            print(passk_tables(out, suite, ref, Path(args.img)))
            print(f"wrote {folder / 'passk.json'}, {folder / 'passk.md'}, {Path(args.img) / f'{suite}_passk.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
