"""How verl's processes load gtpo: the `verl.plugins` entry point inside a Ray worker (as verl's
TaskRunner actor imports verl), and the clear error at start when verl's plugins are turned off."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

verl = pytest.importorskip("verl")  # runs in .venv-verl (`make test-verl`); skipped elsewhere
ray = pytest.importorskip("ray")


def _probe():
    @ray.remote(num_cpus=0)
    class Probe:
        """A fresh worker process; `import verl` is all it does, as verl's TaskRunner module does."""

        def loaded(self):
            from verl.trainer.ppo import core_algos, ray_trainer

            import verl  # noqa: F401

            try:
                core_algos.get_adv_estimator_fn("gtpo")  # what verl's advantage step calls
                error = None
            except ValueError as e:
                error = str(e)
            return ("gtpo" in core_algos.ADV_ESTIMATOR_REGISTRY,
                    getattr(ray_trainer.compute_advantage, "__gtpo_patched__", False),
                    "gtpo.verl" in sys.modules, error)  # fmt: skip

    return Probe


def test_the_entry_point_registers_gtpo_in_a_ray_worker_and_none_turns_it_off(local_ray):
    probe = _probe()
    assert ray.get(probe.remote().loaded.remote()) == (True, True, True, None)
    off = probe.options(runtime_env={"env_vars": {"VERL_USE_EXTERNAL_PLUGINS": "none"}}).remote()
    # verl itself would fail only at the first advantage step, after the model load and the first rollout
    assert ray.get(off.loaded.remote()) == (False, False, False, "Unknown advantage estimator simply: gtpo")
    on = probe.options(runtime_env={"env_vars": {"VERL_USE_EXTERNAL_PLUGINS": "none",
                                                 "VERL_USE_EXTERNAL_MODULES": "gtpo.verl"}}).remote()  # fmt: skip
    assert ray.get(on.loaded.remote()) == (True, True, True, None)


@pytest.mark.parametrize("env, rc", [({"VERL_USE_EXTERNAL_PLUGINS": "none"}, 1),
                                     ({"VERL_USE_EXTERNAL_PLUGINS": "none", "VERL_USE_EXTERNAL_MODULES": "gtpo.verl"}, 0)])
def test_the_start_check_refuses_an_environment_where_verl_would_not_load_gtpo(env, rc):
    # `python -m gtpo.verl` runs first in the recipe: in the training command's environment (which verl's
    # Ray workers inherit), before any model loads
    base = {k: v for k, v in os.environ.items() if not k.startswith("VERL_USE_EXTERNAL")}
    done = subprocess.run([sys.executable, "-m", "gtpo.verl"], env={**base, **env}, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == rc, done.stderr[-2000:]
    if rc:
        assert "VERL_USE_EXTERNAL_PLUGINS=none turns off gtpo's verl.plugins entry point" in done.stderr
        assert "set VERL_USE_EXTERNAL_MODULES=gtpo.verl" in done.stderr
    else:
        assert "advantage estimator 'gtpo' registered" in done.stdout
