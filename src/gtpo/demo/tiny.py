"""A tiny offline tokenizer and causal LM for tests and the demo (no hub access, a few seconds on CPU).

Tokenizer: byte-level BPE trained with the `tokenizers` library on a synthetic corpus (the
questions and solutions of `arith`, or of `explain` with `corpus_task="explain"`, the paper's system prompt, the chat-template words). Digits are split one
per token. The format tags `<reasoning>`, `</reasoning>`, `<answer>`, `</answer>` are ORDINARY added
tokens (special=False): each is one token, and TRL's `skip_special_tokens=True` decoding keeps them,
so the format reward can see them. Special tokens: `<|pad|>` (pad), `<|bos|>` (bos, never added
automatically), `<|im_start|>`, `<|im_end|>` (eos, ends every chat message) and `<|endoftext|>`
(unk, never produced: every byte has a token); pad != eos. The normalizer (NFC), pre-tokenizer
(Qwen2's regex, which also splits digits) and decoder are Qwen2's, because `AutoTokenizer` loads the
saved folder as `Qwen2Tokenizer`, which rebuilds exactly that pipeline from the vocabulary and merges.

Chat template (ChatML): each message is `<|im_start|>ROLE\\nCONTENT<|im_end|>\\n` for the roles
system, user and assistant; `add_generation_prompt` appends `<|im_start|>assistant\\n`. A prompt
rendered with the generation prompt is a token prefix of the same prompt plus its answer, which
TRL's completion-only SFT loss relies on.

Model: `Qwen2ForCausalLM` with tied embeddings (hidden 128, 4 layers, 4 heads: about 0.9 M
parameters by default), randomly initialised from `seed`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from gtpo.run.io import staged_folder

FORMAT_TAGS = ("<reasoning>", "</reasoning>", "<answer>", "</answer>")
PAD, BOS, IM_START, IM_END, UNK = "<|pad|>", "<|bos|>", "<|im_start|>", "<|im_end|>", "<|endoftext|>"
SPECIAL_TOKENS = (PAD, BOS, IM_START, IM_END, UNK)
# Qwen2's pre-tokenizer regex: `AutoTokenizer` loads a qwen2 checkpoint's tokenizer as `Qwen2Tokenizer`,
# which rebuilds its pipeline from this regex, so the tokenizer is trained with exactly the same one.
# `\p{N}` alone splits digits one per token.
PRETOKENIZE_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
BUILD_INFO = "gtpo_tiny.json"

CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] not in ['system', 'user', 'assistant'] -%}"
    "{{ raise_exception('tiny chat template: role must be system, user or assistant, got ' + message['role']) }}"
    "{%- endif -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)


@dataclass
class TinySize:
    """Sizes of the tiny tokenizer and model."""

    vocab_size: int = 600  # BPE vocabulary target (bytes + merges + special tokens); the tags come on top
    hidden_size: int = 128
    intermediate_size: int = 384
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    max_position_embeddings: int = 512
    corpus_problems: int = 4000  # problems in the tokenizer's training corpus
    corpus_task: str = "arith"  # the generated task whose questions and solutions the tokenizer learns (arith, explain)


CORPUS_TASKS = ("arith", "explain")


def _corpus(seed: int, problems: int, task: str = "arith") -> list[str]:
    from gtpo.tasks import arith, explain
    from gtpo.tasks.prompts import SYSTEM_PROMPT

    if task not in CORPUS_TASKS:
        raise ValueError(f"tiny: corpus_task must be one of {CORPUS_TASKS}, got {task!r}")
    lines = list({"arith": arith, "explain": explain}[task].corpus(problems, seed=seed))
    lines += [SYSTEM_PROMPT] * 200
    lines += ["system", "user", "assistant", "system\n", "user\n", "assistant\n"] * 200
    return lines


def build_tokenizer(*, seed: int = 0, vocab_size: int = 600, corpus_problems: int = 4000, corpus_task: str = "arith"):
    """A `PreTrainedTokenizerFast` as described in the module docstring (deterministic given seed)."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    if vocab_size < 256 + len(SPECIAL_TOKENS) + 1:
        raise ValueError(f"tiny: vocab_size must exceed 260 (256 bytes + special tokens), got {vocab_size}")
    backend = Tokenizer(models.BPE())
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(_corpus(seed, corpus_problems, corpus_task), trainer)
    backend.add_tokens([AddedToken(tag, special=False, normalized=False) for tag in FORMAT_TAGS])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token=PAD,
        bos_token=BOS,
        eos_token=IM_END,
        unk_token=UNK,
        model_max_length=512,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_model(tokenizer, *, seed: int = 0, size: TinySize | None = None):
    """A randomly initialised tiny `Qwen2ForCausalLM` matching `tokenizer` (deterministic given seed)."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    size = size or TinySize()
    if size.hidden_size % size.num_attention_heads:
        raise ValueError(
            f"tiny: hidden_size ({size.hidden_size}) must be divisible by num_attention_heads "
            f"({size.num_attention_heads})"
        )
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=size.hidden_size,
        intermediate_size=size.intermediate_size,
        num_hidden_layers=size.num_hidden_layers,
        num_attention_heads=size.num_attention_heads,
        num_key_value_heads=size.num_attention_heads,
        max_position_embeddings=size.max_position_embeddings,
        tie_word_embeddings=True,
        use_sliding_window=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return model


def make_tiny_checkpoint(path: str | os.PathLike, *, seed: int = 0, **size) -> Path:
    """Write a tokenizer and a randomly initialised tiny model to `path`; return `path`.

    `size` takes the fields of `TinySize`. The folder loads offline with
    `AutoTokenizer.from_pretrained(path)` and `AutoModelForCausalLM.from_pretrained(path)`.
    Cached: when `path` already holds a checkpoint built with the same seed and sizes, nothing is
    rebuilt. The folder is written to a temporary sibling and renamed into place (atomic).
    """
    unknown = set(size) - set(TinySize.__dataclass_fields__)
    if unknown:
        raise TypeError(
            f"make_tiny_checkpoint: unknown size field(s) {sorted(unknown)}; use {list(asdict(TinySize()))}"
        )
    spec = TinySize(**size)
    info = {"seed": seed, **asdict(spec)}
    if spec.corpus_task == "arith":  # the default: recorded as before the field existed, so older folders stay valid
        del info["corpus_task"]
    path = Path(path)
    info_file = path / BUILD_INFO
    if info_file.is_file():
        if json.loads(info_file.read_text()) == info:
            return path
        raise FileExistsError(
            f"make_tiny_checkpoint: {path} holds a tiny checkpoint built with other settings "
            f"({info_file.read_text().strip()}); remove the folder or pick another path"
        )
    if path.exists() and any(path.iterdir()):
        raise FileExistsError(
            f"make_tiny_checkpoint: {path} exists and is not empty; pick an empty or new folder"
        )
    with staged_folder(path) as staging:
        tokenizer = build_tokenizer(
            seed=seed, vocab_size=spec.vocab_size, corpus_problems=spec.corpus_problems, corpus_task=spec.corpus_task
        )
        model = build_model(tokenizer, seed=seed, size=spec)
        tokenizer.save_pretrained(staging)
        model.save_pretrained(staging)
        (staging / BUILD_INFO).write_text(json.dumps(info, indent=2) + "\n")
    return path
