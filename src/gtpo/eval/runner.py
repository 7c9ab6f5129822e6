"""The evaluation runner: sample n completions per problem, grade them, write and score them.

Python entry point::

    evaluate(model, task, output_dir, *, tokenizer=None, dataset=None, show_progress=True,
             **options) -> dict

- `model`: a local checkpoint folder or hub id, a loaded `PreTrainedModel`, or a list of these
  (one comparison table). A loaded model needs `tokenizer=`; a string loads its own tokenizer
  unless `tokenizer=` is given.
- `task`: a task name for `gtpo.tasks.load_task(name, split, source=..., limit=...)`, or a list of
  names. With `dataset=` (a `datasets.Dataset` with columns prompt, answer, id) `task` is only
  the label of that one dataset and nothing is loaded.
- `options`: any other `EvalConfig` field (n, k, temperature, top_p, max_new_tokens, batch_size,
  seed, source, split, limit, backend, name, dtype, maj_subsets, grade_timeout).
- Returns the summary dict written to OUTPUT/summary.json: {"config": {...}, "results": [row,
  ...]}, one row per (model, task) with keys model, task, problems, n, samples, accuracy,
  format_rate, pass@K and maj@K for each K, mean_tokens, truncated_rate, dir.

Files. One (model, task) pair writes into OUTPUT itself; several write into OUTPUT/<model>/<task>/
and OUTPUT/summary.{json,md} hold the comparison table. Each run folder has samples.jsonl (one line
per sample: id, sample, completion, answer, format, correct, tokens, truncated; appended and
flushed per batch), run.json (the settings that fix the samples), summary.json and summary.md.

Grading (spec "Rewards"): format = `gtpo.rewards.format_reward`; a sample is correct when its
format is 10 and its extracted answer matches the reference (`gtpo.rewards` batch grader, one
deadline per item), i.e. `correctness_reward == 10`. accuracy = mean correctness over all samples;
format_rate = fraction of samples with format 10; pass@k and maj@k from `gtpo.eval.metrics`,
averaged over problems. maj@k votes with the answers of fully formatted samples only (the others
abstain), so maj@1 equals accuracy in expectation.

Resuming. The work is a fixed list of (problem, sample) items cut into batches of batch_size; batch
b is sampled with seed derive_seed(seed, b). A rerun with the same OUTPUT reads samples.jsonl
(dropping a torn last line), skips complete batches, and re-samples a partly written batch in full
but appends only its missing samples. With unchanged settings the result is the same as an
uninterrupted run. A larger n adds samples; a smaller n scores the first n. Changing a setting that
fixes the samples (model, task, source, split, limit, temperature, top_p, max_new_tokens, seed) is
an error: use a new OUTPUT.
"""

from __future__ import annotations

import dataclasses
import gc
import importlib.util
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from tqdm.auto import tqdm

from gtpo.eval.generate import Completion, HFSampler, VLLMSampler, derive_seed
from gtpo.eval.metrics import majority_vote_accuracy, pass_at_k, vote_clusters

__all__ = ["EvalConfig", "evaluate", "run", "load_model", "score_samples"]

RUN_KEYS = ("model", "task", "source", "split", "limit", "temperature", "top_p", "max_new_tokens", "seed")


@dataclass
class EvalConfig:
    """Settings of `gtpo eval` (the CLI is generated from this class; each field's help is its doc)."""

    model: list[str] = field(
        metadata={
            "help": "checkpoint folder(s) or hub id(s); repeat or list several for one comparison table",
            "action": "extend",
        }
    )
    task: list[str] = field(
        metadata={
            "help": "task name(s): gsm8k, math, math500, aime24, aime25, amc23, arith",
            "action": "extend",
        }
    )
    output: str = field(metadata={"help": "output folder; rerunning with the same folder resumes"})
    source: str | None = field(
        default=None,
        metadata={"help": "local data: a JSONL file (one task) or a folder with <task>/<split>.jsonl"},
    )
    split: str = field(default="test", metadata={"help": "dataset split"})
    limit: int | None = field(
        default=None, metadata={"help": "evaluate LIMIT problems (a seeded sample, see gtpo.tasks.load_task)"}
    )
    n: int = field(default=1, metadata={"help": "completions sampled per problem"})
    k: str = field(default="1", metadata={"help": "comma-separated k values for pass@k and maj@k, each <= n"})
    temperature: float = field(default=0.6, metadata={"help": "sampling temperature; 0 = greedy"})
    top_p: float = field(default=0.95, metadata={"help": "nucleus sampling mass in (0, 1]"})
    max_new_tokens: int = field(default=1024, metadata={"help": "generation budget per completion"})
    batch_size: int = field(default=16, metadata={"help": "completions generated per call (vLLM: use ~1024)"})
    seed: int = field(
        default=0, metadata={"help": "base seed; batch b is sampled with a seed derived from it"}
    )
    backend: Literal["auto", "hf", "vllm"] = field(
        default="auto", metadata={"help": "auto = vllm when installed and a CUDA GPU is present, else hf"}
    )
    name: list[str] | None = field(
        default=None, metadata={"help": "display name per --model (default: the folder name or hub id)"}
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = field(
        default="auto",
        metadata={"help": "weights dtype; auto = bfloat16 on a GPU that supports it, else float32"},
    )
    maj_subsets: int = field(
        default=1000,
        metadata={"help": "random k-subsets per problem for maj@k (exact when C(n,k) is smaller)"},
    )
    grade_timeout: float = field(default=5.0, metadata={"help": "seconds allowed per answer check"})

    def __post_init__(self) -> None:
        for key in ("model", "task", "name"):
            value = getattr(self, key)
            if isinstance(value, str):
                setattr(self, key, [value])
        if not self.model or not self.task:
            raise ValueError("give at least one --model and one --task")
        if self.name is not None and len(self.name) != len(self.model):
            raise ValueError(
                f"--name: got {len(self.name)} names for {len(self.model)} models; give one per model"
            )
        if self.source is not None and len(self.task) != 1 and not Path(self.source).is_dir():
            raise ValueError(
                "--source: several tasks need a folder holding <task>/<split>.jsonl, not one file"
            )
        for key, low in (("n", 1), ("max_new_tokens", 1), ("batch_size", 1), ("maj_subsets", 1)):
            if getattr(self, key) < low:
                raise ValueError(f"--{key} must be >= {low}, got {getattr(self, key)}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"--limit must be >= 1, got {self.limit}")
        if self.temperature < 0:
            raise ValueError(f"--temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"--top_p must be in (0, 1], got {self.top_p}")
        if self.grade_timeout <= 0:
            raise ValueError(f"--grade_timeout must be > 0, got {self.grade_timeout}")
        if isinstance(self.k, int):
            self.k = str(self.k)
        elif not isinstance(self.k, str):
            self.k = ",".join(str(v) for v in self.k)
        bad = [v for v in self.ks if not 1 <= v <= self.n]
        if bad:
            raise ValueError(
                f"--k {self.k}: every k must be in 1..n = {self.n} (bad: {bad}); raise --n or drop them"
            )

    @property
    def ks(self) -> list[int]:
        """The k values, sorted and unique."""
        try:
            return sorted({int(v) for v in str(self.k).replace(" ", "").split(",") if v})
        except ValueError as err:
            raise ValueError(f"--k must be comma-separated integers like 1,8,64; got {self.k!r}") from err

    @property
    def names(self) -> list[str]:
        return list(self.name) if self.name else [_default_name(m) for m in self.model]


def _default_name(model: str) -> str:
    path = Path(model)
    return path.name if path.exists() else model


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "model"


# ---------------------------------------------------------------- loading


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


def _looks_like_path(model: str) -> bool:
    """True unless `model` has the shape of a hub id ("name" or "org/name")."""
    return _HUB_ID.fullmatch(model) is None


def load_model(model: str, *, dtype: str = "auto") -> tuple[Any, Any]:
    """(model, tokenizer) from a local folder or a hub id, on the GPU when there is one."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").exists() and not (path / "adapter_config.json").exists():
            raise FileNotFoundError(
                f"--model {model}: folder has no config.json; give a saved checkpoint folder"
            )
    elif _looks_like_path(model):
        raise FileNotFoundError(
            f"--model {model}: no such folder; give a checkpoint folder or a hub id like Qwen/Qwen2.5-Math-1.5B"
        )
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch_dtype = _resolve_dtype(dtype, device)
    source = str(path) if path.exists() else model
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        net = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype)
    except OSError as err:
        raise OSError(
            f"--model {model}: could not load it ({err}); check the hub id or HF_HUB_OFFLINE"
        ) from err
    return net.to(device), tokenizer


def _resolve_dtype(dtype: str, device: str) -> torch.dtype:
    if dtype != "auto":
        return getattr(torch, dtype)
    if device == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def _load_dataset(config: EvalConfig, task: str) -> Any:
    from gtpo.tasks import load_task

    return load_task(task, split=config.split, source=config.source, limit=config.limit)


def _check_dataset(dataset: Any, task: str) -> None:
    missing = {"prompt", "answer", "id"} - set(dataset.column_names)
    if missing:
        raise ValueError(f"task {task}: dataset lacks column(s) {sorted(missing)}; needs prompt, answer, id")
    ids = [str(i) for i in dataset["id"]]
    if len(set(ids)) != len(ids):
        raise ValueError(f"task {task}: problem ids are not unique")
    if not ids:
        raise ValueError(f"task {task}: the dataset is empty")


def _render_prompts(tokenizer: Any, dataset: Any) -> list[list[int]]:
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(
            "the tokenizer has no chat template; evaluate an instruct/chat checkpoint or set one"
        )
    out = []
    for messages in dataset["prompt"]:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        out.append(tokenizer(text, add_special_tokens=False)["input_ids"])
    return out


# ---------------------------------------------------------------- samples file


def read_samples(path: Path) -> list[dict]:
    """Records of samples.jsonl. A torn last line (an interrupted write) is cut off the file, and a
    complete last line without its newline gets one, so appending stays line-aligned."""
    if not path.exists():
        return []
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    records, good_end = [], 0
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                record = json.loads(line)
                if not isinstance(record, dict) or not {"id", "sample", "correct"} <= set(record):
                    raise ValueError("not a sample record")
            except ValueError as err:
                if number == len(lines):  # unterminated last line: an interrupted write
                    break
                raise ValueError(
                    f"{path}:{number}: corrupt line ({err}); delete the file to start over"
                ) from err
            records.append(record)
        good_end += len(line) + (number < len(lines))
    if good_end < len(raw):
        with open(path, "r+b") as fh:
            fh.truncate(good_end)
    elif raw and not raw.endswith(b"\n"):  # last record complete but unterminated
        with open(path, "ab") as fh:
            fh.write(b"\n")
    return records


def _json_line(record: dict) -> str:
    """One JSON line; the Unicode line breaks that str.splitlines() splits on are escaped too."""
    text = json.dumps(record, ensure_ascii=False)
    for char in ("\u2028", "\u2029", "\x85"):
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text + "\n"


def _check_run_file(run_dir: Path, settings: dict) -> None:
    path = run_dir / "run.json"
    if path.exists():
        old = json.loads(path.read_text())
        changed = [key for key in RUN_KEYS if old.get(key) != settings.get(key)]
        if changed and (run_dir / "samples.jsonl").exists():
            diffs = ", ".join(f"{key}: {old.get(key)!r} -> {settings.get(key)!r}" for key in changed)
            raise ValueError(
                f"{run_dir} holds samples made with other settings ({diffs}); use a new --output"
            )
    path.write_text(json.dumps(settings, indent=2) + "\n")


# ---------------------------------------------------------------- one (model, task) run


def _grade(
    completions: list[Completion], refs: list[str], timeout: float
) -> list[tuple[str | None, float, bool]]:
    from gtpo.rewards import default_grader, extract_answer, format_reward

    answers = [extract_answer(c.text) for c in completions]
    formats = [float(format_reward(c.text)) for c in completions]
    todo = [i for i, (a, f) in enumerate(zip(answers, formats, strict=True)) if a is not None and f == 10.0]
    ok = default_grader().matches([answers[i] for i in todo], [refs[i] for i in todo], timeout=timeout)
    correct = [False] * len(completions)
    for i, good in zip(todo, ok, strict=True):
        correct[i] = bool(good)
    return list(zip(answers, formats, correct, strict=True))


def _sample_run(
    config: EvalConfig,
    sampler: Any,
    prompts: list[list[int]],
    dataset: Any,
    run_dir: Path,
    desc: str,
    progress: bool,
) -> None:
    ids = [str(i) for i in dataset["id"]]
    refs = [str(a) for a in dataset["answer"]]
    samples_path = run_dir / "samples.jsonl"
    done = {(r["id"], r["sample"]) for r in read_samples(samples_path)}
    items = [(p, s) for p in range(len(ids)) for s in range(config.n)]
    batches = [items[i : i + config.batch_size] for i in range(0, len(items), config.batch_size)]
    initial = sum((ids[p], s) in done for p, s in items)
    bar = tqdm(
        total=len(items), initial=initial, desc=desc, unit="sample", disable=not progress, dynamic_ncols=True
    )
    with open(samples_path, "a", encoding="utf-8") as out:
        for index, batch in enumerate(batches):
            if all((ids[p], s) in done for p, s in batch):
                continue
            completions = sampler.generate(
                [prompts[p] for p, _ in batch],
                temperature=config.temperature,
                top_p=config.top_p,
                max_new_tokens=config.max_new_tokens,
                seed=derive_seed(config.seed, index),
            )
            graded = _grade(completions, [refs[p] for p, _ in batch], config.grade_timeout)
            new = 0
            for (p, s), completion, (answer, fmt, correct) in zip(batch, completions, graded, strict=True):
                if (ids[p], s) in done:
                    continue
                record = {
                    "id": ids[p],
                    "sample": s,
                    "completion": completion.text,
                    "answer": answer,
                    "format": fmt,
                    "correct": correct,
                    "tokens": completion.num_tokens,
                    "truncated": completion.truncated,
                }
                out.write(_json_line(record))
                done.add((ids[p], s))
                new += 1
            out.flush()
            os.fsync(out.fileno())
            bar.update(new)
    bar.close()


def score_samples(records: list[dict], ids: Sequence[str], config: EvalConfig) -> dict[str, Any]:
    """Summary numbers of one run from its sample records (samples >= n are ignored)."""
    from gtpo.rewards import default_grader

    grader = default_grader()

    def batch_matches(preds: Sequence[str], refs: Sequence[str]) -> list[bool]:
        return grader.matches(preds, refs, timeout=config.grade_timeout)

    by_id: dict[str, dict[int, dict]] = {str(i): {} for i in ids}
    for r in records:
        if r["id"] in by_id and r["sample"] < config.n:
            by_id[r["id"]][r["sample"]] = r
    incomplete = [i for i, got in by_id.items() if len(got) != config.n]
    if incomplete:
        raise ValueError(f"{len(incomplete)} problem(s) lack samples (e.g. {incomplete[0]}); rerun to finish")
    flat = [r for got in by_id.values() for r in got.values()]
    row: dict[str, Any] = {
        "problems": len(by_id),
        "n": config.n,
        "samples": len(flat),
        "accuracy": sum(r["correct"] for r in flat) / len(flat),
        "format_rate": sum(r["format"] == 10.0 for r in flat) / len(flat),
    }
    pass_sums = dict.fromkeys(config.ks, 0.0)
    maj_sums = dict.fromkeys(config.ks, 0.0)
    for problem, got in enumerate(by_id.values()):
        ordered = [got[s] for s in range(config.n)]
        c = sum(r["correct"] for r in ordered)
        votes = [r["answer"] if r["format"] == 10.0 else None for r in ordered]  # others abstain
        labels, cluster_correct = vote_clusters(
            votes, [bool(r["correct"]) for r in ordered], batch_matches=batch_matches
        )
        for k in config.ks:
            pass_sums[k] += pass_at_k(config.n, c, k)
            seed = derive_seed(config.seed, problem, k)
            maj_sums[k] += majority_vote_accuracy(
                labels, cluster_correct, k, num_subsets=config.maj_subsets, seed=seed
            )
    for k in config.ks:
        row[f"pass@{k}"] = pass_sums[k] / len(by_id)
    for k in config.ks:
        row[f"maj@{k}"] = maj_sums[k] / len(by_id)
    row["mean_tokens"] = sum(r["tokens"] for r in flat) / len(flat)
    row["truncated_rate"] = sum(r["truncated"] for r in flat) / len(flat)
    return row


# ---------------------------------------------------------------- tables


def summary_table(rows: list[dict], ks: Sequence[int]) -> str:
    """Markdown table: one row per (model, task); metrics in percent."""
    with_model = len({r["model"] for r in rows}) > 1
    metrics = ["accuracy", "format_rate"] + [f"pass@{k}" for k in ks] + [f"maj@{k}" for k in ks]
    titles = ["accuracy", "formatting"] + metrics[2:]
    head = (["model"] if with_model else []) + ["task", "problems", "n"] + titles
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] * (len(head) - len(titles)) + ["---:"] * len(titles)) + "|",
    ]
    for r in rows:
        cells = ([r["model"]] if with_model else []) + [r["task"], str(r["problems"]), str(r["n"])]
        cells += [f"{100 * r[m]:.1f}" for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return (
        "\n".join(lines) + "\n\nAll metrics in percent; formatting = share of samples with the full format.\n"
    )


def _write_summary(directory: Path, config: EvalConfig, rows: list[dict]) -> dict:
    summary = {"config": dataclasses.asdict(config), "results": rows}
    tmp = directory / "summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    tmp.replace(directory / "summary.json")
    (directory / "summary.md").write_text("# Evaluation\n\n" + summary_table(rows, config.ks))
    return summary


# ---------------------------------------------------------------- entry points


def _pick_backend(config: EvalConfig, model: Any) -> str:
    if config.backend != "auto":
        return config.backend
    has_vllm = importlib.util.find_spec("vllm") is not None
    return "vllm" if has_vllm and torch.cuda.is_available() and isinstance(model, str) else "hf"


def run(
    config: EvalConfig,
    *,
    models: Sequence[Any] | None = None,
    tokenizer: Any = None,
    dataset: Any = None,
    show_progress: bool = True,
) -> dict:
    """Evaluate every (model, task) pair of `config`; `models` may replace the names in
    config.model by loaded models (same order), `dataset` the single task's data. Returns the
    summary dict (module docstring)."""
    output = Path(config.output)
    output.mkdir(parents=True, exist_ok=True)
    models = list(models) if models is not None else list(config.model)
    if dataset is not None and len(config.task) != 1:
        raise ValueError("dataset= replaces one task's data; give exactly one task name")
    datasets_ = {t: dataset if dataset is not None else _load_dataset(config, t) for t in config.task}
    for t, data in datasets_.items():
        _check_dataset(data, t)
    single = len(models) * len(config.task) == 1
    folders = [_slug(label) for label in config.names]
    if len(set(folders)) != len(folders) or len(set(map(_slug, config.task))) != len(config.task):
        raise ValueError(
            f"model names {config.names} or tasks {config.task} repeat (as folder names); "
            "give distinct --name values, one per --model"
        )
    rows = []
    for spec, label, name in zip(models, config.names, config.model, strict=True):
        backend = _pick_backend(config, spec)
        if backend == "vllm":
            if not isinstance(spec, str):
                raise ValueError("--backend vllm needs a checkpoint path or hub id, not a loaded model")
            from transformers import AutoTokenizer

            tok = tokenizer or AutoTokenizer.from_pretrained(spec)
            dtype = "auto" if config.dtype == "auto" else config.dtype
            sampler: Any = VLLMSampler(spec, dtype=dtype, seed=config.seed)
        else:
            if isinstance(spec, str):
                net, tok = load_model(spec, dtype=config.dtype)
                tok = tokenizer or tok
            else:
                if tokenizer is None:
                    raise ValueError("evaluate(model=<loaded model>) needs tokenizer=")
                net, tok = spec, tokenizer
            sampler = HFSampler(net, tok)
        for task in config.task:
            data = datasets_[task]
            run_dir = output if single else output / _slug(label) / _slug(task)
            run_dir.mkdir(parents=True, exist_ok=True)
            settings = {key: getattr(config, key) for key in RUN_KEYS}
            settings.update(model=name, task=task, n=config.n, batch_size=config.batch_size, backend=backend)
            _check_run_file(run_dir, settings)
            prompts = _render_prompts(tok, data)
            _sample_run(config, sampler, prompts, data, run_dir, f"{label}/{task}", show_progress)
            row: dict[str, Any] = {"model": label, "task": task}
            row.update(score_samples(read_samples(run_dir / "samples.jsonl"), data["id"], config))
            row["dir"] = os.path.relpath(run_dir, output)
            if not single:
                _write_summary(run_dir, config, [row])
            rows.append(row)
        del sampler
        if isinstance(spec, str):  # free the weights we loaded before loading the next model
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    return _write_summary(output, config, rows)


def evaluate(
    model: Any,
    task: str | Sequence[str],
    output_dir: str | os.PathLike,
    *,
    tokenizer: Any = None,
    dataset: Any = None,
    show_progress: bool = True,
    **options: Any,
) -> dict:
    """Evaluate model(s) on task(s) and write OUTPUT_DIR; see the module docstring."""
    specs = list(model) if isinstance(model, (list, tuple)) else [model]
    names = [s if isinstance(s, str) else str(getattr(s, "name_or_path", "") or "model") for s in specs]
    config = EvalConfig(
        model=names, task=[task] if isinstance(task, str) else list(task), output=str(output_dir), **options
    )
    return run(config, models=specs, tokenizer=tokenizer, dataset=dataset, show_progress=show_progress)
