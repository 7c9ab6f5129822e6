"""Check that the figures the README and the docs state agree with the committed JSON they come from.

A `Figure` names a doc, a piece of its text in which each `{}` stands for a number, and one source per
`{}`: a function of the repository root that computes the value from committed files (docs/img/**:
results.json, passk.json, done.json, bench_*.json, demo-search/*.json). The checker finds every
occurrence of the text in the doc (whitespace and line breaks count as one space; at least one
occurrence must exist, so a reworded sentence shows up), reads the numbers written there and compares
each with its source at the precision the doc writes: 0.018 against 0.0149 fails, 0.015 passes (half a
unit in the last written digit; a sign and thousands separators are part of the number). The figures
themselves live only in the docs and the JSON; this file says which JSON value each one states.

    .venv/bin/python benchmarks/check_docs_figures.py            # every figure; exit 1 on a mismatch
    .venv/bin/python benchmarks/check_docs_figures.py --list     # also print each checked value

tests/benchmarks/test_check_docs_figures.py runs it on the repository and on hand-made docs.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NUMBER = r"([-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|[-+]?\d+(?:\.\d+)?)"

Source = Callable[[Path], float]


@dataclass(frozen=True)
class Figure:
    """`text` of `doc` with one `{}` per number; `sources[i]` computes the i-th number from the repo root."""

    doc: str
    text: str
    sources: Sequence[Source]

    def __post_init__(self) -> None:
        if self.text.count("{}") != len(self.sources):
            raise ValueError(f"{self.doc}: {self.text!r} has {self.text.count('{}')} '{{}}' for "
                             f"{len(self.sources)} sources; give one source per number")  # fmt: skip


# ---------------------------------------------------------------- reading committed JSON
@cache
def _load(path: Path) -> object:
    return json.loads(path.read_text())  # Python's json reads the NaN that passk.json holds


def value(file: str, *keys: str | int) -> Source:
    """The number at `keys` of the JSON `file` (a list index or a dict key per step)."""

    def get(root: Path) -> float:
        node = _load(root / file)
        for key in keys:
            node = node[key]  # type: ignore[index]
        return float(node)  # type: ignore[arg-type]

    return get


def seed_values(file: str, config: str, metric: str, part: str = "heldout", window: str | None = None):
    """Per-seed values of a results.json metric (`part` heldout, or training with a `window`)."""

    def get(root: Path) -> list[float]:
        node = _load(root / file)["configs"][config][part][metric]  # type: ignore[index]
        return list(node[window]["values"] if window else node["values"])  # type: ignore[index]

    return get


def paired(file: str, a: str, b: str, metric: str = "accuracy", *, what: str = "mean") -> Source:
    """Mean or standard error over seeds of the per-seed difference a - b of a results.json metric."""

    return paired_values(seed_values(file, a, metric), seed_values(file, b, metric), what=what)


def sample_passk(pattern: str, k: int):
    """Per-run pass@k (the unbiased 1 - C(n-c, k) / C(n, k), averaged over problems) from committed
    samples.jsonl files matching the glob `pattern`, in the order of the runs' seeds (`-s<seed>-` in the path)."""

    def seed_of(path: Path) -> int:
        found = re.search(r"-s(\d+)-", str(path))
        if not found:
            raise ValueError(f"{path}: no -s<seed>- in the run folder's name")
        return int(found.group(1))

    def get(root: Path) -> list[float]:
        values = []
        for path in sorted(root.glob(pattern), key=seed_of):
            seen: dict[str, list[bool]] = {}
            for line in path.read_text().splitlines():
                if line.strip():
                    row = json.loads(line)
                    seen.setdefault(str(row["id"]), []).append(bool(row["correct"]))
            per_problem = [1 - math.comb(len(v) - sum(v), k) / math.comb(len(v), k) for v in seen.values()]
            values.append(sum(per_problem) / len(per_problem))
        if not values:
            raise ValueError(f"no file matches {pattern}")
        return values

    return get


def paired_values(a: Callable[[Path], list[float]], b: Callable[[Path], list[float]], *, what: str = "mean") -> Source:
    """Mean or standard error over seeds of the per-seed differences a - b of two value lists."""

    def get(root: Path) -> float:
        diffs = [x - y for x, y in zip(a(root), b(root), strict=True)]
        mean = sum(diffs) / len(diffs)
        if what == "mean":
            return mean
        return math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1)) / math.sqrt(len(diffs))

    return get


def count(values: Callable[[Path], list[float]], below: float) -> Source:
    """How many of the values lie below `below`."""
    return lambda root: float(sum(v < below for v in values(root)))


def count_pairs(a: Callable[[Path], list[float]], b: Callable[[Path], list[float]], sign: int) -> Source:
    """In how many seeds a - b has the given sign (-1 lower, +1 higher, 0 equal)."""
    return lambda root: float(sum((x > y) - (x < y) == sign for x, y in zip(a(root), b(root), strict=True)))


def extreme(pattern: str, key: str, which: Callable[[list[float]], float]) -> Source:
    """min or max of `key` over the JSON files matching the glob `pattern` (e.g. every done.json)."""

    def get(root: Path) -> float:
        values = [float(_load(path)[key]) for path in sorted(root.glob(pattern))]  # type: ignore[index]
        if not values:
            raise ValueError(f"no file matches {pattern}")
        return which(values)

    return get


def fisher_two_sided(a: Source, n_a: int, b: Source, n_b: int) -> Source:
    """Two-sided Fisher exact p for a successes of n_a against b of n_b (sum of tables as likely or less)."""

    def get(root: Path) -> float:
        x, y = int(a(root)), int(b(root))
        total, k = n_a + n_b, x + y

        def prob(i: int) -> float:
            return math.comb(n_a, i) * math.comb(n_b, k - i) / math.comb(total, k)

        observed = prob(x)
        return sum(p for i in range(max(0, k - n_b), min(k, n_a) + 1) if (p := prob(i)) <= observed * (1 + 1e-9))

    return get


def shift(source: Source, scale: float = 1.0, offset: float = 0.0) -> Source:
    """source * scale + offset (e.g. a share as a count of 6 seeds)."""
    return lambda root: source(root) * scale + offset


# ---------------------------------------------------------------- checking
def _number(text: str) -> tuple[float, int]:
    digits = text.replace(",", "")
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    return float(digits), decimals


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def check(figures: Sequence[Figure], root: Path = ROOT, *, verbose: bool = False) -> list[str]:
    """Problems found (empty when every figure agrees); with verbose, prints each checked value."""
    problems = []
    for fig in figures:
        path = root / fig.doc
        if not path.exists():
            problems.append(f"{fig.doc}: no such file")
            continue
        doc = _normal(path.read_text())
        pattern = re.compile(NUMBER.join(re.escape(piece) for piece in _normal(fig.text).split("{}")))
        matches = list(pattern.finditer(doc))
        if not matches:
            problems.append(f"{fig.doc}: text not found: {fig.text!r} (reworded? update the Figure)")
            continue
        try:
            expected = [source(root) for source in fig.sources]
        except (OSError, KeyError, IndexError, ValueError, TypeError) as err:
            problems.append(f"{fig.doc}: {fig.text!r}: its source cannot be read ({type(err).__name__}: {err})")
            continue
        for match in matches:
            for written, truth in zip(match.groups(), expected, strict=True):
                stated, decimals = _number(written)
                ok = abs(stated - truth) <= 0.5 * 10**-decimals + 1e-9
                if verbose:
                    print(f"{'ok ' if ok else 'BAD'} {fig.doc}: {written} (JSON {truth:.6g}) in {fig.text!r}")
                if not ok:
                    problems.append(f"{fig.doc}: {fig.text!r} states {written}, the JSON gives {truth:.6g}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="print every checked value")
    args = parser.parse_args(argv)
    from doc_figures import FIGURES  # the list of stated figures, beside this script

    problems = check(FIGURES, ROOT, verbose=args.list)
    for problem in problems:
        print(problem)
    print(f"{len(FIGURES)} figures checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
