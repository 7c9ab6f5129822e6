"""Benchmark: gtpo.core.conflict_weights against a bincount-over-(position x vocab) implementation
written the way the GTPO authors' code finds conflicts (spec section 2, "Cost note").

Both methods compute the same weights (checked on a small case before timing). For each method and
length T, one fresh Python subprocess builds the inputs, runs one warm-up call, then times `--repeats`
calls (median reported; the bincount method, whose single call takes seconds, is warmed up on a tiny
input only and timed `--bincount-repeats` times). Peak memory is the growth of the process's peak resident set during the
timed calls: the peak (VmHWM) is reset by writing "5" to /proc/self/clear_refs after the warm-up,
and the figure is VmHWM - VmRSS measured just before the timed calls, after malloc_trim(0) has
returned the warm-up's freed heap pages to the system (Linux, glibc only). tracemalloc does
not see torch's allocations; RSS does, at page granularity (so figures below ~1 MiB are noise-level).

Inputs: N completions in groups of G, token ids uniform over the vocabulary except a shared 6-token
prefix and 3-token suffix (the format tags and EOS the conflicts are about), lengths uniform in
[T/2, T], advantages +/-1 and some 0, pad id = EOS id.

    python benchmarks/bench_conflict.py                      # T = 512 2048, N = 64, G = 8, V = 151936
    python benchmarks/bench_conflict.py --lengths 512 --repeats 1   # quick
    python benchmarks/bench_conflict.py --lengths 8192 --max-bincount-gib 24   # allow the huge case
"""

from __future__ import annotations

import argparse
import ctypes
import json
import statistics
import subprocess
import sys
import time

import torch
from _memory import status_kib  # benchmarks/ is on sys.path when run as a script

from gtpo.core import conflict_weights

EOS = 2


def make_inputs(n: int, g: int, t: int, vocab: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (n, t), generator=gen)  # (N, T)
    lengths = torch.randint(t // 2, t + 1, (n,), generator=gen).clamp(min=10)  # (N,)
    steps = torch.arange(t).unsqueeze(0)  # (1, T)
    mask = steps < lengths.unsqueeze(1)  # (N, T)
    ids[:, :6] = torch.tensor([100, 101, 102, 103, 104, 105])  # shared "<reasoning>" prefix
    for k, tok in enumerate((200, 201, EOS)):  # shared "</answer> ... <eos>" suffix, right-aligned
        ids.scatter_(1, (lengths - 3 + k).clamp(max=t - 1).unsqueeze(1), tok)
    ids = torch.where(mask, ids, torch.full_like(ids, EOS))  # pad id = EOS id
    adv = torch.randint(-1, 2, (n,), generator=gen).float()  # (N,) in {-1, 0, 1}
    adv[0::g] = 1.0  # every group has both signs
    adv[1::g] = -1.0
    return ids, mask.long(), adv


def bincount_weights(ids, mask, adv, group_size, vocab, *, scope="prefix_suffix", positive_weight=2.0):
    """The authors' way: per group, count (position * V + token) of the positive and of the negative
    completions with torch.bincount (two arrays of T * V int64), then look each token up.
    Forward and backward (right-aligned) alignments; union; prefix/suffix runs by cumulative product."""
    n, t = ids.shape
    valid = mask.bool()
    lengths = valid.sum(1, keepdim=True)  # (N, 1)
    steps = torch.arange(t).unsqueeze(0)  # (1, T)
    back_idx = (lengths - 1 - steps).clamp(min=0)  # (N, T)
    back_valid = steps < lengths  # (N, T)
    conflicts = torch.zeros(n, t, dtype=torch.bool)
    for g0 in range(0, n, group_size):  # one group at a time, as the reference trainer sees them
        rows = slice(g0, g0 + group_size)
        a = adv[rows].unsqueeze(1)  # (G, 1)
        found = []
        for d_ids, d_valid in ((ids[rows], valid[rows]), (ids[rows].gather(1, back_idx[rows]), back_valid[rows])):
            key = steps * vocab + d_ids  # (G, T) position * V + token
            count_pos = torch.bincount(key[d_valid & (a > 0)], minlength=t * vocab)  # (T * V,) int64
            count_neg = torch.bincount(key[d_valid & (a < 0)], minlength=t * vocab)  # (T * V,) int64
            raw = (count_pos[key] > 0) & (count_neg[key] > 0) & d_valid & (a != 0)  # (G, T)
            del count_pos, count_neg
            if scope == "prefix_suffix":
                raw = raw.to(torch.uint8).cumprod(1).bool()
            found.append(raw)
        fwd, bwd = found
        bwd = bwd.gather(1, back_idx[rows]) & valid[rows]
        conflicts[rows] = fwd | bwd
    weights = valid.float()
    weights[conflicts & (adv.unsqueeze(1) > 0)] = positive_weight
    weights[conflicts & (adv.unsqueeze(1) < 0)] = 0.0
    return weights


def worker(args) -> None:
    torch.set_num_threads(args.threads)
    ids, mask, adv = make_inputs(args.n, args.group_size, args.worker_t, args.vocab)
    if args.worker == "vectorised":
        def call():
            return conflict_weights(ids, mask, adv, args.group_size)
    else:
        def call():
            return bincount_weights(ids, mask, adv, args.group_size, args.vocab)
    if args.worker == "vectorised":
        call()  # warm-up
    else:  # a full warm-up costs as much as a measurement: warm the code path on a tiny input instead
        small = make_inputs(args.group_size, args.group_size, 16, args.vocab)
        bincount_weights(*small, args.group_size, args.vocab)
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # give freed heap pages back, so reuse cannot hide the peak
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset the peak resident set (VmHWM) to the current RSS
    base = status_kib("VmRSS")
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    peak = status_kib("VmHWM") - base
    print(json.dumps({"time_s": statistics.median(times), "peak_mib": peak / 1024}))


def measure(method: str, t: int, args) -> dict:
    cmd = [sys.executable, __file__, "--worker", method, "--worker-t", str(t), "--n", str(args.n),
           "--group-size", str(args.group_size), "--vocab", str(args.vocab),
           "--repeats", str(args.repeats if method == "vectorised" else args.bincount_repeats),
           "--threads", str(args.threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def check_equal(args) -> None:
    ids, mask, adv = make_inputs(16, 8, 64, 50, seed=1)
    ids = ids % 7  # tiny vocabulary so that many raw conflicts happen
    mask = mask.clone()
    mask[3] = 0  # an empty completion
    ids = torch.where(mask.bool(), ids, torch.full_like(ids, EOS))
    for scope in ("prefix_suffix", "all"):
        a = conflict_weights(ids, mask, adv, 8, scope=scope)
        b = bincount_weights(ids, mask, adv, 8, 7, scope=scope)
        if not torch.equal(a, b):
            raise SystemExit(f"methods disagree (scope={scope}): benchmark aborted")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[512, 2048], help="completion lengths T")
    parser.add_argument("--n", type=int, default=64, help="completions N (multiple of --group-size)")
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--vocab", type=int, default=151_936, help="vocabulary size (Qwen2.5: 151,936)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per measurement (median)")
    parser.add_argument("--bincount-repeats", type=int, default=1, help="timed calls of the bincount method")
    parser.add_argument("--threads", type=int, default=1, help="torch threads in each measurement")
    parser.add_argument("--max-bincount-gib", type=float, default=8.0,
                        help="skip the bincount method when its two count arrays (2 * T * V * 8 bytes) exceed this")
    parser.add_argument("--worker", choices=["vectorised", "bincount"], help=argparse.SUPPRESS)
    parser.add_argument("--worker-t", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    check_equal(args)
    print(f"conflict_weights, N={args.n} G={args.group_size} V={args.vocab} threads={args.threads} "
          f"repeats={args.repeats}/{args.bincount_repeats} (median time; peak = RSS growth during the timed calls)")
    print(f"{'T':>6} {'vectorised s':>13} {'MiB':>8} {'bincount s':>11} {'MiB':>9} {'speed-up':>9} {'memory':>8}")
    for t in args.lengths:
        vec = measure("vectorised", t, args)
        need_gib = 2 * t * args.vocab * 8 / 2**30
        if need_gib > args.max_bincount_gib:
            print(f"{t:>6} {vec['time_s']:>13.4f} {vec['peak_mib']:>8.1f}   bincount skipped: its counts need "
                  f"{need_gib:.1f} GiB > --max-bincount-gib {args.max_bincount_gib}")
            continue
        ref = measure("bincount", t, args)
        speed = ref["time_s"] / vec["time_s"]
        memory = ref["peak_mib"] / max(vec["peak_mib"], 0.25)  # floor: RSS resolution
        print(f"{t:>6} {vec['time_s']:>13.4f} {vec['peak_mib']:>8.1f} {ref['time_s']:>11.3f} "
              f"{ref['peak_mib']:>9.1f} {speed:>8.0f}x {memory:>7.0f}x")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
