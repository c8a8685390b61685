"""AWS tests: job modules loaded as a worker has them, and no built-in schedule fires during a
worker pass (it would add scheduled syncs to a test's queue)."""

from collections.abc import Iterator

import pytest

from xplorr.core.jobs.registry import SCHEDULES
from xplorr.core.jobs.runner import load_job_modules

load_job_modules()


@pytest.fixture(autouse=True)
def _no_global_schedules() -> Iterator[None]:
    saved = dict(SCHEDULES)
    SCHEDULES.clear()
    yield
    SCHEDULES.clear()
    SCHEDULES.update(saved)
