"""One local Ray instance for the verl tests that need Ray (started once, on first use; 4 logical CPUs:
TransferQueue's controller and its one storage unit each reserve one)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield ray
    ray.shutdown()
