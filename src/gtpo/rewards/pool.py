"""`Grader`: batch answer checking with a hard per-item deadline, safe from any thread or process.

Each batch first goes through the fast path (`grading.quick_match`); answers over 1,000 characters
or 50 nested brackets are False at once (``stats["too_long"]``); only the remaining undecided items
reach math-verify, which runs in worker *processes* (`python -m gtpo.rewards.worker`, talking JSON lines
over pipes). The parent waits on the pipes with `poll`; an item past its deadline gets its worker
killed (SIGKILL) and replaced, scores False, and increments ``stats["timeouts"]``. A worker that
crashes or reports an exception scores False and increments ``stats["errors"]``.

Why plain subprocesses rather than `multiprocessing`: 'fork' after torch/tokenizers threads are up
can deadlock; 'spawn'/'forkserver' re-import the user's ``__main__`` script in every worker (a
training script without a main guard would start training again). A ``-m`` module child has
neither problem, starts in about a second, and exits on EOF when the parent goes away.

``num_workers=0`` checks in-process with math-verify's signal timeouts: main thread only (it raises
otherwise); it exists for benchmarking and for environments that forbid subprocesses.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Sequence
from pathlib import Path

from gtpo.rewards.grading import (
    MAX_ANSWER_CHARS,
    check_tolerance,
    clean_text,
    quick_match,
    symbolic_match,
    too_complex,
)

_MAX_START_FAILURES = 3
STAT_KEYS = ("items", "fast", "symbolic", "timeouts", "errors", "too_long", "restarts")


class _Worker:
    """One child process plus its read buffer and state ('starting' | 'idle' | 'busy')."""

    def __init__(self, memory_limit_mb: int):
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        env.setdefault("OMP_NUM_THREADS", "1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gtpo.rewards.worker", str(memory_limit_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,
            env=env,
            start_new_session=True,  # Ctrl-C in the terminal reaches the trainer, not the workers
        )
        self.fd = self.proc.stdout.fileno()
        self.buffer = b""
        self.state = "starting"
        self.started = time.monotonic()
        self.item: int | None = None
        self.deadline = 0.0

    def send(self, item: int, pred: str, ref: str, timeout: float, tolerance: str) -> None:
        line = json.dumps({"i": item, "p": pred, "r": ref, "t": timeout, "tol": tolerance}) + "\n"
        self.proc.stdin.write(line.encode())
        self.proc.stdin.flush()
        self.state, self.item, self.deadline = "busy", item, time.monotonic() + timeout

    def read_lines(self) -> list[dict] | None:
        """Messages now available, or None if the process closed its stdout (died)."""
        chunk = os.read(self.fd, 65536)
        if not chunk:
            return None
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    def kill(self) -> None:
        _stop([self.proc], grace=0.0)


def _stop(procs: list[subprocess.Popen], grace: float = 1.0) -> None:
    """Close stdin (workers exit on EOF), wait up to `grace` s, then SIGKILL; reap everything."""
    for proc in procs:
        try:
            proc.stdin.close()
        except OSError:
            pass
    end = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for proc in procs:
        try:
            proc.stdout.close()
        except OSError:
            pass


def _stop_if_owner(procs: list[subprocess.Popen], pid: int) -> None:
    """Finalizer (garbage collection or interpreter exit): a forked child leaves its parent's workers."""
    if os.getpid() == pid:
        _stop(procs)


class Grader:
    """Batch equivalence checks with per-item deadlines. Usable as a context manager.

    Args:
        num_workers: worker processes for math-verify (0: in-process, main thread only).
        timeout: default per-item deadline in seconds for the symbolic check.
        memory_limit_mb: address-space limit of each worker (0: none).
        startup_timeout: seconds a new worker may take to import math-verify before it is an error.
    """

    def __init__(
        self,
        num_workers: int = 2,
        timeout: float = 5.0,
        *,
        memory_limit_mb: int = 2048,
        startup_timeout: float = 120.0,
    ):
        if num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {num_workers}")
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        self.num_workers = num_workers
        self.timeout = float(timeout)
        self.memory_limit_mb = memory_limit_mb
        self.startup_timeout = startup_timeout
        self.stats: dict[str, int] = dict.fromkeys(STAT_KEYS, 0)
        self._workers: list[_Worker] = []
        self._procs: list[subprocess.Popen] = []  # shared with the finalizer (no reference to self)
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._start_failures = 0  # consecutive workers that died before reporting ready
        self._job_ids = itertools.count()
        self._finalizer = weakref.finalize(self, _stop_if_owner, self._procs, self._pid)

    # ----------------------------------------------------------------------------------- public
    def matches(
        self, preds: Sequence[str], refs: Sequence[str], timeout: float | None = None, tolerance: str = "strict"
    ) -> list[bool]:
        """Equivalence of each prediction to its reference under the numeric rule `tolerance` ("strict",
        the default, or "paper": see `gtpo.rewards.grading`); never raises for bad answer text."""
        check_tolerance(tolerance)
        if len(preds) != len(refs):
            raise ValueError(f"preds and refs differ in length: {len(preds)} != {len(refs)}")
        deadline = self.timeout if timeout is None else float(timeout)
        results: list[bool] = [False] * len(preds)
        pending: list[tuple[int, str, str]] = []
        with self._lock:
            for i, (pred, ref) in enumerate(zip(preds, refs, strict=True)):
                self.stats["items"] += 1
                if isinstance(ref, (int, float)) and not isinstance(ref, bool):
                    ref = str(ref)  # e.g. AMC answers read as floats
                if not isinstance(pred, str) or not isinstance(ref, str):
                    self.stats["errors"] += 1
                    continue
                if len(pred) > MAX_ANSWER_CHARS or len(ref) > MAX_ANSWER_CHARS:
                    self.stats["too_long"] += 1
                    continue
                pred, ref = clean_text(pred), clean_text(ref)
                try:
                    decided = quick_match(pred, ref, tolerance)
                except Exception:  # defensive: the fast path is plain parsing, but never fail a batch
                    self.stats["errors"] += 1
                    continue
                if decided is not None:
                    self.stats["fast"] += 1
                    results[i] = decided
                elif too_complex(pred, ref):
                    self.stats["too_long"] += 1
                else:
                    pending.append((i, pred, ref))
            if pending:
                self.stats["symbolic"] += len(pending)
                if self.num_workers == 0:
                    self._run_inline(pending, results, deadline, tolerance)
                else:
                    self._run_pool(pending, results, deadline, tolerance)
        return results

    def close(self) -> None:
        """Stop the workers (idempotent). The grader restarts them if used again."""
        with self._lock:
            self._shutdown()

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------------- private
    def _shutdown(self) -> None:
        if os.getpid() == self._pid:
            _stop(list(self._procs))
        self._workers.clear()
        self._procs.clear()

    def _run_inline(
        self, pending: list[tuple[int, str, str]], results: list[bool], deadline: float, tolerance: str
    ) -> None:
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError(
                "Grader(num_workers=0) checks in-process with signal timeouts, which only work in the "
                "main thread; use num_workers >= 1 from other threads"
            )
        inner = max(1, int(deadline / 4))  # as in the workers: parse, parse, verify, numeric
        mv_logger = logging.getLogger("math_verify")  # it logs every timeout and parse failure
        level = mv_logger.level
        mv_logger.setLevel(logging.ERROR)
        try:
            for i, pred, ref in pending:
                try:
                    results[i] = symbolic_match(pred, ref, timeout=inner, tolerance=tolerance)
                except (KeyboardInterrupt, SystemExit):
                    raise
                except BaseException:  # math-verify's TimeoutException is a BaseException
                    self.stats["errors"] += 1
        finally:
            mv_logger.setLevel(level)

    def _spawn(self) -> _Worker:
        worker = _Worker(self.memory_limit_mb)
        self._workers.append(worker)
        self._procs.append(worker.proc)
        return worker

    def _retire(self, worker: _Worker, replace: bool) -> None:
        worker.kill()
        self._workers.remove(worker)
        self._procs.remove(worker.proc)
        if replace:
            self.stats["restarts"] += 1
            self._spawn()

    def _run_pool(
        self, pending: list[tuple[int, str, str]], results: list[bool], deadline: float, tolerance: str
    ) -> None:
        if os.getpid() != self._pid:  # forked: the pipes belong to the parent's workers
            self._workers.clear()
            self._procs.clear()
            self._pid = os.getpid()
        while len(self._workers) < self.num_workers:
            self._spawn()
        # Job ids are unique over the grader's life, so a reply can never land in another batch.
        jobs = {next(self._job_ids): item for item in pending}  # job id -> (result index, pred, ref)
        queue = deque(jobs)
        outstanding = set(jobs)
        try:
            while outstanding:
                self._dispatch(queue, jobs, deadline, tolerance)
                self._wait_and_read(results, jobs, outstanding)
        except BaseException:  # interrupted (Ctrl-C) or a start-up failure: drop half-done work
            for worker in [w for w in self._workers if w.state == "busy"]:
                self._retire(worker, replace=False)
            raise

    def _dispatch(
        self, queue: deque[int], jobs: dict[int, tuple[int, str, str]], deadline: float, tolerance: str
    ) -> None:
        for worker in list(self._workers):
            if worker.state == "idle" and queue:
                job = queue.popleft()
                _, pred, ref = jobs[job]
                try:
                    worker.send(job, pred, ref, deadline, tolerance)
                except OSError:  # died while idle: retry the job on a fresh worker
                    queue.appendleft(job)
                    self._retire(worker, replace=True)

    def _wait_and_read(
        self, results: list[bool], jobs: dict[int, tuple[int, str, str]], outstanding: set[int]
    ) -> None:
        now = time.monotonic()
        waits = [w.deadline - now for w in self._workers if w.state == "busy"]
        waits += [w.started + self.startup_timeout - now for w in self._workers if w.state == "starting"]
        wait = max(0.0, min(waits)) if waits else 0.05
        poller = select.poll()  # not select.select: it fails on fds >= 1024 (busy trainers)
        for worker in self._workers:
            poller.register(worker.fd, select.POLLIN)
        ready = {fd for fd, _ in poller.poll(wait * 1000.0)}
        for worker in [w for w in self._workers if w.fd in ready]:
            self._read(worker, results, jobs, outstanding)
        now = time.monotonic()
        for worker in list(self._workers):
            if worker.state == "busy" and now >= worker.deadline:
                self.stats["timeouts"] += 1
                outstanding.discard(worker.item)
                self._retire(worker, replace=True)
            elif worker.state == "starting" and now >= worker.started + self.startup_timeout:
                self._retire(worker, replace=False)
                raise RuntimeError(
                    f"a grader worker did not start within {self.startup_timeout:.0f} s "
                    f"(`{sys.executable} -m gtpo.rewards.worker`); check that gtpo and math-verify import"
                )

    def _read(
        self,
        worker: _Worker,
        results: list[bool],
        jobs: dict[int, tuple[int, str, str]],
        outstanding: set[int],
    ) -> None:
        try:
            messages = worker.read_lines()
        except (OSError, ValueError):
            messages = None
        if messages is None:  # the process died (crash, memory limit hit hard, killed from outside)
            if worker.state == "starting":
                self._start_failures += 1
                if self._start_failures >= _MAX_START_FAILURES:
                    self._retire(worker, replace=False)
                    raise RuntimeError(
                        f"grader workers exited while starting {self._start_failures} times in a row "
                        f"(`{sys.executable} -m gtpo.rewards.worker`); check that gtpo and math-verify "
                        "import in that interpreter"
                    )
            if worker.state == "busy":
                self.stats["errors"] += 1
                outstanding.discard(worker.item)
            self._retire(worker, replace=True)
            return
        for message in messages:
            if "ready" in message:
                if not message["ready"]:
                    self._retire(worker, replace=False)
                    raise RuntimeError(f"a grader worker failed to start: {message.get('error')}")
                worker.state = "idle"
                self._start_failures = 0
            elif worker.state == "busy" and message.get("i") == worker.item:
                if "error" in message:
                    self.stats["errors"] += 1
                else:
                    results[jobs[worker.item][0]] = bool(message["ok"])
                outstanding.discard(worker.item)
                worker.state, worker.item = "idle", None


_DEFAULT: Grader | None = None
_DEFAULT_LOCK = threading.Lock()


def default_grader() -> Grader:
    """The process-wide grader used by `answer_matches` and the batch reward functions (lazy)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = Grader(num_workers=min(2, os.cpu_count() or 1))
        return _DEFAULT
