"""gtpo.tasks.prompts: the paper's system prompt, the chat prompt and the completion format."""

from __future__ import annotations

import pytest

from gtpo.tasks import SYSTEM_PROMPT, build_prompt, format_completion


def test_prompt_is_the_papers():
    assert SYSTEM_PROMPT.startswith("You are a helpful assistant for solving math problems.")
    assert "<reasoning> and </reasoning>" in SYSTEM_PROMPT and "<answer> and </answer>" in SYSTEM_PROMPT
    assert build_prompt("1+1?") == [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "1+1?"},
    ]
    with pytest.raises(ValueError, match="problem"):
        build_prompt("  ")


def test_format_completion():
    assert format_completion(" 1 + 1 = 2\n", " 2 ") == (
        "<reasoning>\n1 + 1 = 2\n</reasoning>\n<answer>\n2\n</answer>"
    )
