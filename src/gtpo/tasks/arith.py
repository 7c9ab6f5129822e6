"""`arith`: offline, seedable multi-step arithmetic word problems in GSM8K style.

A problem is a short story about one person and one kind of item: a start amount, then `steps`
operations (buy/find/get = +, give/eat/lose = -, optionally "boxes of" = x), then the question
"How many ... now?". The answer is a non-negative integer. The reference solution (for the SFT warm
start) writes one equation per step between the paper's tags:

    <reasoning>
    7 + 5 = 12
    12 - 3 = 9
    </reasoning>
    <answer>
    9
    </answer>

Train and test do not overlap: every problem has an arithmetic signature (start, ops, operands);
a stable hash of it puts the signature in the test bucket (`test_percent` of all signatures) or the
train bucket, and each split only keeps problems from its own bucket. The two splits also draw from
different random streams, so a test problem's arithmetic chain never appears in training.

Registered as the generated task ``arith``: `load_task("arith", split, limit=n, seed=s, options={...})`
is `build_dataset(split, n, s, arith_config(options))`; the options are fields of `ArithConfig`.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

from datasets import Dataset

from gtpo.tasks.base import Task, options_config, problem_lines
from gtpo.tasks.base import parse_options as parse_options  # re-exported: gtpo.tasks.arith.parse_options
from gtpo.tasks.prompts import build_prompt, format_completion
from gtpo.tasks.registry import register_task

SPLITS = ("train", "test")

NAMES = ("Mia", "Tom", "Ana", "Ben", "Lily", "Sam", "Zoe", "Max", "Eva", "Leo", "Nora", "Omar")
PRONOUN = {"Mia": "She", "Ana": "She", "Lily": "She", "Zoe": "She", "Eva": "She", "Nora": "She"}
ITEMS = ("apples", "marbles", "stickers", "books", "coins", "cookies", "pencils", "shells")
FRIENDS = ("a friend", "a cousin", "a neighbor", "the teacher", "a classmate")
ADD_VERBS = ("buys {n} more {item}", "finds {n} more {item}", "gets {n} {item} from {friend}")
SUB_VERBS = ("gives {n} {item} to {friend}", "eats {n} {item}", "loses {n} {item}")
MUL_VERBS = ("ends up with {n} times as many {item}", "multiplies the {item} by {n}")


@dataclass
class ArithConfig:
    """Difficulty and size of the generated problems."""

    max_operand: int = field(
        default=9, metadata={"help": "Largest number in a problem (start amount and each operand)."}
    )
    min_operand: int = field(default=1, metadata={"help": "Smallest number in a problem."})
    min_steps: int = field(default=1, metadata={"help": "Fewest operations after the start amount."})
    max_steps: int = field(default=2, metadata={"help": "Most operations after the start amount."})
    ops: str = field(default="+-", metadata={"help": "Operations to draw from: any of '+', '-', '*'."})
    max_value: int = field(default=99, metadata={"help": "Largest intermediate or final value allowed."})
    test_percent: int = field(
        default=10, metadata={"help": "Share of arithmetic signatures reserved for test."}
    )
    train_size: int = field(default=5000, metadata={"help": "Rows in the train split when n is not given."})
    test_size: int = field(default=500, metadata={"help": "Rows in the test split when n is not given."})
    answer_noise: float = field(
        default=0.0,
        metadata={"help": "Share of reference solutions (the `solution` column, the SFT target) whose final "
                  "answer is miscopied as the last result +- 1 while the equations stay right: imperfect "
                  "demonstrations. `answer`, which rewards and evaluation check, is always the true value."},
    )

    def __post_init__(self) -> None:
        if not 0 <= self.min_operand <= self.max_operand:
            raise ValueError(
                f"ArithConfig: need 0 <= min_operand <= max_operand, got {self.min_operand}, {self.max_operand}"
            )
        if not 1 <= self.min_steps <= self.max_steps:
            raise ValueError(
                f"ArithConfig: need 1 <= min_steps <= max_steps, got {self.min_steps}, {self.max_steps}"
            )
        if not self.ops or set(self.ops) - set("+-*"):
            raise ValueError(f"ArithConfig.ops: use a non-empty string of '+', '-', '*', got {self.ops!r}")
        if self.max_value < self.max_operand:
            raise ValueError("ArithConfig.max_value must be >= max_operand")
        if not 1 <= self.test_percent <= 50:
            raise ValueError(f"ArithConfig.test_percent must be in 1..50, got {self.test_percent}")
        if not 0.0 <= self.answer_noise <= 1.0:
            raise ValueError(f"ArithConfig.answer_noise must be in [0, 1], got {self.answer_noise}")


def arith_config(options: dict | None) -> ArithConfig:
    """ArithConfig(**options), with an error naming the unknown keys and the valid ones."""
    return options_config(ArithConfig, options, "arith")


@dataclass(frozen=True)
class Problem:
    """One generated problem: its text, its equations and its answer."""

    question: str
    equations: tuple[str, ...]  # "7 + 5 = 12", one per step
    answer: int
    signature: str  # the arithmetic chain, e.g. "7+5-3"

    @property
    def solution(self) -> str:
        """The canonical completion: equations in <reasoning>, the answer in <answer>."""
        return format_completion("\n".join(self.equations), str(self.answer))

    def miscopied(self, rng: random.Random) -> str:
        """The solution with its final answer miscopied as answer +- 1 (never negative); equations right."""
        shift = 1 if self.answer == 0 or rng.random() < 0.5 else -1
        return format_completion("\n".join(self.equations), str(self.answer + shift))


def signature_split(signature: str, test_percent: int) -> str:
    """'test' or 'train' for an arithmetic signature; stable across processes and Python versions."""
    bucket = int.from_bytes(hashlib.sha256(signature.encode()).digest()[:8], "big") % 100
    return "test" if bucket < test_percent else "train"


def _step(rng: random.Random, value: int, config: ArithConfig) -> tuple[str, int] | None:
    """Draw one operation applicable to `value`; None when no drawn op keeps the value in range."""
    for op in rng.sample(config.ops, len(config.ops)):
        if op == "+":
            hi = min(config.max_operand, config.max_value - value)
            if hi >= config.min_operand:
                return op, rng.randint(config.min_operand, hi)
        elif op == "-":
            hi = min(config.max_operand, value)
            if hi >= config.min_operand:
                return op, rng.randint(config.min_operand, hi)
        else:
            lo = max(config.min_operand, 2)
            hi = min(config.max_operand, config.max_value // max(value, 1))
            if hi >= lo:
                return op, rng.randint(lo, hi)
    return None


def _apply(value: int, op: str, n: int) -> int:
    return value + n if op == "+" else value - n if op == "-" else value * n


def generate_problem(rng: random.Random, config: ArithConfig) -> Problem:
    """One random problem drawn from `rng` under `config`."""
    while True:
        value = rng.randint(max(config.min_operand, 1), config.max_operand)
        name, item, friend = rng.choice(NAMES), rng.choice(ITEMS), rng.choice(FRIENDS)
        pron = PRONOUN.get(name, "He")
        sentences = [f"{name} has {value} {item}."]
        equations: list[str] = []
        signature = str(value)
        ok = True
        for index in range(rng.randint(config.min_steps, config.max_steps)):
            drawn = _step(rng, value, config)
            if drawn is None:
                ok = False
                break
            op, n = drawn
            verbs = ADD_VERBS if op == "+" else SUB_VERBS if op == "-" else MUL_VERBS
            verb = rng.choice(verbs).format(n=n, item=item, friend=friend)
            lead = pron if index == 0 else f"Then {pron.lower()}"
            sentences.append(f"{lead} {verb}.")
            new = _apply(value, op, n)
            equations.append(f"{value} {op.replace('*', 'x')} {n} = {new}")
            signature += f"{op}{n}"
            value = new
        if ok:
            sentences.append(f"How many {item} does {name} have now?")
            return Problem(" ".join(sentences), tuple(equations), value, signature)


def iter_problems(split: str, seed: int = 0, config: ArithConfig | None = None) -> Iterator[Problem]:
    """Endless stream of `split` problems; the same (split, seed, config) gives the same stream."""
    if split not in SPLITS:
        raise ValueError(f"arith: split must be one of {SPLITS}, got {split!r}")
    config = config or ArithConfig()
    rng = random.Random(f"gtpo-arith/{split}/{seed}")
    misses = 0
    while True:
        problem = generate_problem(rng, config)
        if signature_split(problem.signature, config.test_percent) == split:
            misses = 0
            yield problem
        else:
            misses += 1
            if misses > 10_000:
                raise ValueError(
                    f"arith: no {split} problems under {asdict(config)}; widen the difficulty knobs"
                )


def build_dataset(
    split: str, n: int | None = None, seed: int = 0, config: ArithConfig | None = None
) -> Dataset:
    """`n` problems of `split` as a Dataset: prompt (chat messages), answer (str), id (str), solution (str).

    `solution` is the canonical completion used by the SFT warm start (see `reference_completion`);
    with `config.answer_noise` > 0 that share of rows, drawn from a stream of its own (the problems are
    the same as without noise), has its final answer miscopied (`Problem.miscopied`).
    """
    config = config or ArithConfig()
    if n is None:
        n = config.train_size if split == "train" else config.test_size
    if n < 0:
        raise ValueError(f"arith: n must be >= 0, got {n}")
    stream = iter_problems(split, seed, config)
    noise = random.Random(f"gtpo-arith-noise/{split}/{seed}")
    rows: dict[str, list] = {"prompt": [], "answer": [], "id": [], "solution": []}
    for index in range(n):
        problem = next(stream)
        rows["prompt"].append(build_prompt(problem.question))
        rows["answer"].append(str(problem.answer))
        rows["id"].append(f"arith-{split}-{seed}-{index}")
        noisy = config.answer_noise > 0 and noise.random() < config.answer_noise
        rows["solution"].append(problem.miscopied(noise) if noisy else problem.solution)
    return Dataset.from_dict(rows)


def reference_completion(row: dict) -> str:
    """The canonical completion for a dataset row (its `solution` column)."""
    if "solution" not in row:
        raise KeyError(
            "reference_completion: the row has no 'solution' column; build it with arith.build_dataset"
        )
    return row["solution"]


def corpus(n: int = 2000, seed: int = 0, config: ArithConfig | None = None) -> Iterator[str]:
    """Lines of text (questions and solutions from both splits) for training a tokenizer."""
    return problem_lines(iter_problems, SPLITS, n, seed, config)


def generate(split: str, n: int | None, seed: int, options: dict | None) -> Dataset:
    """The `arith` task's rows: `build_dataset` with `options` checked as fields of `ArithConfig`."""
    return build_dataset(split, n=n, seed=seed, config=arith_config(options))


TASK = register_task(
    Task(
        name="arith",
        splits=SPLITS,
        generate=generate,
        options_type=ArithConfig,
        has_solutions=True,
        description="offline multi-step arithmetic word problems, seeded, with reference solutions",
    )
)
