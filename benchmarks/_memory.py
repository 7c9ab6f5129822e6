"""Memory readings shared by the benchmark scripts (Linux: /proc/self/status)."""

from __future__ import annotations


def status_kib(field: str) -> int:
    """A `/proc/self/status` field in KiB, e.g. "VmHWM" (peak resident set) or "VmRSS"."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")
