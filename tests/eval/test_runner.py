"""End-to-end evaluation on a tiny local model and a five-problem GSM8K-shaped fixture; resuming;
scripted completions with hand-computed summary numbers; the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gtpo.eval import evaluate
from gtpo.eval import runner as runner_mod
from gtpo.eval.generate import Completion
from gtpo.eval.metrics import pass_at_k

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "gsm8k_five.jsonl"
OPTS = dict(source=str(FIXTURE), n=4, k="1,2,4", max_new_tokens=12, batch_size=3, temperature=1.0, top_p=1.0)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_tiny_model_end_to_end(tiny_model_dir, tmp_path):
    summary = evaluate(str(tiny_model_dir), "gsm8k", tmp_path, show_progress=False, **OPTS)
    for name in ("samples.jsonl", "summary.json", "summary.md", "run.json"):
        assert (tmp_path / name).is_file(), name
    samples = read_jsonl(tmp_path / "samples.jsonl")
    assert len(samples) == 5 * 4
    assert {(r["id"], r["sample"]) for r in samples} == {(f"test-{p}", s) for p in range(5) for s in range(4)}
    for r in samples:
        assert set(r) == {"id", "sample", "completion", "answer", "format", "correct", "tokens", "truncated"}
        assert 1 <= r["tokens"] <= 12 and (r["tokens"] == 12 or not r["truncated"])
        assert r["format"] in (0.0, 1.0, 1.5, 2.0, 10.0)
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    (row,) = summary["results"]
    assert (row["task"], row["problems"], row["n"], row["samples"]) == ("gsm8k", 5, 4, 20)
    # the summary agrees with samples.jsonl
    assert row["accuracy"] == pytest.approx(sum(r["correct"] for r in samples) / 20)
    assert row["format_rate"] == pytest.approx(sum(r["format"] == 10.0 for r in samples) / 20)
    assert row["mean_tokens"] == pytest.approx(sum(r["tokens"] for r in samples) / 20)
    for k in (1, 2, 4):
        per_problem = [sum(r["correct"] for r in samples if r["id"] == f"test-{p}") for p in range(5)]
        assert row[f"pass@{k}"] == pytest.approx(sum(pass_at_k(4, c, k) for c in per_problem) / 5)
        assert 0.0 <= row[f"maj@{k}"] <= row["pass@4"] + 1e-12
    table = (tmp_path / "summary.md").read_text()
    assert "| gsm8k | 5 | 4 |" in table and "pass@4" in table and "maj@2" in table


class Interrupt(Exception):
    pass


def test_resume_after_interruption_gives_same_samples_and_summary(tiny_model_dir, tmp_path, monkeypatch):
    full = evaluate(str(tiny_model_dir), "gsm8k", tmp_path / "full", show_progress=False, **OPTS)
    reference = read_jsonl(tmp_path / "full" / "samples.jsonl")

    real_generate = runner_mod.HFSampler.generate
    calls = []

    def failing_generate(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise Interrupt
        return real_generate(self, *args, **kwargs)

    monkeypatch.setattr(runner_mod.HFSampler, "generate", failing_generate)
    with pytest.raises(Interrupt):
        evaluate(str(tiny_model_dir), "gsm8k", tmp_path / "cut", show_progress=False, **OPTS)
    path = tmp_path / "cut" / "samples.jsonl"
    assert len(read_jsonl(path)) == 6  # two batches of 3 written
    with open(path, "a") as fh:  # and a torn line, as if killed while writing
        fh.write('{"id": "test-1", "sam')
    monkeypatch.setattr(runner_mod.HFSampler, "generate", real_generate)
    calls.clear()
    resumed = evaluate(str(tiny_model_dir), "gsm8k", tmp_path / "cut", show_progress=False, **OPTS)
    samples = read_jsonl(path)
    keys = [(r["id"], r["sample"]) for r in samples]
    assert len(keys) == len(set(keys)) == 20  # no duplicates, nothing missing
    by_key = {(r["id"], r["sample"]): r for r in reference}
    assert all(by_key[(r["id"], r["sample"])] == r for r in samples)  # the same completions
    assert resumed["results"] == full["results"]
    # a third run generates nothing
    monkeypatch.setattr(runner_mod.HFSampler, "generate", failing_generate)
    calls.clear()
    again = evaluate(str(tiny_model_dir), "gsm8k", tmp_path / "cut", show_progress=False, **OPTS)
    assert calls == [] and again["results"] == full["results"]


def test_resume_refuses_other_sampling_settings(tiny_model_dir, tmp_path):
    opts = dict(OPTS, n=1, k="1")
    evaluate(str(tiny_model_dir), "gsm8k", tmp_path, show_progress=False, **opts)
    with pytest.raises(ValueError, match=r"temperature: 1.0 -> 0.5.*new --output"):
        evaluate(str(tiny_model_dir), "gsm8k", tmp_path, show_progress=False, **dict(opts, temperature=0.5))


# ---------------------------------------------------------------- scripted completions


def canonical(answer: str) -> str:
    return f"<reasoning>\nthink\n</reasoning>\n<answer>\n{answer}\n</answer>"


# Fixture answers: 7, 60, 32, 300, 59.
SCRIPT = [
    [canonical("7")] * 4,  # c=4
    [canonical("60"), canonical("6"), canonical("60.0"), "<answer>\n60\n</answer>"],  # c=2 (last: format 1)
    [canonical("31"), canonical("31"), canonical("32"), canonical("32")],  # c=2, maj@4 tie -> 0.5
    [canonical("300"), canonical("\\frac{600}{2}"), canonical("299"), canonical("299")],  # c=2, tie
    ["no tags", "no tags", canonical("59"), canonical("58")],  # c=1, tie 59/58
]


class ScriptedSampler:
    """Returns SCRIPT[problem][sample]; the runner's prompts are patched to [problem index]."""

    def __init__(self, *args, **kwargs):
        self.seen: dict[int, int] = {}

    def generate(self, prompts, **kwargs):
        out = []
        for (p,) in prompts:
            s = self.seen.get(p, 0)
            self.seen[p] = s + 1
            out.append(Completion(text=SCRIPT[p][s], num_tokens=10, truncated=False))
        return out


def test_scripted_completions_give_hand_computed_summary(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(runner_mod, "HFSampler", ScriptedSampler)
    monkeypatch.setattr(runner_mod, "_render_prompts", lambda tok, data: [[p] for p in range(len(data))])
    opts = dict(OPTS, batch_size=4)
    (row,) = evaluate(str(tiny_model_dir), "gsm8k", tmp_path, show_progress=False, **opts)["results"]
    samples = read_jsonl(tmp_path / "samples.jsonl")
    assert [r["correct"] for r in samples if r["id"] == "test-1"] == [True, False, True, False]
    assert samples[7]["answer"] == "60" and samples[7]["format"] == 1.0
    assert row["accuracy"] == pytest.approx(11 / 20)  # c = 4 + 2 + 2 + 2 + 1
    assert row["format_rate"] == pytest.approx(17 / 20)  # 3 unformatted samples
    assert row["pass@1"] == pytest.approx(11 / 20)
    # pass@2 per problem 1 - C(4-c,2)/C(4,2): 1, 5/6, 5/6, 5/6, 1/2 -> mean 0.8
    assert row["pass@2"] == pytest.approx((1 + 3 * (1 - math.comb(2, 2) / 6) + 0.5) / 5)
    assert row["pass@4"] == 1.0
    # maj@4: 7 wins; {60, 60.0} beats 6 (the unformatted 60 abstains); then three 2-2 ties -> 0.5 each
    assert row["maj@4"] == pytest.approx((1 + 1 + 0.5 + 0.5 + 0.5) / 5)
    assert row["maj@1"] == pytest.approx(row["accuracy"])


# ---------------------------------------------------------------- Python API variants, errors, CLI


def test_answer_tolerance_decides_close_numbers():
    from gtpo.eval.scoring import grade_completions

    text = "<reasoning>\nsmall\n</reasoning>\n<answer>\n0\n</answer>"
    completions = [Completion(text=text, num_tokens=5, truncated=False)] * 2
    refs = [".0000672", "0"]  # a MATH-500 reference, and the same number
    assert [c for _, _, c in grade_completions(completions, refs, 5.0)] == [False, True]
    assert [c for _, _, c in grade_completions(completions, refs, 5.0, "paper")] == [True, True]


def test_loaded_model_dataset_and_comparison_table(tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from gtpo.tasks import load_task

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    data = load_task("gsm8k", split="test", source=str(FIXTURE), limit=2)
    summary = evaluate(
        [model, str(tiny_model_dir)],
        "fixture",
        tmp_path,
        tokenizer=tokenizer,
        dataset=data,
        name=["loaded", "from-disk"],
        n=2,
        k="1,2",
        max_new_tokens=6,
        batch_size=4,
        show_progress=False,
    )
    assert [(r["model"], r["task"], r["problems"]) for r in summary["results"]] == [
        ("loaded", "fixture", 2),
        ("from-disk", "fixture", 2),
    ]
    for r in summary["results"]:
        assert len(read_jsonl(tmp_path / r["dir"] / "samples.jsonl")) == 4
        assert (tmp_path / r["dir"] / "summary.json").is_file()
    table = (tmp_path / "summary.md").read_text()
    assert (
        "| model | task |" in table and "| loaded | fixture |" in table and "| from-disk | fixture |" in table
    )


@pytest.mark.parametrize(
    "options,message",
    [
        (dict(n=2, k="1,4"), r"every k must be in 1..n = 2 \(bad: \[4\]\)"),
        (dict(k="1,x"), "comma-separated integers"),
        (dict(top_p=0.0), "--top_p must be in"),
        (dict(temperature=-1.0), "--temperature must be >= 0"),
        (dict(batch_size=0), "--batch_size must be >= 1"),
    ],
)
def test_bad_options_name_the_field(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        evaluate("some/model", "gsm8k", tmp_path, **options)


def test_backend_choice(tiny_model_dir, tmp_path, monkeypatch):
    config = runner_mod.EvalConfig(model=["m"], task=["gsm8k"], output=str(tmp_path))
    monkeypatch.setattr(runner_mod.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(runner_mod.torch.cuda, "is_available", lambda: True)
    assert runner_mod._pick_backend(config, "some/model") == "vllm"  # vllm importable + a GPU
    assert runner_mod._pick_backend(config, object()) == "hf"  # a loaded model stays with HF
    monkeypatch.setattr(runner_mod.torch.cuda, "is_available", lambda: False)
    assert runner_mod._pick_backend(config, "some/model") == "hf"
    config.backend = "hf"
    monkeypatch.setattr(runner_mod.torch.cuda, "is_available", lambda: True)
    assert runner_mod._pick_backend(config, "some/model") == "hf"


def test_vllm_backend_refuses_a_loaded_model(tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    with pytest.raises(ValueError, match="--backend vllm needs a checkpoint path"):
        evaluate(model, "gsm8k", tmp_path, tokenizer=tokenizer, source=str(FIXTURE), backend="vllm")


def test_sampling_keeps_the_callers_training_mode(tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).train()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    opts = dict(OPTS, n=1, k="1", max_new_tokens=4, limit=2)
    evaluate(model, "gsm8k", tmp_path, tokenizer=tokenizer, show_progress=False, **opts)
    assert model.training


def test_missing_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        evaluate(str(tmp_path / "nope"), "gsm8k", tmp_path / "out", source=str(FIXTURE))


def test_same_model_names_are_refused(tiny_model_dir, tmp_path):
    with pytest.raises(ValueError, match="give distinct --name values"):
        evaluate([str(tiny_model_dir), str(tiny_model_dir)], "gsm8k", tmp_path, source=str(FIXTURE))


def test_cli_collects_repeated_model_options():
    from gtpo.eval.cli import build_parser

    argv = ["--model", "a", "b", "--model", "c", "--task", "aime24", "--task", "amc23", "--output", "o"]
    (config,) = build_parser().parse_args_into_dataclasses(args=argv, look_for_args_file=False)
    assert config.model == ["a", "b", "c"] and config.task == ["aime24", "amc23"]
    assert (config.n, config.ks, config.backend) == (1, [1], "auto")


def test_every_benchmark_runs_from_the_shared_data_folder(tiny_model_dir, shared_data, tmp_path):
    tasks = ["gsm8k", "math", "math500", "aime24", "aime25", "amc23"]
    summary = evaluate(
        str(tiny_model_dir),
        tasks,
        tmp_path,
        source=str(shared_data),
        limit=2,
        n=1,
        max_new_tokens=2,
        show_progress=False,
    )
    assert [(r["task"], r["problems"], r["samples"]) for r in summary["results"]] == [
        (t, 2, 2) for t in tasks
    ]
    for r in summary["results"]:
        assert r["dir"] == f"model/{r['task']}"
        assert len(read_jsonl(tmp_path / r["dir"] / "samples.jsonl")) == 2


def test_cli_smoke(tiny_model_dir, tmp_path, capsys):
    from gtpo.cli import main

    argv = ["eval", "--model", str(tiny_model_dir), "--task", "gsm8k", "--source", str(FIXTURE), "--n", "2"]
    argv += ["--k", "1,2", "--temperature", "0.7", "--top_p", "0.9", "--max_new_tokens", "6"]
    argv += ["--batch_size", "4", "--seed", "3", "--output", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "| gsm8k | 5 | 2 |" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    config = summary["config"]
    assert (config["n"], config["k"], config["seed"], config["top_p"]) == (2, "1,2", 3, 0.9)
    assert config["answer_tolerance"] == "strict" and summary["grading"]["answer_tolerance"] == "strict"
    assert "equal values" in summary["grading"]["rule"]
    assert len(read_jsonl(tmp_path / "samples.jsonl")) == 10
    assert (
        main(["eval", "--model", "x", "--task", "gsm8k", "--n", "2", "--k", "8", "--output", str(tmp_path)])
        == 2
    )
    assert "every k must be in 1..n" in capsys.readouterr().err
    missing = ["eval", "--model", str(tmp_path / "nope"), "--task", "gsm8k", "--output", str(tmp_path / "o")]
    assert main(missing) == 2  # checked before any data is loaded
    assert "no such folder" in capsys.readouterr().err


REC = '{"id": "a", "sample": 0, "correct": true}'


@pytest.mark.parametrize(
    "content,count,repaired",
    [
        (REC + "\n" + REC[:10], 1, REC + "\n"),  # torn last line: cut off
        (REC + "\n" + REC, 2, REC + "\n" + REC + "\n"),  # complete but unterminated: newline added
        (REC + "\n\n" + REC + "\n", 2, REC + "\n\n" + REC + "\n"),  # blank lines kept
        (REC[:10], 0, ""),
        ("", 0, ""),
    ],
)
def test_read_samples_repairs_an_interrupted_tail(tmp_path, content, count, repaired):
    path = tmp_path / "samples.jsonl"
    path.write_text(content)
    assert len(runner_mod.read_samples(path)) == count
    assert path.read_text() == repaired


def test_read_samples_refuses_a_corrupt_middle_line(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_text(REC[:5] + "\n" + REC + "\n")
    with pytest.raises(ValueError, match=r"samples.jsonl:1: corrupt line"):
        runner_mod.read_samples(path)


def test_left_padded_batch_decodes_like_single_prompts(tiny_model_dir):
    """Greedy completions of prompts of different lengths are the same batched (left-padded) or alone."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from gtpo.eval.generate import HFSampler

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    prompts = [
        tokenizer(t, add_special_tokens=False)["input_ids"]
        for t in ("What is 2 + 3?", "Tom has 4 apples " * 6)
    ]
    assert len(prompts[0]) < len(prompts[1])
    sampler = HFSampler(model, tokenizer)
    greedy = dict(temperature=0.0, top_p=1.0, max_new_tokens=10, seed=0)
    batched = sampler.generate(prompts, **greedy)
    alone = [sampler.generate([p], **greedy)[0] for p in prompts]
    assert [c.text for c in batched] == [c.text for c in alone]
    assert [c.num_tokens for c in batched] == [c.num_tokens for c in alone]


class StubModel:
    """Returns fixed continuations, to test how HFSampler cuts at eos and counts tokens."""

    def __init__(self, new_tokens, eos_id):
        from transformers import GenerationConfig

        self.generation_config = GenerationConfig(eos_token_id=eos_id)
        self.device = "cpu"
        self.training = False
        self.new_tokens = new_tokens
        self.seen = None

    def eval(self):
        return self

    def train(self, mode=True):
        self.training = mode
        return self

    def generate(self, input_ids, attention_mask, generation_config):
        import torch

        self.seen = (input_ids, attention_mask, generation_config)
        return torch.cat([input_ids, torch.tensor(self.new_tokens)], dim=1)


def test_sampler_cuts_at_the_first_eos_and_pads_left(tiny_model_dir):
    from transformers import AutoTokenizer

    from gtpo.eval.generate import HFSampler

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    a, b = (
        tokenizer("7", add_special_tokens=False)["input_ids"][0],
        tokenizer("8", add_special_tokens=False)["input_ids"][0],
    )
    stub = StubModel([[a, eos, b, pad], [a, b, a, b]], eos)
    out = HFSampler(stub, tokenizer).generate(
        [[a], [b, b, b]], temperature=0.5, top_p=0.9, max_new_tokens=4, seed=1
    )
    assert [(c.text, c.num_tokens, c.truncated) for c in out] == [("7", 2, False), ("7878", 4, True)]
    ids, mask, config = stub.seen
    assert ids.tolist() == [[pad, pad, a], [b, b, b]] and mask.tolist() == [[0, 0, 1], [1, 1, 1]]
    assert (config.do_sample, config.temperature, config.top_p, config.top_k) == (True, 0.5, 0.9, None)
    assert config.max_new_tokens == 4 and config.pad_token_id == pad


def test_vllm_backend_with_a_stand_in_vllm_module(tiny_model_dir, tmp_path, monkeypatch):
    """The vLLM path end to end against a stand-in module with vLLM's API shape (no GPU here)."""
    import sys
    import types

    made = {}

    class SamplingParams:
        def __init__(self, **kwargs):
            self.__dict__.update(kwargs)

    class LLM:
        def __init__(self, **kwargs):
            made["llm"] = kwargs

        def generate(self, requests, params, use_tqdm=True):
            made.setdefault("calls", []).append((requests, params))
            out = types.SimpleNamespace(text=canonical("7"), token_ids=[1, 2, 3], finish_reason="stop")
            return [types.SimpleNamespace(outputs=[out]) for _ in requests]

    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(LLM=LLM, SamplingParams=SamplingParams))
    opts = dict(OPTS, n=2, k="1,2", batch_size=4, limit=None)
    (row,) = evaluate(str(tiny_model_dir), "gsm8k", tmp_path, backend="vllm", show_progress=False, **opts)[
        "results"
    ]
    assert made["llm"] == {"model": str(tiny_model_dir), "seed": 0, "dtype": "auto"}
    requests, params = made["calls"][0]
    assert len(requests) == 4 and all(isinstance(r["prompt_token_ids"][0], int) for r in requests)
    assert [p.temperature for p in params] == [1.0] * 4 and len({p.seed for p in params}) == 4
    assert params[0].max_tokens == 12 and params[0].n == 1
    assert row["format_rate"] == 1.0 and row["accuracy"] == pytest.approx(
        2 / 10
    )  # only problem 1's answer is 7
    samples = read_jsonl(tmp_path / "samples.jsonl")
    assert len(samples) == 10 and all(r["tokens"] == 3 and not r["truncated"] for r in samples)
    assert json.loads((tmp_path / "run.json").read_text())["backend"] == "vllm"


def test_a_grader_decides_correctness_and_maj_votes_on_exact_text(tmp_path):
    from gtpo.eval.config import EvalConfig
    from gtpo.eval.scoring import UserGrader, score_samples

    (tmp_path / "g.py").write_text("def check(c, a):\n    if c == 'boom':\n        raise ValueError('x')\n"
                                   "    return 1.0 if c.strip() == str(a) else 0.5\n"
                                   "def first(c):\n    return c.split()[0] if c.split() else None\n")  # fmt: skip
    grader = UserGrader(f"{tmp_path}/g.py:check", f"{tmp_path}/g.py:first", timeout=5.0)
    texts = ["7", "8 x", "8 y", "boom"]
    graded = grader.grade(texts, [7, 7, 7, 7])
    assert [g[1] for g in graded] == [1.0, 0.5, 0.5, 0.0] and [g[0] for g in graded] == ["7", "8", "8", "boom"]
    assert graded[3][2] == "ValueError: x" and graded[0][2] is None

    def records(answers):
        return [{"id": "p", "sample": i, "completion": t, "answer": a, "format": None, "correct": g[1] >= 1.0,
                 "score": g[1], "tokens": 1, "truncated": False, **({"error": g[2]} if g[2] else {})}
                for i, (t, a, g) in enumerate(zip(texts, answers, graded, strict=True))]  # fmt: skip

    config = EvalConfig(model=["m"], task=["custom"], output=str(tmp_path), n=4, k="1,4", grader="g.py:check",
                        extract="g.py:first")  # fmt: skip
    row = score_samples(records([g[0] for g in graded]), ["p"], config)
    # extracted votes: 7 (correct) | 8, 8 | boom -> "8" wins maj@4; maj@1 = accuracy = 1/4
    assert row["accuracy"] == 0.25 and row["maj@1"] == 0.25 and row["maj@4"] == 0.0 and row["pass@4"] == 1.0
    assert row["format_rate"] is None and row["score"] == pytest.approx(2.0 / 4) and row["grader_errors"] == 1
    no_extract = EvalConfig(model=["m"], task=["custom"], output=str(tmp_path), n=4, k="4", grader="g.py:check")
    # whole texts differ ("8 x" != "8 y"): four one-vote clusters, a 4-way tie with one correct -> 1/4
    assert score_samples(records([None] * 4), ["p"], no_extract)["maj@4"] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="--extract: only with --grader"):
        EvalConfig(model=["m"], task=["custom"], output=str(tmp_path), extract="g.py:first")
    with pytest.raises(ValueError, match="--prompt_field: only the custom task takes it"):
        EvalConfig(model=["m"], task=["gsm8k"], output=str(tmp_path), prompt_field="q")


def test_contributings_worked_example_task_is_evaluable_by_name_with_a_grader(tiny_model_dir, tmp_path, monkeypatch):
    from gtpo.eval.cli import main as eval_main
    from gtpo.tasks import task_names, unregister_task

    guide = (Path(__file__).resolve().parents[2] / "CONTRIBUTING.md").read_text()
    code = guide.split("## Adding a task", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "my_sums.py").write_text(code)  # the guide's example, as a user would save it
    (tmp_path / "sums.jsonl").write_text("".join(json.dumps({"terms": [i, 2], "total": i + 2}) + "\n" for i in range(3)))
    (tmp_path / "grade.py").write_text("def check(completion, answer):\n    return answer in completion\n")
    monkeypatch.chdir(tmp_path)
    try:
        assert eval_main(["--model", str(tiny_model_dir), "--task", "./my_sums.py:sums", "--source", "sums.jsonl",
                          "--grader", "./grade.py:check", "--n", "2", "--k", "1,2", "--max_new_tokens", "4",
                          "--output", "out"]) == 0  # fmt: skip
        assert "sums" in task_names()
    finally:
        unregister_task("sums")
    samples = read_jsonl(tmp_path / "out" / "samples.jsonl")
    assert len(samples) == 6 and {s["id"] for s in samples} == {"test-0", "test-1", "test-2"}
    for s in samples:  # a built-in-style task under --grader keeps the paper's format score
        total = str(int(s["id"].split("-")[1]) + 2)
        assert s["correct"] == (total in s["completion"]) and s["format"] in (0.0, 1.0, 1.5, 2.0, 10.0)
