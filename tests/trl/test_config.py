"""GTPOConfig: the GTPO fields, their defaults, and errors that name the field and the fix."""

from __future__ import annotations

import dataclasses
import math

import pytest

from gtpo.run.arguments import AlgorithmArguments, RewardArguments, TaskArguments
from gtpo.trl import GTPOConfig
from trl import GRPOConfig

BASE = dict(use_cpu=True, bf16=False, per_device_train_batch_size=8, num_generations=4, report_to="none")


def make(tmp_path, **overrides) -> GTPOConfig:
    return GTPOConfig(output_dir=str(tmp_path), **{**BASE, **overrides})


def test_defaults_follow_the_paper(tmp_path):
    config = make(tmp_path)
    assert isinstance(config, GRPOConfig)
    assert (config.conflict_scope, config.positive_weight, config.entropy_gamma) == ("prefix_suffix", 2.0, 0.1)
    assert config.entropy_threshold == pytest.approx(math.log(2))
    assert (config.entropy_filter, config.normalize_by_conflicts) == ("auto", False)
    assert (config.beta, config.loss_type, config.scale_rewards) == (0.0, "grpo", "group")


def test_every_gtpo_field_is_documented_once():
    own = {f.name for f in dataclasses.fields(GTPOConfig)} - {f.name for f in dataclasses.fields(GRPOConfig)}
    assert own == {"conflict_scope", "positive_weight", "entropy_threshold", "entropy_gamma", "entropy_filter",
                   "normalize_by_conflicts", "conflict_combine", "conflict_count", "gtpo_variant", "negative_weight",
                   "conflict_max_run", "collapse_conflict_share", "collapse_entropy_fraction"}  # fmt: skip
    for f in dataclasses.fields(GTPOConfig):
        if f.name in own:
            assert len(f.metadata["help"]) > 40, f.name


def test_paper_variant_is_the_default(tmp_path):
    config = make(tmp_path)
    assert (config.gtpo_variant, config.conflict_combine, config.conflict_count) == ("paper", "union", "exact")
    assert config.variant_overrides == {}


def test_reference_code_variant_sets_every_differing_field(tmp_path):
    config = make(tmp_path, gtpo_variant="reference_code")
    assert config.scale_rewards == "none"  # A = R - mean
    assert (config.entropy_filter, config.entropy_threshold) == ("always", 0.7)
    assert (config.conflict_combine, config.normalize_by_conflicts, config.conflict_count) == (
        "product", True, "reference_code"
    )
    assert config.variant_overrides == {}
    # the fields the variant does not touch keep their defaults
    assert (config.conflict_scope, config.positive_weight, config.entropy_gamma) == ("prefix_suffix", 2.0, 0.1)


def test_explicit_fields_win_over_the_variant_and_are_recorded(tmp_path):
    config = make(tmp_path, gtpo_variant="reference_code", conflict_count="exact", scale_rewards=True,
                  entropy_threshold=0.7)  # fmt: skip
    assert (config.conflict_count, config.scale_rewards) == ("exact", "group")
    assert config.conflict_combine == "product"  # still from the variant
    # entropy_threshold=0.7 equals the variant's value: not an override
    assert config.variant_overrides == {"conflict_count": "exact", "scale_rewards": "group"}
    paper = make(tmp_path, normalize_by_conflicts=True)
    assert paper.normalize_by_conflicts and paper.variant_overrides == {"normalize_by_conflicts": True}
    with pytest.raises(ValueError, match="gtpo_variant='authors'.*paper, reference_code"):
        make(tmp_path, gtpo_variant="authors")


def test_scale_rewards_booleans_map_to_group_and_none(tmp_path):
    assert make(tmp_path, scale_rewards=False).scale_rewards == "none"
    assert make(tmp_path, scale_rewards=True).scale_rewards == "group"


@pytest.mark.parametrize(
    "overrides, field, fix",
    [
        (dict(beta=0.04), "beta", "set beta=0"),
        (dict(scale_rewards="batch"), "scale_rewards", "'group'"),
        (dict(conflict_scope="everywhere"), "conflict_scope", "prefix_suffix, all"),
        (dict(entropy_filter="sometimes"), "entropy_filter", "negative_only"),
        (dict(conflict_combine="max"), "conflict_combine", "union, product"),
        (dict(conflict_count="approx"), "conflict_count", "exact, reference_code"),
        (dict(conflict_count="true"), "conflict_count", "now called 'exact'"),
        (dict(positive_weight=-1.0), "positive_weight", ">= 0"),
        (dict(entropy_threshold=0.0), "entropy_threshold", "ln 2"),
        (dict(entropy_gamma=-0.1), "entropy_gamma", ">= 0"),
        (dict(multi_objective_aggregation="normalize_then_sum"), "multi_objective_aggregation", "sum_then"),
        (dict(loss_type="vespo"), "loss_type", "grpo, bnpo, dr_grpo, dapo, cispo, sapo"),
        (dict(off_policy_mask_threshold=0.5), "off_policy_mask_threshold", "unset"),
    ],
)
def test_invalid_values_name_the_field_and_the_fix(tmp_path, overrides, field, fix):
    with pytest.raises(ValueError, match=field) as err:
        make(tmp_path, **overrides)
    assert fix in str(err.value)


def test_generation_batch_must_hold_whole_groups(tmp_path):
    with pytest.raises(ValueError, match="multiple of num_generations=4"):
        make(tmp_path, per_device_train_batch_size=6)
    assert make(tmp_path, per_device_train_batch_size=6, steps_per_generation=2).generation_batch_size == 12


def test_run_sections_validate():
    assert RewardArguments().rewards == ["format", "correctness"]
    with pytest.raises(ValueError, match="rewards"):
        RewardArguments(rewards=["length"])
    with pytest.raises(ValueError, match="algo"):
        AlgorithmArguments(algo="ppo")
    with pytest.raises(ValueError, match="task_limit"):
        TaskArguments(task_limit=0)
    with pytest.raises(ValueError, match="answer_tolerance='loose'.*'strict'.*'paper'"):
        RewardArguments(answer_tolerance="loose")


def test_correctness_reward_uses_the_answer_tolerance():
    from gtpo.trl.rewards import reward_funcs

    text = "<reasoning>\nsmall\n</reasoning>\n<answer>\n0\n</answer>"
    (strict,) = reward_funcs(["correctness"])
    (paper,) = reward_funcs(["correctness"], "paper")
    assert strict.__name__ == paper.__name__ == "correctness"  # TRL logs rewards/correctness/mean for both
    assert strict([text], answer=[".0000672"]) == [0.0]
    assert paper([text], answer=[".0000672"]) == [10.0]


def test_a_new_variant_is_one_entry(tmp_path, monkeypatch):
    from gtpo.core import variants

    entry = {**variants.VARIANTS["paper"], "scale_rewards": "none"}
    monkeypatch.setitem(variants.VARIANTS, "no_std", entry)
    config = make(tmp_path, gtpo_variant="no_std")
    assert (config.scale_rewards, config.entropy_filter, config.variant_overrides) == ("none", "auto", {})


def test_grpo_stabilizers_compose_with_gtpo(tmp_path):
    config = make(tmp_path, loss_type="dapo", epsilon_high=0.28, delta=2.0, importance_sampling_level="sequence",
                  top_entropy_quantile=0.2, entropy_coef=0.01)  # fmt: skip
    assert (config.loss_type, config.epsilon_high, config.delta) == ("dapo", 0.28, 2.0)


REFUSED_SETTINGS = [("loss_type", "vespo"), ("loss_type", "luspo"), ("off_policy_mask_threshold", 0.5),
                    ("multi_objective_aggregation", "normalize_then_sum"), ("beta", 0.04)]  # fmt: skip


def constructor_error(tmp_path, name: str, value) -> str:
    with pytest.raises(ValueError) as err:
        make(tmp_path, **{name: value})
    return str(err.value)


@pytest.mark.parametrize("name, value", REFUSED_SETTINGS)
def test_a_refused_option_set_after_construction_is_refused_when_the_trainer_is_built(tmp_path, tiny_model_dir,
                                                                                      name, value):  # fmt: skip
    from gtpo.trl import GTPOTrainer
    from tests.trl.trl_helpers import answer_is_two

    expected = constructor_error(tmp_path, name, value)
    config = make(tmp_path)
    setattr(config, name, value)
    with pytest.raises(ValueError) as err:
        GTPOTrainer(model=str(tiny_model_dir), reward_funcs=[answer_is_two], args=config)
    assert str(err.value) == expected


def test_a_refused_option_set_on_a_built_trainer_is_refused_when_training_starts(tmp_path, tiny_model_dir):
    from tests.trl.trl_helpers import make_trainer

    trainer = make_trainer(tiny_model_dir, tmp_path / "run")
    for name, value in REFUSED_SETTINGS:
        expected = constructor_error(tmp_path, name, value)
        for holder in (trainer.args, trainer):  # the config, and the copy TRL's trainer keeps of the setting
            if holder is trainer and not hasattr(trainer, name):
                continue
            original = getattr(holder, name)
            setattr(holder, name, value)
            with pytest.raises(ValueError) as err:
                trainer.train()
            assert str(err.value) == expected, (type(holder).__name__, name)
            setattr(holder, name, original)
    assert trainer.state.global_step == 0
