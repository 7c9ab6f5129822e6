"""Benchmark: the GTPO loss step against the GRPO loss step on identical full-vocabulary logits.

One step = log_softmax over the logits, gather of the sampled tokens' log-probs, then the loss and
backward to the logits. GTPO additionally runs token_entropy (chunked, no grad) on the same logits and
conflict_weights on the token ids. Every measurement runs in a fresh Python subprocess that builds the
float32 logits (a leaf with requires_grad) and the inputs. Time: one process makes a warm-up step of
each method, then `--repeats` rounds of one GRPO and one GTPO step (order alternating), median per
method, so that load from other processes hits both alike. Memory: one process per method makes a
warm-up step, drops the gradient, calls malloc_trim(0) to return freed heap pages, writes "5" to
/proc/self/clear_refs to reset the peak resident set (VmHWM), makes one step, and reports
VmHWM - VmRSS-before-the-step (so the logits themselves are not counted; Linux, glibc only).

Micro-batches (`NxT:M`): a trainer rarely holds the logits of a whole group at once; it runs the
forward/backward over micro-batches of M completions and accumulates gradients. Then the conflict
weights are computed once over the whole group of N (they need every completion of the group), and
the log_softmax + entropy + loss + backward runs N/M times on (M, T, V) logits, each micro-batch's
loss scaled by M/N, gradients accumulating in one (M, T, V) leaf (standing in for the parameters'
gradients). Time and peak memory are per optimizer step over all N completions.

    python benchmarks/bench_loss.py                           # (N, T) = (4, 512) and (1, 2048), V = 151936
    python benchmarks/bench_loss.py --cases 16x512:4 16x2048:1   # N = 16 in micro-batches of 4 / 1
    python benchmarks/bench_loss.py --cases 16x512 16x2048    # whole group at once (~18.5 / 74 GiB of RAM)
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

from gtpo.core import conflict_weights, group_advantages, grpo_loss, gtpo_loss, token_entropy


def worker(args) -> None:
    torch.set_num_threads(args.threads)
    n, t, v, m = args.worker_n, args.worker_t, args.vocab, args.worker_m
    gen = torch.Generator().manual_seed(0)
    logits = (torch.randn(m, t, v, generator=gen) * 2).requires_grad_(True)  # (M, T, V) float32, one micro-batch
    ids = torch.randint(0, v, (n, t), generator=gen)  # (N, T)
    ids[:, :4] = torch.tensor([10, 11, 12, 13])  # a shared prefix, so conflicts exist
    lengths = torch.randint(t // 2, t + 1, (n,), generator=gen)
    mask = (torch.arange(t).unsqueeze(0) < lengths.unsqueeze(1)).long()  # (N, T)
    rewards = torch.arange(n, dtype=torch.float32) % 3  # (N,)
    advantages = group_advantages(rewards, n)  # one group of N

    def step(method: str) -> float:
        """One optimizer step's loss part over N rows in micro-batches of M; returns the seconds
        spent in token_entropy (0 for GRPO)."""
        logits.grad = None
        spent = 0.0
        weights = conflict_weights(ids, mask, advantages, n) if method == "gtpo" else None  # (N, T), whole group
        for lo in range(0, n, m):
            rows = slice(lo, lo + m)
            logps = torch.log_softmax(logits, dim=-1).gather(-1, ids[rows].unsqueeze(-1)).squeeze(-1)  # (M, T)
            if method == "gtpo":
                start = time.perf_counter()
                entropy = token_entropy(logits)  # (M, T), no grad
                spent += time.perf_counter() - start
                loss, _ = gtpo_loss(logps, advantages[rows], mask[rows], weights[rows], entropy, initial_entropy=100.0)
            else:
                loss, _ = grpo_loss(logps, advantages[rows], mask[rows])
            (loss * (m / n)).backward()  # gradients accumulate over the micro-batches
        return spent

    if args.worker == "time":  # both methods in one process, alternating, so load changes hit both
        step("grpo"), step("gtpo")  # warm-up
        times: dict[str, list[float]] = {"grpo": [], "gtpo": [], "entropy": []}
        for r in range(args.repeats):
            for method in ("grpo", "gtpo") if r % 2 == 0 else ("gtpo", "grpo"):
                start = time.perf_counter()
                spent = step(method)
                times[method].append(time.perf_counter() - start)
                if method == "gtpo":
                    times["entropy"].append(spent)
        print(json.dumps({key: statistics.median(value) for key, value in times.items()}))
        return
    step(args.worker)  # warm-up
    logits.grad = None
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset VmHWM to the current RSS
    base = status_kib("VmRSS")
    step(args.worker)
    peak = status_kib("VmHWM") - base
    print(json.dumps({"peak_mib": peak / 1024, "logits_mib": logits.numel() * 4 / 2**20}))


def measure(method: str, n: int, t: int, m: int, args) -> dict:
    cmd = [sys.executable, __file__, "--worker", method, "--worker-n", str(n), "--worker-t", str(t), "--worker-m", str(m),
           "--vocab", str(args.vocab), "--repeats", str(args.repeats), "--threads", str(args.threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=["4x512", "1x2048"],
                        help="NxT or NxT:M cases (N completions in one group, micro-batches of M; default M = N)")
    parser.add_argument("--vocab", type=int, default=151_936)
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (one step of each method) per case; median")
    parser.add_argument("--threads", type=int, default=1, help="torch threads in each measurement")
    parser.add_argument("--worker", choices=["gtpo", "grpo", "time"], help=argparse.SUPPRESS)
    parser.add_argument("--worker-n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker-t", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker-m", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    print(f"loss step (log_softmax + gather + loss + backward), V={args.vocab} threads={args.threads} "
          f"repeats={args.repeats} (median, alternating); peak = RSS growth over one step, logits not counted")
    print(f"{'N':>3} {'T':>5} {'M':>3} {'logits MiB':>10} {'GRPO s':>7} {'MiB':>7} {'GTPO s':>7} {'(entropy)':>9} {'MiB':>7} {'time':>6} {'memory':>7}")
    for case in args.cases:
        size, _, micro = case.lower().partition(":")
        n, t = (int(x) for x in size.split("x"))
        m = int(micro) if micro else n
        if m < 1 or n % m:
            raise SystemExit(f"bench_loss: case {case!r}: the micro-batch M must divide N (got N={n}, M={m})")
        timing = measure("time", n, t, m, args)
        grpo = measure("grpo", n, t, m, args)
        gtpo = measure("gtpo", n, t, m, args)
        print(f"{n:>3} {t:>5} {m:>3} {grpo['logits_mib']:>10.0f} {timing['grpo']:>7.2f} {grpo['peak_mib']:>7.0f} "
              f"{timing['gtpo']:>7.2f} {timing['entropy']:>9.2f} {gtpo['peak_mib']:>7.0f} "
              f"{timing['gtpo'] / timing['grpo']:>5.2f}x {gtpo['peak_mib'] / grpo['peak_mib']:>6.2f}x")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
