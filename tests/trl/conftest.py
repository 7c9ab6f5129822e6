"""Fixtures for the gtpo.trl tests (helpers in trl_helpers.py)."""

from __future__ import annotations

import pytest

from tests.trl.trl_helpers import make_trainer


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
