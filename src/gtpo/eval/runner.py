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
  seed, source, split, limit, backend, name, dtype, maj_subsets, grade_timeout, answer_tolerance,
  prompt_field, answer_field, system_prompt, grader, extract).
- Returns the summary dict written to OUTPUT/summary.json: {"config": {...}, "grading":
  {"answer_tolerance", "rule"}, "results": [row, ...]}, one row per (model, task) with keys model, task, problems, n, samples, accuracy,
  format_rate, pass@K and maj@K for each K, mean_tokens, truncated_rate, dir.

Files. One (model, task) pair writes into OUTPUT itself; several write into OUTPUT/<model>/<task>/
and OUTPUT/summary.{json,md} hold the comparison table. Each run folder has samples.jsonl (one line
per sample: id, sample, completion, answer, format, correct, tokens, truncated, and with --grader
score and, where the grader failed, error; appended and flushed per batch), run.json (the settings that fix the samples), summary.json and summary.md.

Grading and scores: `gtpo.eval.scoring` (format, answer, correctness with the paper's rewards;
accuracy, format_rate, pass@k, maj@k). Settings: `gtpo.eval.config.EvalConfig`.

Resuming. The work is a fixed list of (problem, sample) items cut into batches of batch_size; batch
b is sampled with seed derive_seed(seed, b). A rerun with the same OUTPUT reads samples.jsonl
(dropping a torn last line), skips complete batches, and re-samples a partly written batch in full
but appends only its missing samples. With unchanged settings the result is the same as an
uninterrupted run. A larger n adds samples; a smaller n scores the first n. Changing a setting that
fixes the samples (model, task, source, split, limit, temperature, top_p, max_new_tokens, seed) is
an error: use a new OUTPUT.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from gtpo.eval.config import EvalConfig
from gtpo.eval.generate import HFSampler, VLLMSampler, derive_seed
from gtpo.eval.scoring import UserGrader, eval_table, grade_completions, score_samples, write_summary
from gtpo.run.io import json_line, read_jsonl, write_text_atomic

__all__ = ["EvalConfig", "evaluate", "run", "load_model", "read_samples", "score_samples", "eval_table"]

RUN_KEYS = (
    "model", "task", "source", "split", "limit", "temperature", "top_p", "max_new_tokens", "seed",
    "answer_tolerance", "task_options", "prompt_field", "answer_field", "system_prompt", "grader", "extract",
)  # fmt: skip


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "model"


# ---------------------------------------------------------------- loading


def check_model(model: str) -> Path:
    """`gtpo.run.model_source.check_model_source` for `--model` (FileNotFoundError, as `gtpo eval` reports it)."""
    from gtpo.run.model_source import ModelSourceError, check_model_source

    try:
        return Path(check_model_source(model, "--model"))
    except ModelSourceError as err:
        raise FileNotFoundError(str(err)) from None


def load_model(model: str, *, dtype: str = "auto") -> tuple[Any, Any]:
    """(model, tokenizer) from a local folder or a hub id, on the GPU when there is one."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = check_model(model)
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
    """The task's problems; a 'file.py:name' task is loaded first (`gtpo.run.plugins.task_name`)."""
    from gtpo.run.plugins import task_name
    from gtpo.tasks import load_task

    name = task_name(task, "--task")
    return load_task(name, split=config.split, source=config.source, limit=config.limit, options=config.options_for(name))


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


def _check_sample(record: dict) -> None:
    if not {"id", "sample", "correct"} <= set(record):
        raise ValueError("not a sample record")


def read_samples(path: Path) -> list[dict]:
    """Records of samples.jsonl. A torn last line (an interrupted write) is cut off the file, and a
    complete last line without its newline gets one, so appending stays line-aligned."""
    return read_jsonl(path, torn="truncate", check=_check_sample, hint="delete the file to start over")


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
    write_text_atomic(path, json.dumps(settings, indent=2) + "\n")


# ---------------------------------------------------------------- one (model, task) run


def _sample_run(
    config: EvalConfig,
    sampler: Any,
    prompts: list[list[int]],
    dataset: Any,
    run_dir: Path,
    desc: str,
    progress: bool,
    grader: UserGrader | None = None,
    with_format: bool = True,
) -> None:
    ids = [str(i) for i in dataset["id"]]
    answers = list(dataset["answer"])  # a user grader gets them as the task holds them
    refs = [str(a) for a in answers]
    samples_path = run_dir / "samples.jsonl"
    done = {(r["id"], r["sample"]) for r in read_samples(samples_path)}
    items = [(p, s) for p in range(len(ids)) for s in range(config.n)]
    batches = [items[i : i + config.batch_size] for i in range(0, len(items), config.batch_size)]
    initial = sum((ids[p], s) in done for p, s in items)
    bar = tqdm(
        total=len(items), initial=initial, desc=desc, unit="sample", disable=not progress, dynamic_ncols=True
    )
    with bar, open(samples_path, "a", encoding="utf-8") as out:
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
            graded = _grade(config, grader, with_format, completions, [answers[p] for p, _ in batch],
                            [refs[p] for p, _ in batch])  # fmt: skip
            lines = []
            for (p, s), completion, fields in zip(batch, completions, graded, strict=True):
                if (ids[p], s) in done:
                    continue
                record = {"id": ids[p], "sample": s, "completion": completion.text, **fields,
                          "tokens": completion.num_tokens, "truncated": completion.truncated}  # fmt: skip
                lines.append(json_line(record))
                done.add((ids[p], s))
            out.write("".join(lines))  # one write per batch, then flushed to disk
            out.flush()
            os.fsync(out.fileno())
            bar.update(len(lines))


def _grade(config: EvalConfig, grader: UserGrader | None, with_format: bool, completions: list, answers: list,
           refs: list[str]) -> list[dict[str, Any]]:  # fmt: skip
    """The grading fields of each sample record: answer, format, correct (+ score and error with a grader)."""
    if grader is None:
        graded = grade_completions(completions, refs, config.grade_timeout, config.answer_tolerance)
        return [{"answer": a, "format": f, "correct": c} for a, f, c in graded]
    from gtpo.rewards import format_reward

    out = []
    for completion, (answer, score, error) in zip(completions, grader.grade([c.text for c in completions], answers),
                                                  strict=True):  # fmt: skip
        fields = {"answer": answer, "format": format_reward(completion.text) if with_format else None,
                  "correct": score >= 1.0, "score": score}  # fmt: skip
        if error is not None:
            fields["error"] = error
        out.append(fields)
    return out


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
    for spec in models:
        if isinstance(spec, str):
            check_model(spec)
    # the grader first: its file may register the task it grades
    grader = UserGrader(config.grader, config.extract, config.grade_timeout) if config.grader else None
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
        net: Any = None
        if backend == "vllm":
            if not isinstance(spec, str):
                raise ValueError("--backend vllm needs a checkpoint path or hub id, not a loaded model")
            from transformers import AutoTokenizer

            tok = tokenizer or AutoTokenizer.from_pretrained(spec)
            sampler: Any = VLLMSampler(spec, dtype=config.dtype, seed=config.seed)
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
            custom = task == "custom" or task.rpartition(":")[2] == "custom"
            _sample_run(config, sampler, prompts, data, run_dir, f"{label}/{task}", show_progress, grader,
                        with_format=not (grader is not None and custom))  # fmt: skip
            row: dict[str, Any] = {"model": label, "task": task}
            row.update(score_samples(read_samples(run_dir / "samples.jsonl"), data["id"], config))
            row["dir"] = os.path.relpath(run_dir, output)
            if not single:
                write_summary(run_dir, config, [row])
            rows.append(row)
        sampler = net = None
        if isinstance(spec, str):  # free the weights we loaded before loading the next model
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    return write_summary(output, config, rows)


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
