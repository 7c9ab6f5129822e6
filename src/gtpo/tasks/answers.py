r"""Reference final answers from each benchmark's native fields, as text.

- GSM8K: the text after the last ``####`` of the worked solution, thousands separators removed
  ("#### 1,000" -> "1000"); `gsm8k_reasoning` gives the steps before it without the calculator notes
  (the SFT target's reasoning).
- MATH: the last ``\boxed{...}`` (or ``\fbox{...}``) of the solution, nested braces matched
  (``\boxed{\frac{1}{2}}`` -> ``\frac{1}{2}``; a ``[^}]*`` regex would stop at the first ``}``).
- MATH-500: its own ``answer`` field (the boxed expression, already extracted by PRM800K).
- AIME: integers, leading zeros dropped ("025" -> "25").
- AMC: floats written as integers when whole (27.0 -> "27"), else as the shortest float text.

Each function raises `ValueError` with a short reason; `gtpo.tasks.base.row_answer` turns it into a
`RowError` and `load_task` adds the file, row and field.
"""

from __future__ import annotations

import math
import re

from gtpo.rewards.extract import last_boxed

_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_CALCULATOR = re.compile(r"<<[^<>]*>>")  # GSM8K's calculator notes, e.g. "<<48/2=24>>"


def gsm8k_reference(solution: str) -> str:
    """Final answer of a GSM8K worked solution: the text after the last ``####``."""
    if "####" not in solution:
        raise ValueError("has no '#### <final answer>' line")
    answer = _THOUSANDS.sub("", solution.rsplit("####", 1)[1].strip())
    if not answer:
        raise ValueError("is empty after '####'")
    return answer


def gsm8k_reasoning(solution: str) -> str:
    """The worked steps of a GSM8K solution: the text before the last ``####``, calculator notes
    ``<<48/2=24>>`` removed ("48/2 = <<48/2=24>>24 clips" -> "48/2 = 24 clips")."""
    if "####" not in solution:
        raise ValueError("has no '#### <final answer>' line")
    steps = _CALCULATOR.sub("", solution.rsplit("####", 1)[0]).strip()
    if not steps:
        raise ValueError("has no worked steps before '####'")
    return steps


def boxed_reference(solution: str) -> str:
    r"""Content of the last ``\boxed{...}``/``\fbox{...}`` of a MATH solution."""
    answer = last_boxed(solution)
    if answer is None:
        raise ValueError("has no complete \\boxed{...} answer")
    if not answer:
        raise ValueError("has an empty \\boxed{}")
    return answer


def integer_reference(value: object) -> str:
    """An AIME answer as a plain integer string ("025" -> "25", 25.0 -> "25")."""
    text = str(value).strip()
    try:
        number = float(text) if "." in text else int(text)
    except ValueError:
        raise ValueError(f"is not an integer: {text!r}") from None
    if isinstance(number, float):
        if not number.is_integer():
            raise ValueError(f"is not an integer: {text!r}")
        number = int(number)
    return str(number)


def float_reference(value: object) -> str:
    """An AMC answer: whole floats as integers ("27.0" -> "27"), others as repr(float) ("0.5")."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"is not a number: {text!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"is not a finite number: {text!r}")
    return str(int(number)) if number.is_integer() else repr(number)
