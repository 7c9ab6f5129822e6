"""gtpo.demo.tiny: the offline tokenizer (digits, ordinary format tags, chat template) and tiny model folder."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from gtpo.demo.tiny import BUILD_INFO, FORMAT_TAGS, build_tokenizer, make_tiny_checkpoint

CANONICAL = "<reasoning>\n8 + 4 = 12\n12 - 3 = 9\n</reasoning>\n<answer>\n9\n</answer>"


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_loaded_tokenizer_encodes_like_the_built_one(tokenizer):
    # AutoTokenizer rebuilds the pipeline (Qwen2Tokenizer); it must match what was trained.
    built = build_tokenizer(seed=0)
    assert len(tokenizer) == len(built)
    for text in [CANONICAL, "Tom has 123 apples, 45.", "ünïcode \n\n  x <answer>7</answer>"]:
        assert tokenizer(text)["input_ids"] == built(text)["input_ids"]


def test_digits_are_one_token_each(tokenizer):
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("Tom has 1234 coins")["input_ids"])
    assert [t for t in tokens if any(c.isdigit() for c in t)] == ["1", "2", "3", "4"]


def test_format_tags_are_single_ordinary_tokens(tokenizer):
    for tag in FORMAT_TAGS:
        ids = tokenizer(tag)["input_ids"]
        assert len(ids) == 1
        assert ids[0] not in tokenizer.all_special_ids
    # skip_special_tokens keeps the tags and drops the eos: TRL decodes completions this way.
    ids = tokenizer(CANONICAL + tokenizer.eos_token)["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == CANONICAL


def test_special_tokens(tokenizer):
    assert tokenizer.pad_token_id is not None and tokenizer.eos_token_id is not None
    assert tokenizer.bos_token_id is not None
    assert tokenizer.pad_token_id != tokenizer.eos_token_id
    assert tokenizer.eos_token == "<|im_end|>"


def test_chat_template_generation_prompt_is_a_prefix(tokenizer):
    prompt = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2 + 3?"}]
    text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    assert (
        text
        == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2 + 3?<|im_end|>\n<|im_start|>assistant\n"
    )
    full = prompt + [{"role": "assistant", "content": CANONICAL}]
    prompt_ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, return_dict=True)[
        "input_ids"
    ]
    full_ids = tokenizer.apply_chat_template(full, return_dict=True)["input_ids"]
    assert full_ids[: len(prompt_ids)] == prompt_ids
    with pytest.raises(Exception, match="role must be"):
        tokenizer.apply_chat_template([{"role": "tool", "content": "x"}], tokenize=False)


def test_model_loads_offline_and_generates(tiny_model_dir, tokenizer):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    n_params = sum(p.numel() for p in model.parameters())
    assert 0.5e6 < n_params < 1.5e6  # hidden 128, 4 layers, tied embeddings: about 0.9 M
    assert model.config.vocab_size == len(tokenizer)
    assert model.config.tie_word_embeddings
    assert model.generation_config.eos_token_id == tokenizer.eos_token_id
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "1 + 1?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    out = model.generate(**ids, max_new_tokens=5, do_sample=False)
    assert out.shape[1] <= ids["input_ids"].shape[1] + 5


def test_checkpoint_is_deterministic_cached_and_checks_settings(tmp_path, tiny_model_dir):
    a = make_tiny_checkpoint(tmp_path / "a", seed=0)
    b = make_tiny_checkpoint(tmp_path / "b", seed=0, num_hidden_layers=2)
    model_a = AutoModelForCausalLM.from_pretrained(a)
    model_ref = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    for (name, pa), (_, pr) in zip(model_a.named_parameters(), model_ref.named_parameters(), strict=True):
        assert torch.equal(pa, pr), name
    assert AutoModelForCausalLM.from_pretrained(b).config.num_hidden_layers == 2
    # Cached: same settings return at once without rewriting; other settings are refused.
    stamp = (a / "model.safetensors").stat().st_mtime_ns
    assert make_tiny_checkpoint(a, seed=0) == a
    assert (a / "model.safetensors").stat().st_mtime_ns == stamp
    assert json.loads((a / BUILD_INFO).read_text())["seed"] == 0
    with pytest.raises(FileExistsError, match="other settings"):
        make_tiny_checkpoint(a, seed=1)
    with pytest.raises(TypeError, match="unknown size field"):
        make_tiny_checkpoint(tmp_path / "c", hidden=64)
    with pytest.raises(ValueError, match="divisible"):
        make_tiny_checkpoint(tmp_path / "d", hidden_size=100, num_attention_heads=3)
    assert not (tmp_path / "d").exists()


def test_a_tokenizer_learned_on_explain_text(tmp_path, tiny_model_dir):
    explain = make_tiny_checkpoint(tmp_path / "e", seed=0, corpus_task="explain")
    words = " bought more apples, so we add"
    arith_tok, explain_tok = AutoTokenizer.from_pretrained(tiny_model_dir), AutoTokenizer.from_pretrained(explain)
    # The explain tokenizer knows the explanations' words (one token each); the arith one spells them out.
    assert len(explain_tok(words)["input_ids"]) == 7 < len(arith_tok(words)["input_ids"])
    for tag in FORMAT_TAGS:
        assert len(explain_tok(tag)["input_ids"]) == 1
    assert json.loads((explain / BUILD_INFO).read_text())["corpus_task"] == "explain"
    # The default (arith) records no corpus_task, as before the field existed: older folders stay valid.
    assert "corpus_task" not in json.loads((tiny_model_dir / BUILD_INFO).read_text())
    with pytest.raises(ValueError, match="corpus_task"):
        make_tiny_checkpoint(tmp_path / "x", seed=0, corpus_task="gsm8k")
