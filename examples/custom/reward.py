"""An example reward and grader for `recipes/custom-example.yaml`: plain functions, no gtpo import.

Rows of problems.jsonl look like {"question": "What is 7 + 7?", "target": "14", "level": 1}; the recipe
names `question` as the prompt and `target` as the answer, so `answer` below is the target text and
the `level` column reaches TRL-style reward functions as a keyword argument.
"""

import re

_NUMBER = re.compile(r"-?\d+")


def final_number(completion: str) -> str | None:
    """The last whole number in the completion (None when there is none): the answer maj@k votes with."""
    numbers = _NUMBER.findall(completion)
    return numbers[-1] if numbers else None


def score(completion: str, answer: str) -> float:
    """1.0 when the completion's last number is the answer, else 0.0 (reward and grader alike)."""
    return 1.0 if final_number(completion) == str(answer).strip() else 0.0


def short_for_easy(completions: list, level: list, **kwargs) -> list[float]:
    """TRL's batch convention: the dataset's other columns (here `level`) arrive as keyword arguments.
    Level-1 problems earn up to 1.0 for a short completion; level-2 problems are not length-scored."""
    texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
    return [1.0 / (1.0 + len(t) / 10) if lvl == 1 else 0.0 for t, lvl in zip(texts, level, strict=True)]
