"""Variants: named defaults drawn from the core vocabularies."""

from __future__ import annotations

import math

import pytest

from gtpo.core import COMBINES, COUNTS, FILTER_MODES, SCALES, VARIANT_FIELDS, VARIANTS, variant_defaults


def test_each_variant_sets_every_field_from_its_vocabulary():
    vocabularies = {"scale_rewards": SCALES, "entropy_filter": FILTER_MODES, "conflict_combine": COMBINES,
                    "conflict_count": COUNTS}  # fmt: skip
    for name, preset in VARIANTS.items():
        assert tuple(preset) == VARIANT_FIELDS, name
        assert all(preset[field] in values for field, values in vocabularies.items()), name
    assert VARIANTS["paper"]["entropy_threshold"] == math.log(2)  # tau = ln 2 nats
    assert VARIANTS["reference_code"]["entropy_threshold"] == 0.7


def test_variant_defaults_is_a_copy_and_names_the_variants():
    defaults = variant_defaults("paper")
    defaults["entropy_filter"] = "off"
    assert VARIANTS["paper"]["entropy_filter"] == "auto"
    with pytest.raises(ValueError, match="paper, reference_code"):
        variant_defaults("authors")
