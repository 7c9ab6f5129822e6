"""answer_matches on tables of answer pairs (equivalent under both numeric rules, under neither, only under
"paper"), the fast path, and the worker pool's deadlines from any thread."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gtpo.rewards import (
    Grader,
    answer_matches,
    correctness_reward,
    default_grader,
    normalize_answer,
    quick_match,
)
from gtpo.rewards.grading import nesting_depth, parse_rational, too_complex

EQUIVALENT = [
    ("0.5", r"\frac12"),
    ("1,000", "1000"),
    ("$18", "18"),
    ("025", "25"),
    (r"3\sqrt{2}", r"\sqrt{18}"),  # needs math-verify
    (r"\frac{1}{2}", "0.5"),
    ("18.00", "18"),
    (r"\$18", "18"),
    (r"\boxed{7}", "7"),
    ("-3", "-3.0"),
    (r"\dfrac{7}{2}", "3.5"),
    ("(x+1)^2", "x^2+2x+1"),  # symbolic
    (r"\left( 3, \frac{\pi}{2} \right)", r"\left( 3, \frac{\pi}{2} \right)"),
    ("30^\\circ", "30"),
    ("1.5707963268", r"\frac{\pi}{2}"),  # closed forms by value: within 1e-9 relative
]
# Different numbers that the paper's absolute 1e-2 rule equates; the default (strict) rule never does.
PAPER_ONLY = [
    ("0", ".0000672"),  # a MATH-500 reference
    ("0.14", "0.15"),
    ("0.0067", ".0000672"),
    ("1/3", "0.333"),
    ("0.505", "0.5"),
    ("1.57", r"\frac{\pi}{2}"),  # a closed form against a rounded decimal
    ("x = 0.1234567", "0.1234568"),  # reaches math-verify, whose default rounding (6 decimals) equates them
    ("0.707107", r"\frac{\sqrt{2}}{2}"),
    ("1.0000001", "1"),
]
NOT_EQUIVALENT = [
    ("5", "50"),
    ("15", "150"),
    ("50", "5"),
    ("0.5", "0.6"),
    ("-18", "18"),
    (r"\sqrt{2}", "2"),
    ("", "0"),
    ("x+1", "x+2"),
    ("1.6", r"\frac{\pi}{2}"),  # |1.6 - 1.5708| > 1e-2
    ("10^{10^{10}}", "10^{10^{10}}+1"),  # differ by exactly 1
]
# A hostile-input deadline: every check below must end well within it, from any thread.
DEADLINE = 5.0
HOSTILE = [
    "10^{10^{10^{10}}}",  # huge power: sympy would try to build the integer
    "{" * 5000 + "1" + "}" * 5000,  # 5,000 nested braces
    "9" * 1_000_000,  # a 1 MB string
    "\ud800\udfff\udc00 broken \x00 unicode \ufffe",  # lone surrogates, NUL, non-character
    "\\frac{" * 300 + "1" + "}{2}" * 300,  # deep nesting under the length limit
]


@pytest.mark.parametrize("pred, ref", EQUIVALENT)
def test_equivalent(pred, ref):
    assert answer_matches(pred, ref)


@pytest.mark.parametrize("pred, ref", NOT_EQUIVALENT)
def test_not_equivalent(pred, ref):
    assert not answer_matches(pred, ref)
    assert not answer_matches(pred, ref, tolerance="paper")


@pytest.mark.parametrize("pred, ref", EQUIVALENT)
def test_equivalent_under_the_paper_rule_too(pred, ref):
    assert answer_matches(pred, ref, tolerance="paper")


@pytest.mark.parametrize("pred, ref", PAPER_ONLY)
def test_different_numbers_match_only_under_the_paper_rule(pred, ref):
    assert not answer_matches(pred, ref)  # strict, the default
    assert answer_matches(pred, ref, tolerance="paper")


def test_unknown_tolerance_is_refused():
    with pytest.raises(ValueError, match="answer_tolerance must be one of 'strict', 'paper'"):
        answer_matches("1", "1", tolerance="loose")
    with pytest.raises(ValueError, match="answer_tolerance"):
        quick_match("1", "1", "1e-2")


def test_fast_path_decides_numbers_without_sympy():
    # "5" vs "50": both exact rationals, different -> False without a worker
    assert quick_match("5", "50") is False
    assert quick_match("1,000", "1000") is True  # Fraction(1000) == Fraction(1000)
    assert quick_match("025", "25") is True
    assert quick_match("0.505", "0.5") is False  # strict: different values
    assert quick_match("0.505", "0.5", "paper") is True  # |0.005| <= 0.01, the spec's tolerance
    assert quick_match("0.52", "0.5", "paper") is False  # |0.02| > 0.01
    assert quick_match("0.50", r"\frac{1}{2}") is True  # equal values
    assert quick_match(r"3\sqrt{2}", r"\sqrt{18}") is None  # undecided: goes to math-verify
    # units: a number and 1-3 plain words, compared by the number when the reference is a number
    assert quick_match("18 dollars", "18") is True
    assert quick_match("5 square feet", "5") is True
    assert quick_match("18 dollars", "19") is False
    assert quick_match("5 pi", "5") is None  # a math word: left to math-verify
    assert quick_match("18 apples and 3 pears", "18") is None  # not a number-plus-unit shape
    assert quick_match("dollars", "dollars") is True  # plain string equality
    assert quick_match("\u22125", "-5") is True  # unicode minus
    assert parse_rational("-\\frac{1}{2}") == parse_rational("-1/2") == parse_rational("-0.5")
    assert parse_rational("1/0") is None
    assert parse_rational("1" * 500) is None  # over the digit cap: no giant rationals
    assert normalize_answer(r"$\text{18}.$") == "18"
    assert nesting_depth(r"\frac{(1+2)}{[3]}") == 2 and nesting_depth("}}{") == 1
    assert too_complex("(" * 51 + ")" * 51, "1") and not too_complex("(" * 50 + ")" * 50, "1")
    assert too_complex("1", "9" * 1001)


def test_correctness_reward():
    good = "<reasoning>\n9 * 2 = 18\n</reasoning>\n<answer>\n$18\n</answer>"
    assert correctness_reward(good, "18") == 10.0
    assert correctness_reward(good, "19") == 0.0
    # right answer, broken format: 0 (format must be exactly 10)
    assert correctness_reward("<answer>18</answer>", "18") == 0.0
    assert correctness_reward(good + " extra", "18") == 0.0


def _check_hostile(grader: Grader) -> list[float]:
    """Seconds taken by each hostile check (each must return False)."""
    took = []
    for text in HOSTILE:
        start = time.monotonic()
        assert grader.matches([text], ["5"], timeout=DEADLINE) == [False]
        took.append(time.monotonic() - start)
    return took


def test_hostile_inputs_main_thread():
    grader = default_grader()
    too_long = grader.stats["too_long"]
    took = _check_hostile(grader)
    assert max(took) < DEADLINE + 1.0, took
    assert grader.stats["too_long"] >= too_long + 2  # the 5,000 braces and the 1 MB string
    assert answer_matches("2", "2")  # still healthy afterwards


def test_hostile_inputs_worker_thread():
    results: dict[str, object] = {}

    def work() -> None:
        try:
            results["took"] = _check_hostile(default_grader())
            results["ok"] = answer_matches(r"3\sqrt{2}", r"\sqrt{18}")
            start = time.monotonic()
            results["reward"] = correctness_reward(
                "<reasoning>x</reasoning><answer>10^{10^{10^{10}}}</answer>", "5", timeout=DEADLINE
            )
            results["reward_took"] = time.monotonic() - start
        except BaseException as exc:  # surfaced in the main thread below
            results["error"] = exc

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=len(HOSTILE) * (DEADLINE + 2) + 30)
    assert not thread.is_alive(), "a hostile check hung in a worker thread"
    assert "error" not in results, results.get("error")
    assert max(results["took"]) < DEADLINE + 1.0, results["took"]
    assert results["ok"] is True
    assert results["reward"] == 0.0 and results["reward_took"] < DEADLINE + 1.0


def test_deadline_kills_and_replaces_worker():
    # The worker's own signal timeout is >= 1 s, so a 0.3 s deadline forces the parent to kill it.
    with Grader(num_workers=1, timeout=0.3) as grader:
        assert grader.matches([r"3\sqrt{2}"], [r"\sqrt{18}"], timeout=DEADLINE) == [True]  # warm
        start = time.monotonic()
        assert grader.matches(["10^{10^{10^{10}}}"], ["5"]) == [False]
        assert time.monotonic() - start < 0.3 + 1.0
        assert grader.stats["timeouts"] == 1 and grader.stats["restarts"] == 1
        # the replacement worker answers the next item correctly
        assert grader.matches(
            [r"3\sqrt{2}", r"2\sqrt{2}"], [r"\sqrt{18}", r"\sqrt{18}"], timeout=DEADLINE
        ) == [
            True,
            False,
        ]


def test_crashed_worker_counts_error_and_recovers():
    with Grader(num_workers=1, timeout=DEADLINE) as grader:
        assert grader.matches([r"\sqrt{4}"], ["2"]) == [True]
        victim = grader._workers[0].proc
        timer = threading.Timer(0.3, victim.kill)  # dies mid-check (the check takes ~1 s)
        timer.start()
        assert grader.matches(["10^{10^{10^{10}}}"], ["5"]) == [False]
        timer.join()
        assert grader.stats["errors"] == 1 and grader.stats["restarts"] == 1
        assert grader.matches([r"\sqrt{9}"], ["3"]) == [True]  # the replacement works
        grader._workers[0].proc.kill()  # dies while idle: the next send fails and is retried
        grader._workers[0].proc.wait()
        assert grader.matches([r"\sqrt{4}"], ["2"]) == [True]
        assert grader.stats["restarts"] == 2


def test_batch_runs_in_parallel_and_in_order():
    preds = [r"\sqrt{18}", r"2\sqrt{2}", "x^2+2x+1", "(x+1)(x-1)", "7", "10^{10^{10^{10}}}"]
    refs = [r"3\sqrt{2}", r"\sqrt{8}", "(x+1)^2", "x^2-1", "7.0", "5"]
    grader = default_grader()  # shared, already warm: 2 workers
    before = dict(grader.stats)
    assert grader.matches(preds, refs, timeout=DEADLINE) == [True, True, True, True, True, False]
    assert grader.stats["fast"] - before["fast"] == 1 and grader.stats["symbolic"] - before["symbolic"] == 5
    with pytest.raises(ValueError, match="length"):
        Grader(num_workers=0).matches(["1"], [])


def test_inline_grader_main_thread_only():
    grader = Grader(num_workers=0, timeout=DEADLINE)
    assert grader.matches([r"3\sqrt{2}", "5"], [r"\sqrt{18}", "50"]) == [True, False]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            grader.matches([r"3\sqrt{2}"], [r"\sqrt{18}"])
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert errors and "main thread" in str(errors[0])


def test_close_is_idempotent_and_grader_restarts():
    grader = Grader(num_workers=1, timeout=DEADLINE)
    assert grader.matches(["x+x"], ["2x"]) == [True]
    proc = grader._workers[0].proc
    grader.close()
    grader.close()
    assert proc.poll() is not None  # the worker exited
    assert grader.matches(["x+x"], ["2x"]) == [True]  # starts a fresh worker
    grader.close()


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_workers"):
        Grader(num_workers=-1)
    with pytest.raises(ValueError, match="timeout"):
        Grader(timeout=0)
    assert Grader(num_workers=0).matches([None], ["1"]) == [False]  # type: ignore[list-item]
    assert Grader(num_workers=0).matches(["27"], [27.0]) == [True]  # type: ignore[list-item]


def test_workers_exit_with_the_interpreter():
    """A script that never calls close() still exits promptly and leaves no worker behind."""
    script = (
        "from gtpo.rewards import answer_matches, default_grader\n"
        "assert answer_matches('3\\\\sqrt{2}', '\\\\sqrt{18}')\n"
        "print(' '.join(str(w.proc.pid) for w in default_grader()._workers))\n"
    )
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - start < 60
    pids = [int(pid) for pid in done.stdout.split()]
    assert len(pids) >= 1
    for pid in pids:
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"worker {pid} outlived its interpreter")


def test_works_with_more_than_1024_open_files(tmp_path):
    """Trainers keep many files open; worker pipes then get fds >= 1024 (select() would fail)."""
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"open-file limit {hard} is below 1200")
    if soft != resource.RLIM_INFINITY and soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1200, hard))
    held = []
    try:
        while len(held) < 1100:
            held.append(os.open(os.devnull, os.O_RDONLY))
        with Grader(num_workers=1, timeout=DEADLINE) as grader:
            assert grader.matches([r"3\sqrt{2}"], [r"\sqrt{18}"]) == [True]
            assert grader._workers[0].fd >= 1024
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_interrupted_batch_leaves_no_stale_reply(monkeypatch):
    with Grader(num_workers=1, timeout=DEADLINE) as grader:
        assert grader.matches(["x+x"], ["2x"]) == [True]
        real = grader._wait_and_read

        def interrupted(*args, **kwargs):
            raise KeyboardInterrupt

        monkeypatch.setattr(grader, "_wait_and_read", interrupted)
        with pytest.raises(KeyboardInterrupt):
            grader.matches(["x+x"], ["2x"])  # dispatched to the worker, then interrupted
        monkeypatch.setattr(grader, "_wait_and_read", real)
        assert not [w for w in grader._workers if w.state == "busy"]  # the busy worker was dropped
        # the next batch must not receive the interrupted batch's (True) reply
        assert grader.matches(["x+x"], ["3x"]) == [False]


def test_pool_agrees_with_in_process_checks():
    """Same verdicts from the worker pool (any order, 2 workers) and in-process, pair by pair."""
    import random

    pairs = (
        EQUIVALENT + NOT_EQUIVALENT + [("18 dollars", "18"), (r"\frac{\pi}{2}", "1.5708"), ("(2,3)", "(3,2)")]
    )
    rng = random.Random(0)
    batch = [rng.choice(pairs) for _ in range(40)]
    preds, refs = [p for p, _ in batch], [r for _, r in batch]
    inline = Grader(num_workers=0, timeout=DEADLINE).matches(preds, refs)
    assert default_grader().matches(preds, refs, timeout=DEADLINE) == inline  # 2 workers
    assert inline == [(p, r) in EQUIVALENT or (p, r) == ("18 dollars", "18") for p, r in batch]
    # the paper's rule reaches the workers too: pi/2 vs 1.5708 is within its 1e-2
    paper = Grader(num_workers=0, timeout=DEADLINE).matches(preds, refs, tolerance="paper")
    assert default_grader().matches(preds, refs, timeout=DEADLINE, tolerance="paper") == paper
    assert paper == [(p, r) in EQUIVALENT or (p, r) == ("18 dollars", "18") or r == "1.5708" for p, r in batch]


def test_workers_start_while_torch_threads_run():
    """The trainer's situation: torch's thread pool busy in another thread while workers start
    (a multiprocessing 'fork' here can deadlock; the workers are fork+exec'd subprocesses)."""
    torch = pytest.importorskip("torch")
    stop = threading.Event()

    def busy() -> None:
        a = torch.randn(128, 128)
        while not stop.is_set():
            a = torch.tanh(a @ a)

    thread = threading.Thread(target=busy, daemon=True)
    thread.start()
    try:
        with Grader(num_workers=2, timeout=DEADLINE) as grader:
            start = time.monotonic()
            assert grader.matches([r"3\sqrt{2}", "x+x"], [r"\sqrt{18}", "2x"]) == [True, True]
            assert time.monotonic() - start < 60
    finally:
        stop.set()
        thread.join()


def test_math500_references_match_their_rewrites(shared_data):
    """Real MATH-500 answers vs the same answers written with \\dfrac and without \\left/\\right."""
    from gtpo.tasks import load_task

    refs = load_task("math500", "test", source=shared_data)["answer"]
    pairs = [(r.replace("\\frac", "\\dfrac").replace("\\left", "").replace("\\right", ""), r) for r in refs]
    pairs = [(p, r) for p, r in pairs if p != r]
    assert len(pairs) > 50
    verdicts = default_grader().matches([p for p, _ in pairs], [r for _, r in pairs], timeout=DEADLINE)
    assert [pair for pair, ok in zip(pairs, verdicts, strict=True) if not ok] == []
    # and a wrong variant of each is rejected
    wrong = default_grader().matches(
        [f"{p}+1" for p, _ in pairs[:20]], [r for _, r in pairs[:20]], timeout=DEADLINE
    )
    assert not any(wrong)


def test_worker_runs_each_item_under_a_cpu_limit():
    """Before each item the worker caps its CPU time (deadline + 5 s), so a runaway check ends even
    if the parent died without killing it; core dumps are off."""
    limits = Path("/proc/self/limits")
    if not limits.exists():
        pytest.skip("needs /proc")
    with Grader(num_workers=1, timeout=DEADLINE) as grader:
        assert grader.matches(["x+x"], ["2x"]) == [True]
        text = Path(f"/proc/{grader._workers[0].proc.pid}/limits").read_text()
    cpu = next(line for line in text.splitlines() if line.startswith("Max cpu time")).split()
    core = next(line for line in text.splitlines() if line.startswith("Max core file size")).split()
    assert cpu[3] != "unlimited" and int(cpu[3]) <= 60  # soft limit, seconds
    assert core[4] == "0"


def test_concurrent_threads_share_the_default_grader():
    cases = [(r"3\sqrt{2}", r"\sqrt{18}", True), ("x+x", "3x", False), ("(x+1)^2", "x^2+2x+1", True)] * 3
    results: dict[int, bool] = {}

    def work(k: int, pred: str, ref: str) -> None:
        results[k] = answer_matches(pred, ref)

    threads = [threading.Thread(target=work, args=(k, p, r)) for k, (p, r, _) in enumerate(cases)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [results.get(k) for k in range(len(cases))] == [want for _, _, want in cases]
