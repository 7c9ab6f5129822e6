"""Fixtures for the gtpo.trl tests (helpers in trl_helpers.py)."""

from __future__ import annotations

import pytest

from tests.trl.trl_helpers import make_trainer

RECIPE = """
output_dir: {out}
use_cpu: true
bf16: false
per_device_train_batch_size: 8
num_generations: 4
task_limit: 8
max_steps: 1
report_to: none
"""  # a one-step tiny recipe for the bad-input tests; RECIPE.format(out=...) + a model_name_or_path line


@pytest.fixture
def recipe(tmp_path, tiny_model_dir):
    """A recipe file of RECIPE on the tiny model, writing to tmp_path/out."""
    path = tmp_path / "recipe.yaml"
    path.write_text(RECIPE.format(out=tmp_path / "out") + f"model_name_or_path: {tiny_model_dir}\n")
    return str(path)


@pytest.fixture
def scripted_trainer(tiny_model_dir, tmp_path):
    trainer = make_trainer(tiny_model_dir, tmp_path / "run")
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train() at each optimizer step
    return trainer


@pytest.fixture
def generation_inputs():
    """Two prompts x G = 4 rows, as TRL's sampler hands them to _generate_and_score_completions."""
    from gtpo.tasks import load_task

    rows = list(load_task("arith", limit=2, seed=0))
    return [rows[0]] * 4 + [rows[1]] * 4
