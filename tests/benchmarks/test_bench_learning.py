"""bench_learning's run archive: finished runs travel as committed files, without their models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def finished_run(folder: Path) -> Path:
    (folder / "train" / "checkpoint-10").mkdir(parents=True)
    (folder / "train" / "model.safetensors").write_bytes(b"weights")
    (folder / "eval").mkdir()
    (folder / "eval" / "samples.jsonl").write_text('{"correct": true}\n')
    (folder / "eval" / "summary.json").write_text('{"results": [{"accuracy": 0.5}]}')
    (folder / "train.log").write_text("progress bars")
    (folder / "spec.json").write_text('{"name": "gtpo"}')
    (folder / "done.json").write_text('{"name": "gtpo", "seed": 1}')
    return folder


def test_archive_keeps_results_and_drops_model_and_logs(bench, tmp_path):
    run = finished_run(tmp_path / "cache" / "gtpo-s1-abcd1234")
    bench.archive(run, tmp_path / "img" / "runs")
    kept = sorted(p.relative_to(tmp_path / "img" / "runs").as_posix() for p in (tmp_path / "img" / "runs").rglob("*")
                  if p.is_file())  # fmt: skip
    assert kept == ["gtpo-s1-abcd1234/done.json", "gtpo-s1-abcd1234/eval/samples.jsonl",
                    "gtpo-s1-abcd1234/eval/summary.json", "gtpo-s1-abcd1234/spec.json"]  # fmt: skip


def test_archive_replaces_an_older_copy(bench, tmp_path):
    run = finished_run(tmp_path / "cache" / "r")
    dest = tmp_path / "archive"
    (dest / "r").mkdir(parents=True)
    (dest / "r" / "stale.json").write_text("{}")
    bench.archive(run, dest)
    assert not (dest / "r" / "stale.json").exists()
    assert [p.name for p in dest.iterdir()] == ["r"]  # no temporary folder left behind


def test_restore_fills_an_empty_cache_and_leaves_a_full_one(bench, tmp_path):
    dest = tmp_path / "archive"
    bench.archive(finished_run(tmp_path / "machine-a" / "r"), dest)
    fresh = tmp_path / "machine-b" / "r"
    assert bench.restore(fresh, dest)
    assert json.loads((fresh / "done.json").read_text()) == {"name": "gtpo", "seed": 1}
    assert (fresh / "eval" / "samples.jsonl").is_file()
    (fresh / "done.json").write_text('{"name": "local"}')  # a cached run wins over the archive
    assert bench.restore(fresh, dest)
    assert json.loads((fresh / "done.json").read_text()) == {"name": "local"}


def test_restore_reports_a_run_that_is_nowhere(bench, tmp_path):
    partial = tmp_path / "cache" / "r"
    partial.mkdir(parents=True)
    (partial / "spec.json").write_text("{}")  # started, not finished: must be resumed, not restored
    assert not bench.restore(partial, tmp_path / "archive")
    assert (partial / "spec.json").is_file()


def test_only_seeds_selects_runs_and_rejects_seeds_outside_the_suite(bench, tmp_path):
    args = bench.parse_args(["--suite", "negatives", "--seeds", "3", "--only-seeds", "1", "--img", str(tmp_path)])
    specs = bench.run_specs(args, "negatives", tmp_path / "start", "0" * 12)
    assert {s["seed"] for s in specs} == {1} and len(specs) == len(bench.SUITES["negatives"])
    assert {s["archive"] for s in specs} == {str(tmp_path / "runs")}
    with pytest.raises(SystemExit, match="--only-seeds \\[3\\] outside 0..2"):
        bench.parse_args(["--seeds", "3", "--only-seeds", "3"])


def start_samples(folder: Path, completions: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"id": "p0", "sample": i, "completion": c} for i, c in enumerate(completions)]
    (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "summary.json").write_text('{"results": [{"accuracy": 0.5}]}')


@pytest.fixture
def rebuilt(bench, tmp_path, monkeypatch):
    """A suite whose archive holds the start evaluation of start 'aaaa', and a rebuilt start 'bbbb'."""
    args = bench.parse_args(["--suite", "negatives", "--img", str(tmp_path / "img"), "--out", str(tmp_path / "out"),
                             "--start-sha256", "aaaa"])  # fmt: skip
    spec = bench.run_specs(args, "negatives", tmp_path / "start", "bbbb")[0]
    archived = Path(spec["archive"]) / bench.start_eval_folder(args, "aaaa", spec).name
    start_samples(archived, ["<answer>1</answer>", "<answer>2</answer>"])

    def evaluate(rebuilt_samples):
        def fake(args, start, start_hash, spec):
            folder = bench.start_eval_folder(args, start_hash, spec)
            start_samples(folder, rebuilt_samples)
            return {"eval_dir": str(folder)}

        monkeypatch.setattr(bench, "evaluate_start", fake)

    return args, spec, evaluate


def test_a_rebuilt_start_that_samples_the_same_completions_continues_the_suite(bench, rebuilt, tmp_path):
    args, spec, evaluate = rebuilt
    evaluate(["<answer>1</answer>", "<answer>2</answer>"])  # float rounding changed, sampling did not
    assert bench.vouch_start(args, tmp_path / "start", "bbbb", spec) == "aaaa"


def test_a_rebuilt_start_that_samples_otherwise_is_refused(bench, rebuilt, tmp_path):
    args, spec, evaluate = rebuilt
    evaluate(["<answer>1</answer>", "<answer>3</answer>"])  # one completion differs
    with pytest.raises(SystemExit, match="another start; drop --start-sha256"):
        bench.vouch_start(args, tmp_path / "start", "bbbb", spec)


def test_start_sha256_needs_an_archived_start_and_is_a_no_op_for_the_same_start(bench, rebuilt, tmp_path):
    args, spec, evaluate = rebuilt
    assert bench.vouch_start(args, tmp_path / "start", "aaaa", spec) == "aaaa"  # nothing to check
    args.start_sha256 = "cccc"
    with pytest.raises(SystemExit, match="no archived start evaluation"):
        bench.vouch_start(args, tmp_path / "start", "bbbb", spec)
    args.start_sha256 = None
    assert bench.vouch_start(args, tmp_path / "start", "bbbb", spec) == "bbbb"


def test_the_frame_suite_trains_and_evaluates_on_the_chosen_task(bench, tmp_path):
    from gtpo.tasks.arith import ArithConfig
    from gtpo.tasks.explain import ExplainConfig

    options = '{"max_operand": 5}'
    args = bench.parse_args(["--suite", "frame", "--task", "explain", "--task-options", options, "--img", str(tmp_path)])
    specs = bench.run_specs(args, "frame", tmp_path / "start", "0" * 12)
    assert [s["name"] for s in specs[:3]] == ["gtpo", "grpo", "grpo-kl"]
    for spec in specs:
        argv = spec["argv"]
        assert argv[argv.index("--task") + 1] == "explain"
        assert json.loads(argv[argv.index("--task_options") + 1]) == {"max_operand": 5}
        assert spec["eval"]["task"] == "explain"
    assert bench.task_config(specs[0]["eval"]) == ExplainConfig(max_operand=5)
    # arith runs keep their specs: no task in the command line or the evaluation
    arith = bench.run_specs(bench.parse_args(["--suite", "learning", "--img", str(tmp_path)]), "learning",
                            tmp_path / "start", "0" * 12)[0]  # fmt: skip
    assert "--task" not in arith["argv"] and "task" not in arith["eval"]
    assert bench.task_config(arith["eval"]) == ArithConfig()
    with pytest.raises(SystemExit):
        bench.parse_args(["--task", "gsm8k"])
