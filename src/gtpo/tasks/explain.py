"""`explain`: offline arithmetic word problems whose reference solutions explain every step in words.

The problems are `arith`'s (a start amount, then `steps` operations +, -, optionally x, on one person's
items; the answer is a non-negative integer), but the reference solution is prose drawn from many
phrasings instead of one equation per line, so a model warm-started on it writes long completions in
which two samples for one prompt part ways within their first words, while the frame stays the
paper's (`<reasoning>...</reasoning><answer>...</answer>`). This is the regime GTPO was designed for:
tokens at the same position in a right and a wrong completion are mostly the format frame. Example::

    <reasoning>
    We need to find how many apples Mia has at the end. At first, Mia has 7 apples.
    Then she bought 5 more apples, so we add 5: 7 + 5 = 12. Now she has 12 apples.
    Next, 12 - 3 = 9, because she gave away 3 apples.
    Let me check: 9 + 3 = 12, which matches.
    So the answer is 9.
    </reasoning>
    <answer>
    9
    </answer>

Each solution draws, independently: an optional restatement of the question (`intro`), one of several
opening sentences for the start amount, per step a connector, one of four clause orders (the equation
before or after its reason), synonyms for the action and the operation, an optional restating
sentence of the new amount (`restate`), an optional checking sentence after the last step (`check`,
the inverse operation), and one of several closing sentences. Every equation is right; with
`answer_noise` > 0 that share of the solutions (a stream of its own) has the `<answer>` block
miscopied as the answer +- 1, like `arith`'s imperfect demonstrations; the `answer` column (what the
rewards and the evaluation check) is always the true value.

Train and test do not overlap: a problem's arithmetic signature (start, ops, operands) goes to the test
bucket or the train bucket by `arith.signature_split`, and each split keeps only its own bucket; the two
splits draw from different random streams. Deterministic: the same (split, n, seed, options) gives the
same rows, phrasings included.

Registered as the generated task ``explain``: `load_task("explain", split, limit=n, seed=s,
options={...})` is `build_dataset(split, n, s, explain_config(options))`; the options are fields of
`ExplainConfig`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace

from datasets import Dataset

from gtpo.tasks.arith import FRIENDS, ITEMS, NAMES, PRONOUN, signature_split
from gtpo.tasks.base import Task, options_config, problem_lines
from gtpo.tasks.prompts import build_prompt, format_completion
from gtpo.tasks.registry import register_task

SPLITS = ("train", "test")

# The question's verb (present) and the solution's (past) for each operation; {n} {item} {friend} filled in.
ACTIONS = {
    "+": (("buys {n} more {item}", "bought {n} more {item}"), ("finds {n} more {item}", "found {n} more {item}"),
          ("gets {n} {item} from {friend}", "got {n} {item} from {friend}")),
    "-": (("gives {n} {item} to {friend}", "gave {n} {item} to {friend}"), ("eats {n} {item}", "ate {n} {item}"),
          ("loses {n} {item}", "lost {n} {item}")),
    "*": (("ends up with {n} times as many {item}", "ended up with {n} times as many {item}"),
          ("multiplies the {item} by {n}", "multiplied the {item} by {n}")),
}  # fmt: skip
SYMBOL = {"+": "+", "-": "-", "*": "x"}
INVERSE = {"+": "-", "-": "+", "*": "/"}
DO_OP = {"+": ("we add {n}", "we need to add {n}", "{n} more are added"),
         "-": ("we subtract {n}", "we take away {n}", "{n} are taken away"),
         "*": ("we multiply by {n}", "the amount is multiplied by {n}", "we take {n} times as many")}  # fmt: skip
INTRO = ("We need to find how many {item} {name} has at the end.", "The question asks for the number of {item} left.",
         "Let us work it out step by step.", "We follow the {item} one step at a time.")  # fmt: skip
OPEN = ("At first, {name} has {v} {item}.", "{name} starts with {v} {item}.", "In the beginning there are {v} {item}.",
        "We start from the {v} {item} that {name} has.", "The story begins with {v} {item}.")  # fmt: skip
FIRST = ("First", "To begin", "Step one")
LATER = ("Then", "Next", "After that", "Now")
STEP = (
    "{conn}, {subj} {did}, so {do}: {eq}.",
    "{conn}, {eq}, because {subj} {did}.",
    "{conn}, {subj} {did}. That gives {eq}.",
    "Since {subj} {did}, {do}, and {eq}.",
)
RESTATE = ("Now {subj} has {v} {item}.", "That leaves {v} {item}.", "So there are {v} {item} at this point.",
           "The running total is {v}.")  # fmt: skip
CHECK = ("Let me check: {after} {inv} {n} = {before}, which matches.", "To double-check, {after} {inv} {n} gives {before} again.",
         "Checking backwards, {after} {inv} {n} = {before}, so the step is right.")  # fmt: skip
CLOSE = ("So the answer is {v}.", "Therefore {name} has {v} {item} now.", "In the end there are {v} {item}.",
         "The final number of {item} is {v}.")  # fmt: skip


@dataclass
class ExplainConfig:
    """Difficulty, size and wording of the generated problems."""

    max_operand: int = field(default=9, metadata={"help": "Largest number in a problem (start amount and each operand)."})
    min_operand: int = field(default=1, metadata={"help": "Smallest number in a problem."})
    min_steps: int = field(default=2, metadata={"help": "Fewest operations after the start amount."})
    max_steps: int = field(default=3, metadata={"help": "Most operations after the start amount."})
    ops: str = field(default="+-", metadata={"help": "Operations to draw from: any of '+', '-', '*'."})
    max_value: int = field(default=99, metadata={"help": "Largest intermediate or final value allowed."})
    intro: float = field(default=0.5, metadata={"help": "Share of solutions that open by restating the question."})
    restate: float = field(default=0.5, metadata={"help": "Chance that a step is followed by a sentence restating the new amount."})
    check: float = field(default=0.5, metadata={"help": "Share of solutions with a checking sentence (the inverse of the last step)."})
    test_percent: int = field(default=10, metadata={"help": "Share of arithmetic signatures reserved for test."})
    train_size: int = field(default=5000, metadata={"help": "Rows in the train split when n is not given."})
    test_size: int = field(default=500, metadata={"help": "Rows in the test split when n is not given."})
    answer_noise: float = field(
        default=0.0,
        metadata={"help": "Share of reference solutions (the SFT target) whose <answer> is miscopied as the answer "
                  "+- 1 while the explanation stays right. `answer`, which rewards check, is always true."},
    )  # fmt: skip

    def __post_init__(self) -> None:
        if not 0 <= self.min_operand <= self.max_operand:
            raise ValueError(f"ExplainConfig: need 0 <= min_operand <= max_operand, got {self.min_operand}, {self.max_operand}")
        if not 1 <= self.min_steps <= self.max_steps:
            raise ValueError(f"ExplainConfig: need 1 <= min_steps <= max_steps, got {self.min_steps}, {self.max_steps}")
        if not self.ops or set(self.ops) - set("+-*"):
            raise ValueError(f"ExplainConfig.ops: use a non-empty string of '+', '-', '*', got {self.ops!r}")
        if self.max_value < self.max_operand:
            raise ValueError("ExplainConfig.max_value must be >= max_operand")
        if not 1 <= self.test_percent <= 50:
            raise ValueError(f"ExplainConfig.test_percent must be in 1..50, got {self.test_percent}")
        for name in ("intro", "restate", "check", "answer_noise"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"ExplainConfig.{name} must be in [0, 1], got {getattr(self, name)}")


def explain_config(options: dict | None) -> ExplainConfig:
    """ExplainConfig(**options), with an error naming the unknown keys and the valid ones."""
    return options_config(ExplainConfig, options, "explain")


@dataclass(frozen=True)
class Step:
    """One operation: `before op n = after`, told with the question's and the solution's verb."""

    op: str
    n: int
    before: int
    after: int
    action: int  # index into ACTIONS[op]

    @property
    def equation(self) -> str:
        return f"{self.before} {SYMBOL[self.op]} {self.n} = {self.after}"


@dataclass(frozen=True)
class Problem:
    """One generated problem: its text, its steps, its answer and its explained solution."""

    question: str
    who: tuple[str, str, str]  # name, item, friend
    steps: tuple[Step, ...]
    answer: int
    signature: str  # the arithmetic chain, e.g. "7+5-3"
    reasoning: str = ""  # the explanation drawn for this problem (inside <reasoning>; `iter_problems` draws it)

    @property
    def solution(self) -> str:
        """The reference completion: the explanation in <reasoning>, the answer in <answer>."""
        return format_completion(self.reasoning, str(self.answer))

    def miscopied(self, rng: random.Random) -> str:
        """The solution with its <answer> miscopied as answer +- 1 (never negative); the explanation right."""
        shift = 1 if self.answer == 0 or rng.random() < 0.5 else -1
        return format_completion(self.reasoning, str(self.answer + shift))


def _draw_step(rng: random.Random, value: int, config: ExplainConfig) -> tuple[str, int] | None:
    """One operation applicable to `value` (result within 0..max_value); None when no op fits."""
    for op in rng.sample(config.ops, len(config.ops)):
        if op == "+":
            lo, hi = config.min_operand, min(config.max_operand, config.max_value - value)
        elif op == "-":
            lo, hi = config.min_operand, min(config.max_operand, value)
        else:
            lo, hi = max(config.min_operand, 2), min(config.max_operand, config.max_value // max(value, 1))
        if hi >= lo:
            return op, rng.randint(lo, hi)
    return None


def explain(rng: random.Random, config: ExplainConfig, name: str, item: str, friend: str, start: int,
            steps: tuple[Step, ...]) -> str:  # fmt: skip
    """One explanation of the steps, every choice of wording drawn from `rng` (one line per step)."""
    pron = PRONOUN.get(name, "He").lower()
    fill = {"name": name, "item": item}
    head = [rng.choice(INTRO).format(**fill)] if rng.random() < config.intro else []
    lines = [" ".join([*head, rng.choice(OPEN).format(v=start, **fill)])]
    for index, step in enumerate(steps):
        did = ACTIONS[step.op][step.action][1].format(n=step.n, item=item, friend=friend)
        subj = name if rng.random() < 0.3 else pron
        words = {"conn": rng.choice(FIRST if index == 0 else LATER), "subj": subj, "did": did, "eq": step.equation,
                 "do": rng.choice(DO_OP[step.op]).format(n=step.n)}  # fmt: skip
        sentence = rng.choice(STEP).format(**words)
        sentence = sentence[0].upper() + sentence[1:]
        if rng.random() < config.restate:
            sentence += " " + rng.choice(RESTATE).format(subj=pron, v=step.after, item=item)
        lines.append(sentence)
    if rng.random() < config.check:
        last = steps[-1]
        lines.append(rng.choice(CHECK).format(after=last.after, inv=INVERSE[last.op], n=last.n, before=last.before))
    lines.append(rng.choice(CLOSE).format(v=steps[-1].after, **fill))
    return "\n".join(lines)


def generate_problem(rng: random.Random, config: ExplainConfig) -> Problem:
    """One random problem (without its explanation) drawn from `rng` under `config`."""
    while True:
        value = rng.randint(max(config.min_operand, 1), config.max_operand)
        name, item, friend = rng.choice(NAMES), rng.choice(ITEMS), rng.choice(FRIENDS)
        pron = PRONOUN.get(name, "He")
        sentences, steps, signature = [f"{name} has {value} {item}."], [], str(value)
        for index in range(rng.randint(config.min_steps, config.max_steps)):
            drawn = _draw_step(rng, value, config)
            if drawn is None:
                break
            op, n = drawn
            action = rng.randrange(len(ACTIONS[op]))
            verb = ACTIONS[op][action][0].format(n=n, item=item, friend=friend)
            sentences.append(f"{pron if index == 0 else 'Then ' + pron.lower()} {verb}.")
            after = value + n if op == "+" else value - n if op == "-" else value * n
            steps.append(Step(op, n, value, after, action))
            signature += f"{op}{n}"
            value = after
        else:
            sentences.append(f"How many {item} does {name} have now?")
            return Problem(" ".join(sentences), (name, item, friend), tuple(steps), value, signature)


def iter_problems(split: str, seed: int = 0, config: ExplainConfig | None = None) -> Iterator[Problem]:
    """Endless stream of `split` problems with their explanations; the same (split, seed, config) gives the
    same stream. The explanations come from a stream of their own, so the wording knobs (intro, restate,
    check) never change which problems are drawn."""
    if split not in SPLITS:
        raise ValueError(f"explain: split must be one of {SPLITS}, got {split!r}")
    config = config or ExplainConfig()
    rng = random.Random(f"gtpo-explain/{split}/{seed}")
    words = random.Random(f"gtpo-explain-words/{split}/{seed}")
    misses = 0
    while True:
        problem = generate_problem(rng, config)
        if signature_split(problem.signature, config.test_percent) == split:
            misses = 0
            reasoning = explain(words, config, *problem.who, problem.steps[0].before, problem.steps)
            yield replace(problem, reasoning=reasoning)
        else:
            misses += 1
            if misses > 10_000:
                raise ValueError(f"explain: no {split} problems under {asdict(config)}; widen the difficulty knobs")


def build_dataset(split: str, n: int | None = None, seed: int = 0, config: ExplainConfig | None = None) -> Dataset:
    """`n` problems of `split` as a Dataset: prompt (chat messages), answer (str), id (str), solution (str)."""
    config = config or ExplainConfig()
    if n is None:
        n = config.train_size if split == "train" else config.test_size
    if n < 0:
        raise ValueError(f"explain: n must be >= 0, got {n}")
    stream = iter_problems(split, seed, config)
    noise = random.Random(f"gtpo-explain-noise/{split}/{seed}")
    rows: dict[str, list] = {"prompt": [], "answer": [], "id": [], "solution": []}
    for index in range(n):
        problem = next(stream)
        rows["prompt"].append(build_prompt(problem.question))
        rows["answer"].append(str(problem.answer))
        rows["id"].append(f"explain-{split}-{seed}-{index}")
        noisy = config.answer_noise > 0 and noise.random() < config.answer_noise
        rows["solution"].append(problem.miscopied(noise) if noisy else problem.solution)
    return Dataset.from_dict(rows)


def corpus(n: int = 2000, seed: int = 0, config: ExplainConfig | None = None) -> Iterator[str]:
    """Lines of text (questions and solutions from both splits) for training a tokenizer."""
    return problem_lines(iter_problems, SPLITS, n, seed, config)


def generate(split: str, n: int | None, seed: int, options: dict | None) -> Dataset:
    """The `explain` task's rows: `build_dataset` with `options` checked as fields of `ExplainConfig`."""
    return build_dataset(split, n=n, seed=seed, config=explain_config(options))


TASK = register_task(
    Task(
        name="explain",
        splits=SPLITS,
        generate=generate,
        options_type=ExplainConfig,
        has_solutions=True,
        description="offline multi-step arithmetic word problems with long, varied explained solutions",
    )
)
