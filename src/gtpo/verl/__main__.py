"""`python -m gtpo.verl`: check that `import verl` alone loads gtpo's estimator, as in verl's own processes.

verl imports its `verl.plugins` entry points (gtpo's among them) on `import verl`, and swallows a
plugin's import error; `VERL_USE_EXTERNAL_PLUGINS=none` (or a list without `gtpo`) turns them off, in
which case `VERL_USE_EXTERNAL_MODULES=gtpo.verl` loads it. Exit 0 when the estimator is registered and
the advantage step patched, else 1 with the reason and the fix on stderr. The environment this runs in
is what verl's Ray workers inherit, so the recipe runs it before the trainer starts.
"""

from __future__ import annotations

import os
import sys


def plugin_problem() -> str | None:
    """Why verl's own `import verl` would not load gtpo.verl in this environment, or None when it does
    (the rules of verl 0.9.1's `verl/__init__.py`: external modules, then the plugin policy)."""
    from importlib.metadata import entry_points

    from verl.trainer.ppo import core_algos, ray_trainer

    import verl

    modules = {m.strip() for m in os.getenv("VERL_USE_EXTERNAL_MODULES", "").split(",") if m.strip()}
    policy = os.getenv("VERL_USE_EXTERNAL_PLUGINS", "auto").strip().lower()
    declared = any(ep.name == "gtpo" for ep in entry_points(group="verl.plugins"))
    loads = bool(modules & {"gtpo", "gtpo.verl"}) or (
        declared and (policy == "auto" or "gtpo" in {p.strip() for p in policy.split(",")})
    )
    registered = "gtpo" in core_algos.ADV_ESTIMATOR_REGISTRY
    patched = getattr(ray_trainer.compute_advantage, "__gtpo_patched__", False)
    if loads and registered and patched:
        return None
    if not declared and not modules:
        why = "gtpo's verl.plugins entry point is not installed in this venv (`make verl` installs it)"
    elif not loads:
        why = f"VERL_USE_EXTERNAL_PLUGINS={policy} turns off gtpo's verl.plugins entry point"
    else:
        why = "gtpo.verl failed to register the estimator (import gtpo.verl to see the error)"
    return (f"verl {verl.__version__} would not load the 'gtpo' advantage estimator: {why}; set "
            "VERL_USE_EXTERNAL_MODULES=gtpo.verl (or VERL_USE_EXTERNAL_PLUGINS=auto) for the training command")  # fmt: skip


def main() -> int:
    problem = plugin_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    import verl

    print(f"verl {verl.__version__}: advantage estimator 'gtpo' registered; advantage step patched")
    return 0


if __name__ == "__main__":
    sys.exit(main())
