"""gtpo.tasks.answers: reference final answers from each benchmark's native fields."""

from __future__ import annotations

import pytest

from gtpo.tasks import boxed_reference, float_reference, gsm8k_reference, integer_reference


def test_reference_helpers():
    assert gsm8k_reference("a\nb #### 1,000") == "1000"
    assert gsm8k_reference("x #### 12,345,678") == "12345678"
    assert gsm8k_reference("#### -3") == "-3"
    with pytest.raises(ValueError, match="####"):
        gsm8k_reference("no marker 5")
    assert boxed_reference(r"\boxed{\frac{1}{2}}") == r"\frac{1}{2}"
    with pytest.raises(ValueError, match="empty"):
        boxed_reference(r"\boxed{}")
    assert integer_reference("025") == "25"
    assert integer_reference(73) == "73"
    assert integer_reference("7.0") == "7"
    with pytest.raises(ValueError, match="integer"):
        integer_reference("7.5")
    assert float_reference(27.0) == "27"
    assert float_reference("-1.0") == "-1"
    assert float_reference(0.5) == "0.5"
    with pytest.raises(ValueError, match="number"):
        float_reference("abc")
