"""Sampling backends for the evaluation runner: Hugging Face `generate` and vLLM.

Both take tokenised prompts (the chat template is applied once by the runner, without adding
special tokens twice) and a batch seed, and return one `Completion` per prompt.

- `HFSampler`: one `model.generate` call per batch with the KV cache. Prompts are left-padded by
  hand with the tokenizer's pad id (the eos id when the tokenizer has no pad token), so the
  tokenizer is never mutated. Sampling is set by temperature / top_p only: top_k, min_p,
  typical_p and repetition_penalty from the checkpoint's generation config are switched off, so
  every checkpoint is sampled the same way (vLLM's defaults). temperature == 0 is greedy decoding.
  The global torch RNG is seeded with the batch seed before the call: the same batch gives the same
  completions (bit-exact on CPU; on GPU up to kernel nondeterminism).
- `VLLMSampler`: `vllm.LLM.generate` with one `SamplingParams(seed=...)` per prompt (seeds derived
  from the batch seed and the row), token-id prompts. Used when vLLM is importable and a CUDA GPU
  is present (`--backend auto`), or on request (`--backend vllm`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass
class Completion:
    """One sampled completion: decoded text (special tokens skipped), generated token count
    (eos included), and whether it stopped at max_new_tokens instead of an eos token."""

    text: str
    num_tokens: int
    truncated: bool


def derive_seed(*parts: int) -> int:
    """A 31-bit seed that depends on every part (numpy SeedSequence hashing)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0] & 0x7FFFFFFF)


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if eos is None:
        eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("neither the model's generation config nor the tokenizer defines an eos token id")
    return [int(e) for e in (eos if isinstance(eos, (list, tuple)) else [eos])]


class HFSampler:
    """Batched sampling with `transformers` `generate` (see module docstring)."""

    def __init__(self, model: Any, tokenizer: Any):
        self.model = model
        self.tokenizer = tokenizer
        self.eos_ids = _eos_ids(model, tokenizer)
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else self.eos_ids[0])

    @torch.inference_mode()
    def generate(
        self,
        prompts: list[list[int]],
        *,
        temperature: float,
        top_p: float,
        max_new_tokens: int,
        seed: int,
    ) -> list[Completion]:
        width = max(len(p) for p in prompts)
        device = self.model.device
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)  # (B, P) left-padded
        mask = torch.zeros((len(prompts), width), dtype=torch.long)  # (B, P)
        for row, prompt in enumerate(prompts):
            ids[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
            mask[row, width - len(prompt) :] = 1
        config = copy.deepcopy(self.model.generation_config)
        sampling = temperature > 0
        config.update(
            do_sample=sampling,
            temperature=temperature if sampling else None,
            top_p=top_p if sampling else None,
            top_k=None,
            min_p=None,
            typical_p=None,
            repetition_penalty=None,
            num_beams=1,
            num_return_sequences=1,
            max_new_tokens=max_new_tokens,
            max_length=None,
            pad_token_id=self.pad_id,
            eos_token_id=self.eos_ids,
            use_cache=True,
        )
        training = self.model.training  # eval mode (no dropout) while sampling; the caller's mode is kept
        self.model.eval()
        torch.manual_seed(seed)
        try:
            out = self.model.generate(
                input_ids=ids.to(device), attention_mask=mask.to(device), generation_config=config
            )
        finally:
            self.model.train(training)
        new = out[:, width:].cpu()  # (B, T) generated tokens, pad after eos
        is_eos = torch.isin(new, torch.tensor(self.eos_ids))  # (B, T)
        results = []
        for row in range(len(prompts)):
            hits = torch.nonzero(is_eos[row]).flatten()
            stop = int(hits[0]) + 1 if len(hits) else new.shape[1]
            tokens = new[row, :stop].tolist()
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            results.append(Completion(text=text, num_tokens=stop, truncated=not len(hits)))
        return results


class VLLMSampler:
    """Sampling with vLLM (optional dependency; see module docstring)."""

    def __init__(self, model_path: str, *, dtype: str, seed: int, max_model_len: int | None = None):
        try:
            from vllm import LLM
        except ImportError as err:  # pragma: no cover - depends on the optional extra
            raise ImportError(
                "--backend vllm needs the optional vLLM extra: pip install 'gtpo[vllm]' (GPU only)"
            ) from err
        kwargs: dict[str, Any] = {"model": model_path, "seed": seed, "dtype": dtype}
        if max_model_len is not None:
            kwargs["max_model_len"] = max_model_len
        self.llm = LLM(**kwargs)

    def generate(
        self,
        prompts: list[list[int]],
        *,
        temperature: float,
        top_p: float,
        max_new_tokens: int,
        seed: int,
    ) -> list[Completion]:  # pragma: no cover - needs a GPU and vLLM
        from vllm import SamplingParams

        params = [
            SamplingParams(
                n=1,
                temperature=temperature,
                top_p=top_p if temperature > 0 else 1.0,
                max_tokens=max_new_tokens,
                seed=derive_seed(seed, row),
                skip_special_tokens=True,
            )
            for row in range(len(prompts))
        ]
        requests = [{"prompt_token_ids": list(p)} for p in prompts]
        outputs = self.llm.generate(requests, params, use_tqdm=False)
        results = []
        for output in outputs:
            best = output.outputs[0]
            results.append(
                Completion(
                    text=best.text, num_tokens=len(best.token_ids), truncated=best.finish_reason == "length"
                )
            )
        return results
