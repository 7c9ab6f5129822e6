"""The `custom` task: your own prompts and answers, from any data file, folder or hub dataset.

`load_task("custom", split, source=..., options={"prompt_field": ..., "answer_field": ...,
"system_prompt": ...})`, or in a recipe ``task: custom``, ``task_source: data.jsonl``,
``prompt_field: question``, ``answer_field: target``. The source is any the registry reads
(`gtpo.tasks.registry`): a JSONL, JSON, CSV or parquet file, a `datasets.save_to_disk` folder, a folder
holding ``{split}.jsonl``, or a hub id. There is no default source.

Each native row becomes an example:
- ``prompt``: the `prompt_field` column. Text becomes one user message, after a system message when
  `system_prompt` is set. A list of chat messages (``{"role": ..., "content": ...}``, as TRL's
  conversational datasets hold them) is kept as it is; `system_prompt` is put before it unless its
  first message is already a system message.
- ``answer``: the `answer_field` column, as the source holds it (text, a number, a list, ...): what a
  reward function's or grader's ``answer`` argument receives.
- ``id``: the row's ``id`` column as text, else ``{split}-{row}`` (0-based row position).
- every other column, under its own name and value: TRL passes the dataset's columns to reward
  functions as keyword arguments, so a reward `f(completions, answer, difficulty, **kwargs)` sees them.
  The `answer_field` column stays under its own name too (a TRL-style reward may take ``target``
  or ``answer``); the `prompt_field` column is only the prompt (TRL passes no prompt column), and a
  column named prompt, answer or id that is not the one selected gives way to the example's own.
Unlike the built-in tasks there is no paper prompt and no answer format: the model sees your prompt
as it is, and your reward decides what a good completion is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gtpo.tasks.base import RowError, Task
from gtpo.tasks.registry import register_task

RESERVED = ("prompt", "answer", "id")  # columns every task example has
ROLES = ("system", "user", "assistant", "tool")


@dataclass(frozen=True)
class CustomOptions:
    """Settings of the `custom` task (documented on `gtpo.run.arguments.TaskArguments`)."""

    prompt_field: str = "prompt"
    answer_field: str = "answer"
    system_prompt: str | None = None

    def __post_init__(self) -> None:
        for name in ("prompt_field", "answer_field"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name}={value!r}: give the name of a column of your data")
        if self.prompt_field == self.answer_field:
            raise ValueError(
                f"prompt_field and answer_field are both {self.prompt_field!r}; name two columns"
            )
        if self.system_prompt is not None and not isinstance(self.system_prompt, str):
            raise ValueError(f"system_prompt={self.system_prompt!r}: must be text (or unset for none)")


def chat_prompt(value: Any, field: str, system_prompt: str | None) -> list[dict[str, str]]:
    """The chat messages of a prompt given as text or as a list of messages; RowError on `field` otherwise."""
    if isinstance(value, str):
        if not value.strip():
            raise RowError(field, "is empty")
        messages = [{"role": "user", "content": value}]
    elif isinstance(value, (list, tuple)) and value:
        messages = []
        for number, message in enumerate(value, start=1):
            if not isinstance(message, dict) or not isinstance(message.get("content"), str):
                raise RowError(field, f"message {number} is not {{'role': ..., 'content': text}}")
            if message.get("role") not in ROLES:
                raise RowError(
                    field, f"message {number} has role {message.get('role')!r}; use one of {', '.join(ROLES)}"
                )
            messages.append({"role": message["role"], "content": message["content"]})
    else:
        kind = "an empty list" if isinstance(value, (list, tuple)) else type(value).__name__
        raise RowError(field, f"is {kind}; give text or a list of chat messages {{'role', 'content'}}")
    if system_prompt is not None and messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": system_prompt})
    return messages


def convert(row: dict[str, Any], split: str, index: int, options: CustomOptions) -> dict[str, Any]:
    """One row of your data -> {prompt, answer, id, other columns...}."""
    if options.prompt_field not in row or row[options.prompt_field] is None:
        raise RowError(options.prompt_field, "is missing (prompt_field; pass --prompt_field COLUMN)")
    prompt = chat_prompt(row[options.prompt_field], options.prompt_field, options.system_prompt)
    answer = row.get(options.answer_field)
    if answer is None or (isinstance(answer, str) and not answer.strip()):
        reason = "is missing" if options.answer_field not in row else "is empty"
        raise RowError(options.answer_field, f"{reason} (answer_field; pass --answer_field COLUMN)")
    example = {
        "prompt": prompt,
        "answer": answer,
        "id": str(row["id"]) if row.get("id") is not None else f"{split}-{index}",
    }
    skip = {options.prompt_field, *RESERVED}
    example.update((key, value) for key, value in row.items() if key not in skip)
    return example


FIELDS = ("the prompt_field column (default 'prompt': text or a list of chat messages), the answer_field "
          "column (default 'answer'), optional id, any others (passed to reward functions)")  # fmt: skip

TASK = register_task(
    Task(
        name="custom",
        splits=("train", "validation", "test"),
        fields=FIELDS,
        convert=convert,
        options_type=CustomOptions,
        description="your own data: prompts and answers from a file, a save_to_disk folder or a hub id",
    )
)
