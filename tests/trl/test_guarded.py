"""Run guards (gtpo.trl.guarded, gtpo.run.checkpoints) on the tiny model with scripted generation."""

from __future__ import annotations

import math
import re
import time

import pytest
import torch

from gtpo.run.checkpoints import last_complete_checkpoint, staging_root
from gtpo.run.guards import RewardFunctionError, RewardGuard
from gtpo.run.logger import RunLogger
from gtpo.trl.guarded import GuardedGRPOTrainer, NonFiniteUpdatesError
from tests.trl.trl_helpers import ScriptedGeneration, answer_is_two, gtpo_args, make_trainer


def length_reward(completion: str, answer: str) -> float:
    """A user reward in 'module:function' form (plain str -> float): used by the CLI tests."""
    return float(len(completion) > 0)


def sevens(completion: str) -> float:
    """A one-argument user reward (no reference answer): used by the CLI tests."""
    return float(completion.count("7"))


def three_args(completion: str, answer: str, extra: str) -> float:
    """A user reward with a signature gtpo cannot call: used by the CLI tests."""
    return 0.0


# ---- reward functions ---------------------------------------------------------------------------------
def test_a_raising_reward_scores_only_the_failing_completions_zero():
    def picky(completions, **_):
        if any("boom" in c for c in completions):
            raise ZeroDivisionError("boom")
        return [1.0] * len(completions)

    guard = RewardGuard(picky, timeout=5.0)
    with pytest.warns(RuntimeWarning, match="'picky': ZeroDivisionError"):
        scores = guard(["a", "boom", "c", "boom"], answer=["1", "2", "3", "4"])
    assert scores == [1.0, 0.0, 1.0, 0.0] and guard.errors == 2 and guard.__name__ == "picky"


def test_a_hanging_reward_meets_its_deadline():
    def hangs(completions, **_):
        time.sleep(30)
        return [1.0] * len(completions)

    guard = RewardGuard(hangs, timeout=0.2)
    start = time.monotonic()
    with pytest.warns(RuntimeWarning, match="RewardTimeout"):
        assert guard(["a", "b", "c"]) == [0.0, 0.0, 0.0]
    assert time.monotonic() - start < 2 and guard.errors == 3


def test_the_deadline_holds_where_sigint_is_ignored_and_the_handler_is_restored():
    import signal

    def hangs(completions, **_):
        time.sleep(30)
        return [1.0] * len(completions)

    before = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in a background job started by a shell
    try:
        guard = RewardGuard(hangs, timeout=0.2)
        start = time.monotonic()
        with pytest.warns(RuntimeWarning, match="RewardTimeout"):
            assert guard(["a"]) == [0.0]
        assert time.monotonic() - start < 2
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_bad_values_score_zero_and_none_passes():
    import numpy as np

    values = [1.0, math.nan, math.inf, None, "x", np.float32(0.5), torch.tensor(2.0), [1]]
    guard = RewardGuard(lambda completions, **_: values, timeout=None)
    with pytest.warns(RuntimeWarning, match="not a finite number"):
        assert guard(list("abcdefgh")) == [1.0, None, 0.0, None, 0.0, 0.5, 2.0, 0.0]  # NaN = None: "does not apply"
    assert guard.errors == 3
    wrong_length = RewardGuard(lambda completions, **_: [1.0], timeout=None)
    assert wrong_length(["a", "b"]) == [1.0, 1.0]  # a wrong-length batch is retried one by one: right for one
    assert wrong_length.errors == 0
    scalar = RewardGuard(lambda completions, **_: 1.0, timeout=None)
    scalar.calls = 1  # past its first batch: failures score 0 (a failing first batch stops the run, below)
    with pytest.warns(RuntimeWarning, match=r"TypeError: returned float 1\.0, expected 1 numbers"):
        assert scalar(["a", "b"]) == [0.0, 0.0]
    assert scalar.errors == 2


@pytest.mark.parametrize(
    "func, message",
    [
        (lambda completions, **_: 1.0, "TypeError: returned float"),  # not a list
        (lambda completions, **_: [math.inf] * len(completions), "not a finite number"),
        (lambda completions, answer, **_: [float(c == a) for c, a in zip(completions, answer, strict=True)], "TypeError"),
    ],
)
def test_a_reward_failing_on_its_whole_first_batch_stops_the_run(func, message):
    # the third one needs `answer`, which this task does not have: a signature bug, not a bad completion
    guard = RewardGuard(func, timeout=None)
    with pytest.warns(RuntimeWarning):
        guard(["a", "b"])
    # the trainer raises it on every process once the rewards are gathered (GuardedGRPOTrainer._calculate_rewards)
    assert isinstance(guard.broken, RewardFunctionError)
    assert re.search(f"all 2 completions of its first batch.*{message}", str(guard.broken))


def test_a_first_batch_that_partly_fails_or_times_out_does_not_stop_the_run():
    guard = RewardGuard(lambda completions, **_: [1.0 if c != "x" else math.inf for c in completions], timeout=None)
    with pytest.warns(RuntimeWarning, match="not a finite number"):
        assert guard(["x", "y"]) == [0.0, 1.0]  # one of two failed: scored, counted, run goes on
    later = RewardGuard(lambda completions, **_: [math.inf] * len(completions), timeout=None)
    later.calls = 3  # a later batch that fails entirely is scored 0 (a run of hostile completions)
    with pytest.warns(RuntimeWarning):
        assert later(["a"]) == [0.0]


def _logged_trainer(model_dir, out, reward, **overrides):
    trainer = make_trainer(model_dir, out, reward=reward, **overrides)
    trainer.add_callback(RunLogger(out, console=False))
    return trainer


def test_reward_errors_are_counted_in_metrics_and_the_run_goes_on(tiny_model_dir, tmp_path):
    calls = {"n": 0}

    def flaky(completions, **_):
        calls["n"] += 1
        if calls["n"] in (1, 2):  # first batch: the batch call and the retry of completion 0 raise
            raise RuntimeError("reward service down")
        return answer_is_two(completions)

    trainer = _logged_trainer(tiny_model_dir, tmp_path / "run", flaky, max_steps=2)
    with pytest.warns(RuntimeWarning, match="reward service down"):
        trainer.train()
    rows = [__import__("json").loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [(r["step"], r["reward_errors"], r["skipped_updates"]) for r in rows] == [(1, 1, 0), (2, 0, 0)]


# ---- non-finite updates -----------------------------------------------------------------------------
class NaNLogits:
    """NaN (or inf) logits in the training forward passes of chosen steps: a hook on the final norm (TRL
    multiplies its output by lm_head.weight directly, so a hook on lm_head would not run)."""

    def __init__(self, trainer, steps, value=math.nan):
        self.trainer, self.steps, self.value = trainer, set(steps), value
        trainer.model.model.norm.register_forward_hook(self)

    def __call__(self, module, args, output):
        if self.trainer.state.global_step + 1 in self.steps and torch.is_grad_enabled():
            return output + self.value
        return output


def _snapshots(trainer) -> dict[int, dict]:
    from transformers import TrainerCallback

    taken: dict[int, dict] = {}

    class Snap(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, optimizer=None, **kwargs):
            params = {k: v.detach().clone() for k, v in model.state_dict().items()}
            moments = {k: {n: t.clone() for n, t in s.items()} for k, s in optimizer.state_dict()["state"].items()}
            taken[state.global_step] = {"params": params, "moments": moments}

    trainer.add_callback(Snap())
    return taken


def _grpo_trainer(model_dir, out, **overrides):
    """The GRPO baseline's trainer (TRL's algorithm + the guards) on the same scripted batches."""
    from transformers import AutoTokenizer

    from gtpo.tasks import load_task
    from trl import GRPOConfig

    args = GRPOConfig(output_dir=str(out), use_cpu=True, bf16=False, per_device_train_batch_size=8, num_generations=4,
                      max_completion_length=24, learning_rate=1e-3, logging_steps=1, save_strategy="no",
                      report_to="none", disable_tqdm=True, seed=0, **overrides)  # fmt: skip
    trainer = GuardedGRPOTrainer(
        model=str(model_dir), reward_funcs=[answer_is_two], args=args, train_dataset=load_task("arith", limit=16, seed=0),
        processing_class=AutoTokenizer.from_pretrained(model_dir, padding_side="left"),
    )  # fmt: skip
    trainer._generate = ScriptedGeneration(trainer)
    return trainer


@pytest.mark.parametrize("algo", ["gtpo", "grpo"])
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_a_non_finite_update_is_skipped_never_applied(tiny_model_dir, tmp_path, algo, value):
    make = make_trainer if algo == "gtpo" else _grpo_trainer
    trainer = make(tiny_model_dir, tmp_path / "run", max_steps=3)
    trainer.add_callback(RunLogger(tmp_path / "run", console=False))
    NaNLogits(trainer, steps={2}, value=value)
    taken = _snapshots(trainer)
    trainer.train()
    for name, before in taken[1]["params"].items():  # step 2 changed nothing: weights and AdamW moments
        assert torch.equal(taken[2]["params"][name], before), name
    assert taken[2]["moments"].keys() == taken[1]["moments"].keys()
    for index, state in taken[1]["moments"].items():
        for key, tensor in state.items():
            assert torch.equal(taken[2]["moments"][index][key], tensor), (index, key)
    changed = [not torch.equal(taken[3]["params"][k], v) for k, v in taken[2]["params"].items()]
    assert any(changed)  # step 3 is finite again and trains
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    rows = [__import__("json").loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["skipped_updates"] for r in rows] == [0, 1, 0]
    if algo == "gtpo":  # <H>_ini was measured on step 1 and stays finite
        assert math.isfinite(trainer.gtpo_state.initial_entropy)


def test_k_non_finite_updates_in_a_row_stop_with_a_usable_checkpoint(tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    out = tmp_path / "run"
    trainer = make_trainer(tiny_model_dir, out, max_steps=10, save_strategy="steps", save_steps=100)
    trainer.max_nonfinite_steps = 2
    NaNLogits(trainer, steps=range(2, 11))
    taken = _snapshots(trainer)
    with pytest.raises(NonFiniteUpdatesError, match=r"stopped at step 3: 2 updates in a row.*checkpoint-3.*--resume"):
        trainer.train()
    assert trainer.state.global_step == 3 and last_complete_checkpoint(out) == out / "checkpoint-3"
    saved = AutoModelForCausalLM.from_pretrained(out / "checkpoint-3").state_dict()
    for name, value in taken[1]["params"].items():  # the checkpoint holds the parameters after step 1
        assert torch.equal(saved[name], value), name


# ---- degenerate groups ------------------------------------------------------------------------------
class RawScript(ScriptedGeneration):
    """Scripted generation with explicit completion ids (no EOS appended)."""

    def __init__(self, trainer, ids):
        super().__init__(trainer)
        self.completions, self.texts = ids, [trainer.processing_class.decode(i) for i in ids]


@pytest.mark.parametrize("case", ["all_equal", "empty", "truncated", "truncated_masked"])
def test_degenerate_groups_give_a_finite_loss(tiny_model_dir, tmp_path, generation_inputs, case):
    trainer = make_trainer(tiny_model_dir, tmp_path / "run", max_completion_length=8,
                           mask_truncated_completions=case == "truncated_masked")  # fmt: skip
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1
    tok, eos = trainer.processing_class, trainer.processing_class.eos_token_id
    answer = tok.encode("<answer>\n2\n</answer>", add_special_tokens=False)
    long = tok.encode("1 + 1 = 2 and so on", add_special_tokens=False)[:8]  # 8 tokens, no EOS: cut at the limit
    ids = {
        "all_equal": [answer + [eos]] * 4,  # every completion right: rewards 1, 1, 1, 1
        "empty": [[eos], answer + [eos], [eos], answer + [eos]],  # empty completions (EOS only)
        "truncated": [long, answer + [eos], long, answer + [eos]],
        "truncated_masked": [long, answer + [eos], long, answer + [eos]],
    }[case]
    trainer._generate = RawScript(trainer, ids)
    out = trainer._generate_and_score_completions(generation_inputs)
    assert torch.isfinite(out["advantages"]).all()
    if case == "all_equal":
        assert torch.equal(out["advantages"], torch.zeros(8))
        assert (out["gtpo_weights"] == out["completion_mask"].float()).all()  # no conflicts without +/- pairs
    if case == "truncated_masked":
        assert (out["completion_mask"][[0, 2]] == 0).all()  # TRL drops cut completions from the loss
    loss = trainer._compute_loss(trainer.model, out)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in trainer.model.parameters())


# ---- checkpoints ------------------------------------------------------------------------------------
def test_checkpoints_are_renamed_into_place_and_rotated(tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    trainer = make_trainer(tiny_model_dir, out, max_steps=3, save_strategy="steps", save_steps=1, save_total_limit=2)
    trainer.train()
    assert sorted(p.name for p in out.iterdir() if "checkpoint" in p.name) == ["checkpoint-2", "checkpoint-3"]
    assert last_complete_checkpoint(out) == out / "checkpoint-3"


def test_a_save_killed_halfway_leaves_no_checkpoint_folder(tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    trainer = make_trainer(tiny_model_dir, out, max_steps=2, save_strategy="steps", save_steps=1)
    original = trainer._save_rng_state

    def dies_at_step_2(output_dir):
        if trainer.state.global_step == 2:
            raise KeyboardInterrupt("killed while saving")  # the model and optimizer files are already written
        original(output_dir)

    trainer._save_rng_state = dies_at_step_2
    with pytest.raises(KeyboardInterrupt):
        trainer.train()
    assert not (out / "checkpoint-2").exists()
    assert (staging_root(out, 2) / "checkpoint-2" / "model.safetensors").is_file()  # the half-written save
    assert last_complete_checkpoint(out) == out / "checkpoint-1"


def test_resume_skips_incomplete_checkpoints(tmp_path):
    for step in (2, 4):
        (tmp_path / f"checkpoint-{step}").mkdir()
    (tmp_path / "checkpoint-2" / "trainer_state.json").write_text("{}")
    (tmp_path / ".tmp-checkpoint-6" / "checkpoint-6").mkdir(parents=True)
    with pytest.warns(UserWarning, match="checkpoint-4: incomplete"):
        assert last_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-2"
    assert last_complete_checkpoint(tmp_path / "missing") is None


def test_guard_settings_are_checked(tiny_model_dir, tmp_path):
    with pytest.raises(ValueError, match="max_nonfinite_steps=0"):
        GuardedGRPOTrainer(str(tiny_model_dir), [answer_is_two], args=gtpo_args(tmp_path), max_nonfinite_steps=0)
    with pytest.raises(ValueError, match="reward_timeout=0"):
        GuardedGRPOTrainer(str(tiny_model_dir), [answer_is_two], args=gtpo_args(tmp_path), reward_timeout=0)


def test_user_functions_are_guarded_but_reward_models_are_not():
    from gtpo.trl.guarded import guard_reward_funcs

    model = torch.nn.Linear(1, 1)
    funcs = guard_reward_funcs([answer_is_two, model, "some/reward-model"], 1.0)
    assert isinstance(funcs[0], RewardGuard) and funcs[1] is model and funcs[2] == "some/reward-model"
    assert __name__ == "tests.trl.test_guarded"  # the CLI tests load length_reward from this module


def test_a_resume_takes_logging_and_save_steps_from_the_arguments(tiny_model_dir, tmp_path):
    from transformers import TrainerState

    checkpoint = tmp_path / "checkpoint-1"
    checkpoint.mkdir()
    TrainerState(global_step=1, max_steps=3, logging_steps=1, save_steps=1, train_batch_size=8).save_to_json(checkpoint / "trainer_state.json")
    trainer = make_trainer(tiny_model_dir, tmp_path / "run", logging_steps=2, save_steps=5)
    trainer._init_training_state(3, 16, 1, str(checkpoint), None)
    assert trainer.state.global_step == 1  # the checkpoint's state, with the run's own steps
    assert (trainer.state.logging_steps, trainer.state.save_steps) == (2, 5)


def test_reward_guard_off_hands_trl_the_functions_untouched(tiny_model_dir, tmp_path):
    from gtpo.tasks import load_task

    data = load_task("arith", limit=4, seed=0)
    trainer = GuardedGRPOTrainer(str(tiny_model_dir), [answer_is_two], args=gtpo_args(tmp_path), train_dataset=data,
                                 reward_guard=False)  # fmt: skip
    assert len(trainer.reward_funcs) == 1 and trainer.reward_funcs[0] is answer_is_two
    guarded = GuardedGRPOTrainer(str(tiny_model_dir), [answer_is_two], args=gtpo_args(tmp_path), train_dataset=data,
                                 max_failed_reward_steps=5)  # fmt: skip
    assert isinstance(guarded.reward_funcs[0], RewardGuard) and guarded.reward_funcs[0].max_failed == 5


def test_a_model_with_nan_weights_is_refused_before_training(tiny_model_dir, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    from gtpo.trl.guarded import NonFiniteWeightsError

    corrupt = tmp_path / "corrupt"
    shutil.copytree(tiny_model_dir, corrupt)
    weights = load_file(corrupt / "model.safetensors")
    weights["model.norm.weight"][0] = math.nan  # would make every logit NaN: generation fails in multinomial
    save_file(weights, corrupt / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(NonFiniteWeightsError, match=r"1 parameter tensor\(s\) hold NaN or inf.*model.norm.weight"):
        make_trainer(corrupt, tmp_path / "run")


def test_a_metrics_row_torn_by_a_kill_is_dropped_on_resume(tmp_path):
    from transformers import TrainerControl, TrainerState

    (tmp_path / "metrics.jsonl").write_text('{"step": 1}\n{"step": 2}\n{"step": 3, "loss": 0.1}\n{"step": 4, "lo')
    state = TrainerState()
    state.global_step = 3  # resumed from checkpoint-3
    RunLogger(tmp_path, console=False).on_train_begin(None, state, TrainerControl())
    assert (tmp_path / "metrics.jsonl").read_text() == '{"step": 1}\n{"step": 2}\n{"step": 3, "loss": 0.1}\n'


def test_tied_weights_are_not_reported_missing_on_resume(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    from gtpo.trl.guarded import tied_to_loaded

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert model.lm_head.weight is model.model.embed_tokens.weight  # the tiny model ties its embeddings
    assert tied_to_loaded(model, ["lm_head.weight"]) == ["lm_head.weight"]
    assert tied_to_loaded(model, ["lm_head.weight", "model.embed_tokens.weight"]) == []  # neither was loaded
    assert tied_to_loaded(model, ["model.norm.weight"]) == []  # not tied: a real missing key
