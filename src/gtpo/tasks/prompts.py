"""The paper's system prompt (spec "Rewards used in the paper") and the chat prompt built from it."""

from __future__ import annotations

SYSTEM_PROMPT = (
    "You are a helpful assistant for solving math problems. Given a question, first think step by "
    "step between <reasoning> and </reasoning>. Then, give the final answer between <answer> and "
    "</answer>."
)


def build_prompt(problem: str, system_prompt: str = SYSTEM_PROMPT) -> list[dict[str, str]]:
    """Chat messages ``[system, user]`` for one problem (the problem text is not edited)."""
    if not isinstance(problem, str) or not problem.strip():
        raise ValueError("problem must be a non-empty string")
    return [{"role": "system", "content": system_prompt}, {"role": "user", "content": problem}]


def format_completion(reasoning: str, answer: str) -> str:
    """A completion in the paper's answer format (what the format reward scores 10 and SFT trains on):
    ``<reasoning>\\nREASONING\\n</reasoning>\\n<answer>\\nANSWER\\n</answer>``."""
    return f"<reasoning>\n{reasoning.strip()}\n</reasoning>\n<answer>\n{answer.strip()}\n</answer>"
