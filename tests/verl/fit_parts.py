"""Stand-ins for the GPU parts of verl 0.9.1's legacy trainer, for running `RayPPOTrainer.fit()` on CPU.

verl's rollout needs vLLM / SGLang / TRT-LLM and its workers a GPU platform (../shared/STACK.md, "verl's
trainer loop on CPU"); everything else in `fit` runs as is. Stand-ins, and only these:
- `Rollout.generate_sequences` (the async rollout manager): HF `generate` on a tiny model, scored by
  a rule on the token ids, returned with verl's DataProto keys (prompts, responses, input_ids,
  attention_mask, position_ids, response_mask, rm_scores);
- `ActorWorkers.compute_log_prob` / `update_actor` (the actor worker group): the model's log-probs and
  entropies in verl's no-padding nested layout; the update runs verl's own
  `verl.workers.utils.losses.ppo_loss` and an optimizer step; `save_checkpoint` / `load_checkpoint`
  store the model's state dict;
- `CheckpointManager`: the weight sync to the rollout, a no-op (one process shares the model).
Every call is recorded, so tests can recompute what verl handed on.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from tensordict import TensorDict
from verl.utils import tensordict_utils as tu
from verl.utils.config import omega_conf_to_dataclass
from verl.workers.utils.losses import ppo_loss
from verl.workers.utils.padding import no_padding_2_padding

from verl import DataProto


def reward_rule(response: torch.Tensor, length: int) -> float:
    """1 when most of the first `length` response ids are even, else 0 (mixed rewards in every group)."""
    ids = response[:length]
    return float((ids % 2 == 0).sum() * 2 > length)


class Rollout:
    """verl's async rollout manager, on the tiny model: left-padded prompts, right-padded responses."""

    def __init__(self, model, tokenizer, prompt_length: int, response_length: int):
        self.model, self.tokenizer = model, tokenizer
        self.prompt_length, self.response_length = prompt_length, response_length
        self.generator = torch.Generator().manual_seed(0)
        self.generated: list[torch.Tensor] = []  # each call's responses, in the order generated

    def generate_sequences(self, batch: DataProto) -> DataProto:
        tok, pad = self.tokenizer, self.tokenizer.pad_token_id
        rows = []
        for messages in batch.non_tensor_batch["raw_prompt"]:
            ids = tok.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=True)
            ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
            rows.append(list(ids)[-self.prompt_length :])
        prompts = torch.full((len(rows), self.prompt_length), pad, dtype=torch.long)
        prompt_mask = torch.zeros_like(prompts)
        for i, ids in enumerate(rows):
            prompts[i, -len(ids) :] = torch.tensor(ids)
            prompt_mask[i, -len(ids) :] = 1
        torch.manual_seed(int(torch.randint(0, 2**31, (1,), generator=self.generator)))
        with torch.no_grad():
            out = self.model.generate(input_ids=prompts, attention_mask=prompt_mask, do_sample=True,
                                      max_new_tokens=self.response_length, min_new_tokens=1,
                                      pad_token_id=pad, eos_token_id=tok.eos_token_id)  # fmt: skip
        responses = torch.full((len(rows), self.response_length), pad, dtype=torch.long)
        response_mask = torch.zeros_like(responses)
        scores = torch.zeros(len(rows), self.response_length)
        for i, seq in enumerate(out[:, self.prompt_length :]):
            seq = seq.tolist()
            length = next((k + 1 for k, t in enumerate(seq) if t == tok.eos_token_id), len(seq))
            responses[i, :length] = torch.tensor(seq[:length])
            response_mask[i, :length] = 1
            scores[i, length - 1] = reward_rule(responses[i], length)
        self.generated.append(responses.clone())
        attention_mask = torch.cat([prompt_mask, response_mask], dim=1)
        position_ids = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
        tensors = {"prompts": prompts, "responses": responses, "input_ids": torch.cat([prompts, responses], dim=1),
                   "attention_mask": attention_mask, "position_ids": position_ids, "response_mask": response_mask,
                   "rm_scores": scores}  # fmt: skip
        text_only = np.array([{} for _ in rows], dtype=object)  # the agent loop's per-row multi-modal inputs
        return DataProto.from_dict(tensors=tensors, non_tensors={"multi_modal_inputs": text_only},
                                   meta_info={"timing": {}})  # fmt: skip


class ActorWorkers:
    """verl's actor worker group (one data-parallel rank): log-probs, entropies, the PPO update."""

    def __init__(self, model, actor_config):
        self.model = model
        self.config = omega_conf_to_dataclass(actor_config)
        self.optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
        self._dispatch_info = {"actor": [0]}
        self.log_prob_calls: list[dict] = []
        self.update_calls: list[dict] = []

    def _query_dispatch_info(self, role):
        return [0]

    def _forward(self, data: TensorDict) -> tuple[torch.Tensor, torch.Tensor]:
        """(total_nnz,) log-prob of each next token and entropy at each position (verl's nested layout:
        position j scores token j + 1 of the same sequence; the last position of each scores nothing)."""
        ids = data["input_ids"]  # nested (B, j): each sequence without its padding
        seqs = ids.unbind()
        lengths = [len(seq) for seq in seqs]
        batch = torch.nn.utils.rnn.pad_sequence(list(seqs), batch_first=True)  # (B, L) right-padded
        mask = torch.arange(batch.shape[1]).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)  # (B, L)
        logp_all = torch.log_softmax(self.model(input_ids=batch, attention_mask=mask.long()).logits.float(), dim=-1)
        nxt = torch.cat([batch[:, 1:], batch[:, :1]], dim=1)  # (B, L) the next token (wraps at the end)
        logps = logp_all.gather(2, nxt.unsqueeze(2)).squeeze(2)  # (B, L)
        entropy = -(logp_all.exp() * logp_all).sum(-1)  # (B, L)
        offsets = ids.offsets()
        return (torch.nested.nested_tensor_from_jagged(logps[mask], offsets=offsets),
                torch.nested.nested_tensor_from_jagged(entropy[mask], offsets=offsets))  # fmt: skip

    def compute_log_prob(self, data: TensorDict) -> TensorDict:
        with torch.no_grad():
            logps, entropy = self._forward(data)
        self.log_prob_calls.append({"entropy": no_padding_2_padding(entropy, data).clone()})
        out = TensorDict({"log_probs": logps, "entropy": entropy}, batch_size=[])
        tu.assign_non_tensor(out, metrics={"mfu": 0.0})
        return out

    def update_actor(self, data: TensorDict) -> TensorDict:
        logps, _ = self._forward(data)
        n = data["response_mask"].shape[0]
        tu.assign_non_tensor(data, dp_size=1, batch_num_tokens=None, global_batch_size=None)
        loss, metrics = ppo_loss(self.config, {"log_probs": logps}, data)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.update_calls.append({"loss": float(loss), "rows": n, "advantages": data["advantages"].clone()})
        out = TensorDict({}, batch_size=[])
        tu.assign_non_tensor(out, metrics={"mfu": 0.0, "pg_loss": [float(loss)]})
        return out

    def save_checkpoint(self, local_path, hdfs_path=None, global_step=0, max_ckpt_to_keep=None):
        os.makedirs(local_path, exist_ok=True)
        torch.save(self.model.state_dict(), os.path.join(local_path, "model.pt"))

    def load_checkpoint(self, local_path, del_local_after_load=False):
        self.model.load_state_dict(torch.load(os.path.join(local_path, "model.pt")))


class CheckpointManager:
    """verl's weight sync between trainer and rollout: one process shares the model, nothing to do."""

    def update_weights(self, global_steps):
        pass

    def sleep_replicas(self):
        pass


def write_prompts(path: str, n: int) -> None:
    """n arithmetic prompts as verl's parquet rows (data_source, prompt, reward_model, extra_info)."""
    import pandas as pd

    rows = [{"data_source": "arith", "prompt": [{"role": "user", "content": f"What is {i} + {i + 1}?"}],
             "reward_model": {"style": "rule", "ground_truth": str(2 * i + 1)}, "extra_info": {"index": i}}
            for i in range(n)]  # fmt: skip
    pd.DataFrame(rows).to_parquet(path)


def uid_array(values) -> np.ndarray:
    return np.array(list(values), dtype=object)
