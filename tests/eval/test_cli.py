"""`gtpo eval`'s command line: help and option errors come before torch loads."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = "sorted(m for m in ('torch', 'trl') if m in sys.modules)"


@pytest.mark.parametrize("argv, status, stream", [
    (["eval", "--help"], 0, "stdout"),
    (["eval", "--model", "m", "--task", "gsm8k", "--output", "o", "--foo"], 2, "stderr"),
])  # fmt: skip
def test_help_and_a_bad_option_are_answered_without_torch(argv, status, stream):
    code = (f"import sys; from gtpo.cli import main\n"
            f"try:\n    rc = main({argv!r})\nexcept SystemExit as stop:\n    rc = stop.code\n"
            f"print('RESULT', rc, {HEAVY}, file=sys.stderr)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stderr.strip().splitlines()[-1] == f"RESULT {status} []"
    text = out.stdout if stream == "stdout" else out.stderr
    assert ("--grader" in text) if status == 0 else ("--foo" in text)
