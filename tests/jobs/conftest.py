from collections.abc import Iterator

import pytest

from xplorr.core.jobs.registry import SCHEDULES


@pytest.fixture(autouse=True)
def _no_global_schedules() -> Iterator[None]:
    """In-process workers here fire only the schedules a test registers itself, so the built-in
    maintenance schedules (loaded by other tests' imports) never add jobs to a test's queue."""
    saved = dict(SCHEDULES)
    SCHEDULES.clear()
    yield
    SCHEDULES.clear()
    SCHEDULES.update(saved)
