"""Grader worker process: ``python -m gtpo.rewards.worker [MEMORY_LIMIT_MB]``.

Protocol (JSON lines): stdout first gets ``{"ready": true}`` once math-verify is imported and warm;
then each stdin line ``{"i": int, "p": pred, "r": ref, "t": seconds}`` is answered by
``{"i": int, "ok": bool}`` or ``{"i": int, "error": str}``. EOF on stdin ends the process, so a
worker never outlives its parent's pipe. Checks run in this process's main thread, so math-verify's
signal-based timeouts work here (each of parse, parse, verify and the numeric check gets a
quarter of the item deadline, at least 1 s: `signal.alarm` counts whole seconds); the parent
still kills the whole process when the item deadline passes (C-level loops ignore signals).
An address-space limit (default 2048 MB) turns runaway big-number arithmetic into MemoryError, and
before each item a CPU-time limit (deadline + 5 s more) makes the kernel end a runaway computation
even when the parent died (SIGKILL'd) and nobody reads our pipe any more.
"""

from __future__ import annotations

import json
import logging
import os
import sys


def _limit_memory(megabytes: int) -> None:
    try:
        import resource

        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):  # not on this platform, or already lower
        pass


def _cpu_budget(seconds: float) -> None:
    """Let this process use at most `seconds` more CPU seconds: past that the kernel's SIGXCPU ends
    it, even inside C code that ignores Python signal handlers and even if the parent is gone."""
    try:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = int(usage.ru_utime + usage.ru_stime + seconds) + 1
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    except (ImportError, ValueError, OSError):
        pass


def _no_core_dumps() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGXCPU's default action dumps core
    except (ImportError, ValueError, OSError):
        pass


def main() -> int:
    out = sys.stdout
    try:
        megabytes = int(sys.argv[1]) if len(sys.argv) > 1 else 2048
        if megabytes > 0:
            _limit_memory(megabytes)
        _no_core_dumps()
        logging.disable(logging.WARNING)  # math-verify logs every timeout/parse failure
        from gtpo.rewards.grading import symbolic_match

        symbolic_match("1/2", "\\frac{1}{2}", timeout=5)  # warm the sympy/latex2sympy caches
    except Exception as exc:  # report why we cannot start, then exit
        out.write(json.dumps({"ready": False, "error": f"{type(exc).__name__}: {exc}"}) + "\n")
        out.flush()
        return 1
    out.write('{"ready": true}\n')
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        _cpu_budget(float(job["t"]) + 5.0)  # the parent kills us at the deadline; this covers its death
        try:
            inner = max(1, int(float(job["t"]) / 4))
            ok = symbolic_match(job["p"], job["r"], timeout=inner, tolerance=job.get("tol", "strict"))
            reply = {"i": job["i"], "ok": ok}
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # MemoryError, RecursionError, TimeoutException, sympy bugs
            reply = {"i": job["i"], "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
