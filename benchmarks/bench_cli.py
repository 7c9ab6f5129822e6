"""Wall time of the `gtpo` command's answers that import no training stack: `gtpo --help`, `gtpo train --help`
and `gtpo train --foo` (an unknown option, exit 2), each run as a fresh process, median of `--repeats` runs.

The recipe commands answer help and unknown options from a cached description of their options
(`gtpo.run.options`); `--cold` first empties the cache folder, so the first call of each command also shows
the slow build that happens once after an install or an edit. The machine's load average (`uptime`) is
printed before and after: the figures depend on it.

    python benchmarks/bench_cli.py [--repeats 7] [--cold]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = {
    "gtpo --help": (["--help"], 0),
    "gtpo train --help": (["train", "--help"], 0),
    "gtpo train --foo": (["train", "--foo"], 2),
}


def gtpo_command() -> list[str]:
    """The console script beside this Python, or `python -m gtpo.cli`."""
    script = Path(sys.executable).with_name("gtpo")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "gtpo.cli"]


def time_call(argv: list[str], expected: int, env: dict[str, str]) -> float:
    """Seconds of one fresh `gtpo argv` process; its exit status must be `expected`."""
    start = time.perf_counter()
    done = subprocess.run([*gtpo_command(), *argv], capture_output=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != expected:
        raise SystemExit(f"gtpo {' '.join(argv)} exited {done.returncode}, expected {expected}: {done.stderr.decode()}")
    return seconds


def measure(repeats: int, cache_home: str, cold: bool) -> dict[str, dict[str, float]]:
    """{case: {"first": s, "median": s, "max": s}} over `repeats` warm runs (after the first call)."""
    env = {**os.environ, "XDG_CACHE_HOME": cache_home}
    if cold:
        shutil.rmtree(Path(cache_home) / "gtpo" / "cli", ignore_errors=True)
    results = {}
    for name, (argv, expected) in CASES.items():
        first = time_call(argv, expected, env)
        runs = [time_call(argv, expected, env) for _ in range(repeats)]
        results[name] = {"first": first, "median": statistics.median(runs), "max": max(runs)}
    return results


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="warm runs per case (the median is reported)")
    parser.add_argument("--cold", action="store_true", help="empty the option cache first (a fresh temporary one)")
    args = parser.parse_args(argv)
    print(f"before: {uptime()}")
    with tempfile.TemporaryDirectory() as fresh:
        cache_home = fresh if args.cold else os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))
        results = measure(args.repeats, cache_home, args.cold)
    print(f"after:  {uptime()}")
    print(f"| command | first call (s) | median of {args.repeats} (s) | max (s) |")
    print("|---|---|---|---|")
    for name, row in results.items():
        print(f"| `{name}` | {row['first']:.2f} | {row['median']:.2f} | {row['max']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
