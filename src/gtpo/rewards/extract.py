"""Answer extraction and the paper's format score (spec "Rewards used in the paper").

The completion format the paper trains for (the tags are ordinary text)::

    <reasoning>
    ...steps...
    </reasoning>
    <answer>
    42
    </answer>

`extract_answer(text)` returns the stripped content of the LAST ``<answer>...</answer>`` block: the
last ``</answer>`` and the last ``<answer>`` before it. Only `str.rfind`/`str.find` are used, so a
megabyte of hostile text costs linear time and no regex backtracking.

`format_reward(text)` (0..10). The spec says: "10 if both a <reasoning>...</reasoning> block and an
<answer>...</answer> block ending the completion are present; otherwise partial credit (1 per correct
block, 1.5 if stray tags of the other block appear)". Our exact reading:

- a *reasoning block* is ``<reasoning>`` followed later by ``</reasoning>``;
- an *answer block* is ``<answer>`` followed later by ``</answer>``; it *ends the completion* when
  the last ``</answer>`` is followed only by whitespace and end-of-sequence markers
  (``<|im_end|>``, ``<|endoftext|>``, ``<|eot_id|>``, ``</s>``, ``<eos>`` ... any ``<|...|>``);
- 10.0 if a reasoning block is present, the last answer block ends the completion, and the blocks
  are well formed: each of the four tags appears exactly once, in the order ``<reasoning>``,
  ``</reasoning>``, ``<answer>``, ``</answer>`` (so ``<reasoning><answer>\n</reasoning>\n</answer>``,
  interleaved, is two blocks and scores 2.0, not the format; a policy trained at a high learning
  rate found and exploited that completion when it scored 10);
- otherwise 1.0 per complete block (a complete answer block that does not end the completion still
  counts 1), so 2.0 when both blocks exist but text follows the answer;
- 1.5 instead of 1.0 when exactly one block is complete and a stray tag of the other block appears
  (e.g. a complete reasoning block plus an unclosed ``<answer>``);
- 0.0 when no block is complete, whatever tags appear.

The reachable values are therefore {0, 1, 1.5, 2, 10}. Departure: the authors' code is not consulted
(licence); this is our documented reading of the paper's sentence.
"""

from __future__ import annotations

import re

REASONING_OPEN, REASONING_CLOSE = "<reasoning>", "</reasoning>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
FULL_SCORE = 10.0  # the full score of each of the paper's rewards (format and correctness)

# Whitespace and end-of-sequence markers allowed after the final </answer>.
_TRAILER = re.compile(r"(?:\s|<\|[^|<>\s]{1,40}\|>|</s>|<eos>|<end_of_turn>)*")


def extract_answer(text: str) -> str | None:
    """Stripped content of the last ``<answer>...</answer>`` block, or None if there is none."""
    if not isinstance(text, str):
        return None
    close = text.rfind(ANSWER_CLOSE)
    if close < 0:
        return None
    open_ = text.rfind(ANSWER_OPEN, 0, close)
    if open_ < 0:
        return None
    return text[open_ + len(ANSWER_OPEN) : close].strip()


def _has_block(text: str, open_tag: str, close_tag: str) -> bool:
    start = text.find(open_tag)
    return start >= 0 and text.find(close_tag, start + len(open_tag)) >= 0


def answer_ends_completion(text: str) -> bool:
    """True if the last ``</answer>`` closes a block and only whitespace/EOS markers follow it."""
    close = text.rfind(ANSWER_CLOSE)
    if close < 0 or text.rfind(ANSWER_OPEN, 0, close) < 0:
        return False
    tail = text[close + len(ANSWER_CLOSE) :]
    return _TRAILER.fullmatch(tail) is not None


def _blocks_in_order(text: str) -> bool:
    """Each of the four tags exactly once, in the order reasoning open/close, answer open/close."""
    tags = (REASONING_OPEN, REASONING_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)
    if any(text.count(tag) != 1 for tag in tags):
        return False
    positions = [text.find(tag) for tag in tags]
    return positions == sorted(positions)


def format_reward(text: str) -> float:
    """The paper's format score in {0, 1, 1.5, 2, 10}; see the module docstring for the exact rules."""
    if not isinstance(text, str):
        return 0.0
    reasoning = _has_block(text, REASONING_OPEN, REASONING_CLOSE)
    answer = _has_block(text, ANSWER_OPEN, ANSWER_CLOSE)
    if reasoning and answer and answer_ends_completion(text) and _blocks_in_order(text):
        return FULL_SCORE
    score = float(reasoning) + float(answer)
    if score == 1.0:
        other = (ANSWER_OPEN, ANSWER_CLOSE) if reasoning else (REASONING_OPEN, REASONING_CLOSE)
        if any(tag in text for tag in other):
            score = 1.5
    return score


def _brace_group(text: str, start: int) -> tuple[str, int] | None:
    """Content of the ``{...}`` group opening at ``text[start] == "{"`` and the index after it."""
    depth = 0
    for i in range(start, len(text)):
        ch = text[i]
        escaped = i > 0 and text[i - 1] == "\\"  # \{ and \} are literal braces, not groups
        if ch == "{" and not escaped:
            depth += 1
        elif ch == "}" and not escaped:
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
    return None


def last_boxed(text: str) -> str | None:
    r"""Content of the last ``\boxed{...}`` or ``\fbox{...}`` with nested braces matched.

    Also accepts the brace-less form ``\boxed 5`` (content up to the next ``$`` or whitespace).
    Returns None when there is no box or its braces never close.
    """
    best = -1
    name = ""
    for macro in ("\\boxed", "\\fbox"):
        idx = text.rfind(macro)
        if idx > best:
            best, name = idx, macro
    if best < 0:
        return None
    rest = best + len(name)
    if rest < len(text) and text[rest] == "{":
        group = _brace_group(text, rest)
        return None if group is None else group[0].strip()
    if rest < len(text) and text[rest] == " ":
        match = re.match(r" +([^\s$]+)", text[rest:])
        return match.group(1) if match else None
    return None
