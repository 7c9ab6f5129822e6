"""Helpers shared by the gtpo.trl tests and the two-process worker: a GTPOConfig for the tiny model,
a GTPOTrainer factory, and scripted generation.

`ScriptedGeneration` replaces GRPOTrainer._generate (the sampling step only): each row of the global
generation batch gets the completion `texts[global_row % G]`, so groups hold known completions with
shared prefixes/suffixes, while TRL's own scoring, advantages, gathering and slicing run for real.
"""

from __future__ import annotations

from pathlib import Path

# Group of G = 4: rows 0 and 2 are correct (answer 2), rows 1 and 3 wrong; different lengths so the
# backward (right-aligned) conflicts differ from the forward ones.
TEXTS = (
    "<reasoning>\n1 + 1 = 2\n</reasoning>\n<answer>\n2\n</answer>",
    "<reasoning>\n1 + 1 = 3\n</reasoning>\n<answer>\n3\n</answer>",
    "<reasoning>\n2\n</reasoning>\n<answer>\n2\n</answer>",
    "<answer>\n5\n</answer>",
)


def answer_is_two(completions, **_):
    """1.0 when the completion answers 2, else 0.0 (a plain text reward)."""
    return [1.0 if "<answer>\n2\n</answer>" in c else 0.0 for c in completions]


class ScriptedGeneration:
    """Stands in for GRPOTrainer._generate: fixed prompt ids, completion `texts[global_row % len(texts)]`.

    `tool_spans` maps a text index to (start, stop) token positions that play a tool's output inside
    that completion: TRL then receives a tool mask with zeros there, as after a real tool call."""

    def __init__(self, trainer, texts=TEXTS, tool_spans=None):
        self.trainer = trainer
        tok = trainer.processing_class
        self.completions = [tok.encode(t, add_special_tokens=False) + [tok.eos_token_id] for t in texts]
        self.texts = list(texts)
        self.tool_spans = dict(tool_spans or {})

    def __call__(self, prompts):
        tok = self.trainer.processing_class
        offset = self.trainer.accelerator.process_index * len(prompts)
        prompt_ids = [tok.apply_chat_template(p, add_generation_prompt=True, tokenize=True, return_dict=False)
                      for p in prompts]  # fmt: skip
        rows = [(offset + i) % len(self.completions) for i in range(len(prompts))]
        completion_ids = [list(self.completions[r]) for r in rows]
        completions = [self.texts[r] for r in rows]
        tool_mask = None
        if self.tool_spans:
            tool_mask = [[1] * len(ids) for ids in completion_ids]
            for mask, r in zip(tool_mask, rows, strict=True):
                start, stop = self.tool_spans.get(r, (0, 0))
                mask[start:stop] = [0] * (stop - start)
        return prompt_ids, completion_ids, tool_mask, completions, None, {}, None, None


def gtpo_args(output_dir: str | Path, **overrides):
    from gtpo.trl import GTPOConfig

    settings = dict(
        output_dir=str(output_dir),
        use_cpu=True,
        bf16=False,
        activation_checkpointing=False,
        per_device_train_batch_size=8,
        num_generations=4,
        max_completion_length=24,
        temperature=1.0,
        learning_rate=1e-3,
        max_steps=3,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        seed=0,
        dataloader_num_workers=0,
    )
    settings.update(overrides)
    return GTPOConfig(**settings)


def make_trainer(model_dir, output_dir, *, reward=answer_is_two, scripted=True, **overrides):
    """A GTPOTrainer on the tiny model and 16 arith prompts; generation scripted unless scripted=False."""
    from transformers import AutoTokenizer

    from gtpo.tasks import load_task
    from gtpo.trl import GTPOTrainer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    trainer = GTPOTrainer(
        model=str(model_dir),
        reward_funcs=[reward],
        args=gtpo_args(output_dir, **overrides),
        train_dataset=load_task("arith", limit=16, seed=0),
        processing_class=tokenizer,
    )
    if scripted:
        trainer._generate = ScriptedGeneration(trainer)
    return trainer
