"""GTPO variants: named sets of defaults for the options where the paper and the authors' code differ.

    paper           the paper's formula (the default)
    reference_code  what the authors' code computes: advantages R - mean (no std division), the
                    entropy filter always on at 0.7, forward x backward conflict weights, and each
                    completion divided by the reference code's conflict count

A variant only supplies defaults: an option given explicitly wins, and the engine reports each such
override (docs/algorithm.md, "Variants"). Every option name is the engine-neutral keyword of
`gtpo.core` and the field name of `GTPOConfig`; the values come from each option's vocabulary
(`SCALES`, `FILTER_MODES`, `COMBINES`, `COUNTS`). Pure data: imports nothing but the vocabularies.
"""

from __future__ import annotations

import math

from .advantages import SCALES
from .conflict import COMBINES, COUNTS
from .entropy import FILTER_MODES

PAPER_THRESHOLD = math.log(2)  # tau of the paper, ln 2 nats
REFERENCE_CODE_THRESHOLD = 0.7  # tau of the authors' code

VARIANTS: dict[str, dict[str, object]] = {
    "paper": {
        "scale_rewards": "group", "entropy_filter": "auto", "entropy_threshold": PAPER_THRESHOLD,
        "conflict_combine": "union", "normalize_by_conflicts": False, "conflict_count": "exact",
    },
    "reference_code": {
        "scale_rewards": "none", "entropy_filter": "always", "entropy_threshold": REFERENCE_CODE_THRESHOLD,
        "conflict_combine": "product", "normalize_by_conflicts": True, "conflict_count": "reference_code",
    },
}  # fmt: skip
VARIANT_FIELDS = tuple(VARIANTS["paper"])  # the options a variant sets

_VOCABULARIES = {"scale_rewards": SCALES, "entropy_filter": FILTER_MODES, "conflict_combine": COMBINES,
                 "conflict_count": COUNTS}  # fmt: skip
for _name, _preset in VARIANTS.items():  # a preset is checked against the vocabularies at import
    assert tuple(_preset) == VARIANT_FIELDS, _name
    assert all(_preset[k] in v for k, v in _VOCABULARIES.items()), _name


def variant_defaults(name: str) -> dict[str, object]:
    """The defaults of variant `name` (a copy); ValueError naming the variants otherwise."""
    if name not in VARIANTS:
        raise ValueError(f"gtpo_variant={name!r}: unknown variant; use one of {', '.join(VARIANTS)}")
    return dict(VARIANTS[name])
