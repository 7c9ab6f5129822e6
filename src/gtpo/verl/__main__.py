"""`python -m gtpo.verl`: check that verl loads gtpo's estimator (verl ignores a plugin that fails to import)."""

from __future__ import annotations

import sys


def main() -> int:
    from verl.trainer.ppo import core_algos, ray_trainer

    import gtpo.verl  # noqa: F401  (raises here if the plugin cannot load)
    import verl  # noqa: F401  (loads the verl.plugins entry points, gtpo.verl among them)

    registered = "gtpo" in core_algos.ADV_ESTIMATOR_REGISTRY
    patched = getattr(ray_trainer.compute_advantage, "__gtpo_patched__", False)
    print(f"verl {verl.__version__}: advantage estimator 'gtpo' registered: {registered}; advantage step patched: {patched}")
    return 0 if registered and patched else 1


if __name__ == "__main__":
    sys.exit(main())
