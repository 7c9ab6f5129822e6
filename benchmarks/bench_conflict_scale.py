"""Benchmark: memory and time of the conflict search at RL-engine batch sizes (gtpo.core).

For each size (N rows in groups of G, T positions) one fresh subprocess builds int64 ids (the shape of
`bench_conflict.make_inputs`: a shared 6-token prefix and 3-token suffix, lengths uniform in [T/2, T],
advantages +-1 and 0), runs one warm-up call on a tiny input, then times one call of:
- `conflict_tensors` (weights float32 + mask bool: what the TRL trainer needs per batch), and
- `token_advantages` (A' float32 for rows in shuffled order with group ids: what verl needs).
Peak extra memory is the growth of the peak resident set (VmHWM, reset through /proc/self/clear_refs
after malloc_trim(0)) over the resident set just before the call: outputs included. The figure to
compare with is the size of the ids tensor (N x T x 8 bytes), printed beside it.

    python benchmarks/bench_conflict_scale.py                                    # the default sizes
    python benchmarks/bench_conflict_scale.py --sizes 1024x16x8192 --threads 2  # one size
"""

from __future__ import annotations

import argparse
import ctypes
import json
import subprocess
import sys
import time

import torch
from _memory import status_kib  # benchmarks/ is on sys.path when run as a script
from bench_conflict import make_inputs

from gtpo.core import conflict_tensors, token_advantages

SIZES = ("1024x16x8192", "8192x16x16384")


def worker(args) -> None:
    torch.set_num_threads(args.threads)
    n, g, t = (int(v) for v in args.worker.split("x"))
    small = make_inputs(2 * g, g, 64, 50_000)
    ids, mask, adv = make_inputs(n, g, t, 151_936)
    if args.function == "token_advantages":
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
        ids, mask, adv = ids[perm], mask[perm], adv[perm]
        group_ids = (torch.arange(n) // g)[perm]
        entropy = torch.rand(n, t, generator=torch.Generator().manual_seed(1))

        def call(i, m, a, e, gid):
            return token_advantages(i, m, a, e, gid, initial_entropy=1.0)

        small_args = (*small, torch.rand(2 * g, 64), torch.arange(2 * g) // g)
        full_args = (ids, mask, adv, entropy, group_ids)
    else:

        def call(i, m, a, groups):
            return conflict_tensors(i, m, a, groups)

        small_args, full_args = (*small, g), (ids, mask, adv, g)
    call(*small_args)  # warm-up on a tiny input
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # give freed heap pages back, so reuse cannot hide the peak
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset the peak resident set (VmHWM) to the current RSS
    base = status_kib("VmRSS")
    start = time.perf_counter()
    result = call(*full_args)
    seconds = time.perf_counter() - start
    peak = status_kib("VmHWM") - base
    del result
    print(json.dumps({"time_s": seconds, "peak_mib": peak / 1024, "ids_mib": ids.numel() * 8 / 2**20}))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", nargs="+", default=list(SIZES), help="NxGxT, e.g. 1024x16x8192")
    p.add_argument("--functions", nargs="+", default=["conflict_tensors", "token_advantages"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--function", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return 0
    print(f"| function | N x G x T | ids MiB | peak extra MiB | peak / ids | time s | threads {args.threads} |")
    print("|---|---|---|---|---|---|---|")
    for size in args.sizes:
        for function in args.functions:
            cmd = [sys.executable, __file__, "--worker", size, "--function", function, "--threads", str(args.threads)]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                print(f"| {function} | {size} | failed: {out.stderr.strip().splitlines()[-1:]} |", flush=True)
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"| {function} | {size} | {r['ids_mib']:.0f} | {r['peak_mib']:.0f} | {r['peak_mib'] / r['ids_mib']:.2f} "
                  f"| {r['time_s']:.1f} | |", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
