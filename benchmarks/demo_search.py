"""The search behind `gtpo demo`'s defaults (issue: a demo where RL measurably improves the model).

Each configuration is one `gtpo demo` run with some options changed (the task difficulty, the warm
start, the RL budget and learning rate: the same for GTPO and GRPO; never the evaluation, whose
settings are the demo's), written to OUT/NAME/ with its demo.json. Runs are cached: a configuration
whose OUT/NAME/demo.json exists with the same options is not run again, so the search resumes and
seeds can be added. The warm starts are cached in OUT/cache (keyed by their settings).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/demo_search.py --out runs/demo-search \
        --config 'base' --config 'steps1: --arith_max_steps 1' ...

A configuration is NAME or 'NAME: --option value ...'. Prints a table of held-out accuracy (start,
GTPO, GRPO) and the paired differences with their standard errors, and writes OUT/search.json.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from gtpo.demo import main as demo_main


def parse_config(text: str) -> tuple[str, list[str]]:
    name, _, options = text.partition(":")
    return name.strip(), shlex.split(options)


def run(out: Path, name: str, options: list[str], threads: int) -> dict:
    folder = out / name
    done = folder / "demo.json"
    if done.is_file():
        data = json.loads(done.read_text())
        if data.get("search_options") == options:
            return data
    argv = ["--output_dir", str(folder), "--cache_dir", str(out / "cache"), "--threads", str(threads), *options]
    start = time.perf_counter()
    code = demo_main(argv)
    if code != 0:
        raise SystemExit(f"demo_search: {name} failed (exit {code})")
    data = json.loads(done.read_text())
    data.update(search_options=options, search_seconds=time.perf_counter() - start)
    done.write_text(json.dumps(data, indent=2) + "\n")
    return data


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="runs/demo-search")
    p.add_argument("--config", action="append", required=True, help="NAME or 'NAME: --option value ...'")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = {}
    for text in args.config:
        name, options = parse_config(text)
        data = run(out, name, options, args.threads)
        rows[name] = data
        m, d = data["models"], data["differences"]
        print(
            f"| {name} | {' '.join(options) or '(defaults)'} | {m['start']['accuracy']:.3f} | {m['gtpo']['accuracy']:.3f} "
            f"| {m['grpo']['accuracy']:.3f} | {d['gtpo-start']['mean']:+.3f} +- {d['gtpo-start']['se']:.3f} "
            f"| {d['grpo-start']['mean']:+.3f} +- {d['grpo-start']['se']:.3f} | {data['seconds']['total']:.0f} |",
            file=sys.stderr, flush=True,
        )
        (out / "search.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
