"""`gtpo train` parsing: YAML + command-line overrides over one parser, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gtpo.core import VARIANT_FIELDS, VARIANTS
from gtpo.trl import GTPOConfig
from gtpo.trl.train import RecipeError, main, parse_args
from trl import GRPOConfig

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return str(path)


BASE = """
model_name_or_path: some/model
output_dir: {out}
use_cpu: true
bf16: false
per_device_train_batch_size: 8
num_generations: 4
"""


def test_yaml_then_command_line_overrides(tmp_path):
    recipe = write(tmp_path, BASE.format(out=tmp_path) + "learning_rate: 1.0e-4\nmax_steps: 5\nuse_peft: true\n"
                   "rewards: [format]\nreward_weights: [2.0]\nlora_target_modules: [q_proj, v_proj]\n"
                   "task_limit: null\nentropy_threshold: 0.7\n")  # fmt: skip
    args = parse_args([recipe, "--max_steps", "7", "--conflict_scope", "all"])
    training, model, explicit = args.training, args.model, args.explicit
    assert isinstance(training, GTPOConfig)
    assert training.max_steps == 7 and training.learning_rate == 1e-4  # CLI wins; YAML float kept
    assert training.conflict_scope == "all" and training.entropy_threshold == 0.7
    assert training.beta == 0.0 and training.loss_type == "grpo"
    assert model.use_peft is True and model.lora_target_modules == ["q_proj", "v_proj"]
    assert args.rewards.rewards == ["format"] and training.reward_weights == [2.0] and args.task.task_limit is None
    assert {"max_steps", "learning_rate", "conflict_scope"} <= set(explicit)


def test_flag_forms(tmp_path):
    recipe = write(tmp_path, BASE.format(out=tmp_path))
    args = parse_args([recipe, "--max_steps=4", "--use_peft", "--no_conflict_samples"])
    assert args.training.max_steps == 4 and args.model.use_peft is True and args.algorithm.conflict_samples is False


def test_config_flag_is_accepted(tmp_path):
    recipe = write(tmp_path, BASE.format(out=tmp_path))
    args = parse_args(["--config", recipe, "--seed", "3"])
    assert args.training.seed == 3 and args.model.model_name_or_path == "some/model"


def test_unknown_recipe_key_names_the_key_and_a_fix(tmp_path):
    recipe = write(tmp_path, BASE.format(out=tmp_path) + "lerning_rate: 1.0e-4\n")
    with pytest.raises(RecipeError, match="'lerning_rate'.*did you mean 'learning_rate'"):
        parse_args([recipe])


def test_unknown_option_names_the_option(tmp_path):
    recipe = write(tmp_path, BASE.format(out=tmp_path))
    with pytest.raises(RecipeError, match="--entropy_gama.*--entropy_gamma"):
        parse_args([recipe, "--entropy_gama", "0.2"])


@pytest.mark.parametrize(
    "extra, argv, field",
    [
        ("max_steps: ten\n", [], "max_steps"),
        ("", ["--learning_rate", "fast"], "learning_rate"),
        ("conflict_scope: everywhere\n", [], "conflict_scope"),
        ("", ["--algo", "ppo"], "algo"),
        ("use_peft: maybe\n", [], "use_peft"),
    ],
)
def test_wrong_type_or_choice_names_the_field(tmp_path, extra, argv, field):
    recipe = write(tmp_path, BASE.format(out=tmp_path) + extra)
    with pytest.raises(RecipeError, match=field):
        parse_args([recipe, *argv])


def test_gtpo_rejects_beta_but_grpo_baseline_accepts_it(tmp_path):
    recipe = write(tmp_path, BASE.format(out=tmp_path) + "beta: 0.04\n")
    with pytest.raises(ValueError, match="beta.*--algo grpo"):
        parse_args([recipe])
    args = parse_args([recipe, "--algo", "grpo"])
    training = args.training
    assert args.algorithm.algo == "grpo" and type(training) is GRPOConfig and training.beta == 0.04
    assert training.loss_type == "grpo"  # same per-completion normalisation as GTPO: like for like


def test_batch_not_divisible_by_group_names_the_fix(tmp_path):
    recipe = write(tmp_path, BASE.format(out=tmp_path))
    with pytest.raises(ValueError, match="per_device_train_batch_size.*multiple of num_generations=4"):
        parse_args([recipe, "--per_device_train_batch_size", "6"])


def test_main_reports_errors_and_returns_2(tmp_path, capsys):
    recipe = write(tmp_path, BASE.format(out=tmp_path) + "bogus_key: 1\n")
    assert main([recipe]) == 2
    assert "unknown recipe key 'bogus_key'" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_missing_local_model_points_to_the_command(tmp_path, capsys):
    recipe = write(tmp_path, BASE.format(out=tmp_path / "out").replace("some/model", str(tmp_path / "nope")))
    assert main([recipe, "--task_limit", "8"]) == 2
    assert "gtpo model NAME" in capsys.readouterr().err


def test_every_shipped_recipe_is_tested():
    assert {p.name for p in RECIPES.glob("*.yaml")} == {
        "tiny-cpu.yaml", "tiny-explain.yaml", "qwen2.5-3b-gsm8k.yaml", "llama3.1-8b-math.yaml", "smollm2-135m-gtpo.yaml",
        "smollm2-135m-sft.yaml", "custom-example.yaml",
    }  # fmt: skip


@pytest.mark.parametrize("path", sorted(RECIPES.glob("*.yaml")), ids=lambda p: p.name)
def test_no_shipped_recipe_uses_a_deprecated_field_name(path):
    # transformers warns (FutureWarning) on every run of a recipe that sets a field by its old name
    from gtpo.run.recipe import RENAMED

    old = sorted(set(yaml.safe_load(path.read_text())) & {name for name, _ in RENAMED})
    assert old == [], f"{path.name} sets {old}; use {[new for name, new in RENAMED if name in old]}"


@pytest.mark.parametrize("path", sorted(RECIPES.glob("*.yaml")), ids=lambda p: p.name)
def test_no_shipped_recipe_pins_a_field_that_a_variant_sets(path, tmp_path):
    # a pinned variant field would silently win over --gtpo_variant and give a hybrid
    pinned = sorted(set(yaml.safe_load(path.read_text())) & set(VARIANT_FIELDS))
    assert pinned == [], f"{path.name} pins {pinned}"
    if "sft" in path.name:
        return
    training = parse_args([str(path), "--gtpo_variant", "reference_code", "--output_dir", str(tmp_path),
                           "--use_cpu", "true", "--bf16", "false"]).training  # fmt: skip
    assert training.variant_overrides == {}
    assert {name: getattr(training, name) for name in VARIANT_FIELDS} == VARIANTS["reference_code"]


def test_an_explicit_field_against_the_variant_is_reported(tmp_path, capsys):
    recipe = write(tmp_path, BASE.format(out=tmp_path) + "entropy_threshold: 0.5\n")
    training = parse_args([recipe, "--gtpo_variant", "reference_code"]).training
    assert training.variant_overrides == {"entropy_threshold": 0.5}
    from gtpo.run.recipe import write_run_config

    write_run_config(tmp_path / "run_config.yaml", {}, training, algo="gtpo")
    saved = yaml.safe_load((tmp_path / "run_config.yaml").read_text())
    assert saved["gtpo_variant"] == {"name": "reference_code", "overrides": {"entropy_threshold": 0.5}}


def test_smollm2_recipes_parse(tmp_path):
    from gtpo.trl.sft import parse_args as parse_sft

    sections, training, model = parse_sft([str(RECIPES / "smollm2-135m-sft.yaml"), "--output_dir", str(tmp_path)])
    task = sections["task"]
    assert task.task == "arith" and task.task_options == {"max_operand": 50, "max_steps": 3, "max_value": 200}
    assert training.max_steps == 60 and model.model_name_or_path == "runs/models/smollm2-135m-instruct"
    args = parse_args([str(RECIPES / "smollm2-135m-gtpo.yaml"), "--output_dir", str(tmp_path)])
    task, training, model = args.task, args.training, args.model
    assert task.task_options == {"max_operand": 50, "max_steps": 3, "max_value": 200} and task.task_seed == 1
    assert model.model_name_or_path == "runs/smollm2-sft" and model.use_peft and model.lora_r == 16
    assert isinstance(training, GTPOConfig) and training.gtpo_variant == "paper" and training.num_generations == 8
    grpo = parse_args([str(RECIPES / "smollm2-135m-gtpo.yaml"), "--algo", "grpo"]).training
    assert type(grpo).__name__ == "GRPOConfig" and grpo.scale_rewards == "group"


@pytest.mark.parametrize("name", ["tiny-cpu.yaml", "tiny-explain.yaml", "qwen2.5-3b-gsm8k.yaml", "llama3.1-8b-math.yaml"])
def test_shipped_recipes_parse(name, tmp_path):
    args = parse_args([str(RECIPES / name), "--output_dir", str(tmp_path), "--use_cpu", "true", "--bf16", "false"])
    training, model = args.training, args.model
    assert args.algorithm.algo == "gtpo" and isinstance(training, GTPOConfig)
    if name == "tiny-explain.yaml":
        assert args.task.task == "explain" and args.task.task_options["max_operand"] == 5
        assert training.max_completion_length == 192
    if not name.startswith("tiny-"):  # the paper's setups
        assert (model.use_peft, model.lora_r, model.lora_alpha, training.num_generations) == (True, 128, 128, 8)
        assert (training.learning_rate, training.weight_decay, training.max_grad_norm) == (1e-6, 0.1, 0.1)
        assert training.lr_scheduler_type == "cosine" and training.warmup_steps == 0.005


@pytest.mark.parametrize("algo", ["gtpo", "grpo"])
@pytest.mark.parametrize("value, scale", [("true", "group"), ("false", "none")])
def test_yaml_boolean_scale_rewards_means_what_trl_says(tmp_path, algo, value, scale):
    recipe = write(tmp_path, BASE.format(out=tmp_path) + f"scale_rewards: {value}\n")
    assert parse_args([recipe, "--algo", algo]).training.scale_rewards == scale


def test_parsing_a_recipe_gives_no_deprecation_warning(tmp_path):
    import warnings

    recipe = write(tmp_path, BASE.format(out=tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        training = parse_args([recipe]).training  # TRL's default gradient_checkpointing=True, under its new name
    assert training.activation_checkpointing is True and training.gradient_checkpointing is True
    training = parse_args([recipe, "--activation_checkpointing", "false"]).training
    assert training.activation_checkpointing is False and training.gradient_checkpointing is False
