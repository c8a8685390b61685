from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.webhooks import Receiver, start_receiver
from xplorr.core.settings import Settings


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """The suite's settings, with the local webhook receiver's host allowed (http, loopback)
    and retries after a few milliseconds."""
    return make_settings(
        db_url, tmp_path, egress_allow_hosts=["127.0.0.1"], job_backoff_base_seconds=0.01
    )


@pytest.fixture(scope="module")
def _receiver() -> Iterator[Receiver]:
    r = start_receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def receiver(_receiver: Receiver) -> Receiver:
    """One local Slack/Teams receiver per module, emptied for each test."""
    with _receiver.lock:
        _receiver.posts.clear()
        _receiver.statuses.clear()
    return _receiver
