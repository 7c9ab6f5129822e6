"""GTPO on verl: the "gtpo" advantage estimator for verl's stock `vanilla` PPO loss.

Use: install gtpo next to verl 0.9.1 (`make verl`), then train with verl's own entry point and
    algorithm.adv_estimator=gtpo
    actor_rollout_ref.actor.loss_agg_mode=seq-mean-token-mean
(recipes/verl/gsm8k-qwen2.5-3b.sh; docs/training.md, "GTPO on verl"). verl imports this module itself
through its `verl.plugins` entry point (set by gtpo's package metadata); `VERL_USE_EXTERNAL_MODULES=gtpo.verl`
or `import gtpo.verl` does the same where entry points are off. Importing it registers the
estimator (`gtpo.verl.estimator`) and installs the wrappers verl needs to hand the estimator the
response ids and entropies, and to check the config and handle <H>_ini when the trainer starts or
resumes (`gtpo.verl.patch`, with the upstream change that would remove the first). Only this package
imports verl.

    gtpo.verl.estimator  the estimator, its options (`algorithm.gtpo`), <H>_ini
    gtpo.verl.patch      the wrappers around verl's advantage step, start and resume
    gtpo.verl.checks     the verl settings GTPO requires
    python -m gtpo.verl  exit 1, with the fix, where `import verl` would not load the estimator
    gtpo.verl.data       task data in verl's parquet format, and the paper's rewards as verl's score
"""

import importlib.util

from gtpo.verl.patch import install

if importlib.util.find_spec("verl") is not None:  # gtpo.verl.data also serves machines without verl
    install()

__all__ = ["install"]
