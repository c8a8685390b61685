from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.slack.fake_slack import (
    CLIENT_ID,
    CLIENT_SECRET,
    SIGNING_SECRET,
    FakeSlack,
    start_fake_slack,
)
from xplorr.core.settings import Settings, SlackSettings


@pytest.fixture(scope="session")
def _slack_server() -> Iterator[FakeSlack]:
    """One local Slack for the session (each test starts it clean)."""
    fake = start_fake_slack()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def slack(_slack_server: FakeSlack) -> FakeSlack:
    _slack_server.reset()
    return _slack_server


def slack_settings(fake: FakeSlack, **overrides: object) -> SlackSettings:
    values: dict[str, object] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "signing_secret": SIGNING_SECRET,
        "base_url": fake.url,
    }
    values.update(overrides)
    return SlackSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(db_url: str, tmp_path: Path, slack: FakeSlack) -> Settings:
    """The suite's settings with the Slack app configured against the local Slack, and the
    console at http://console.test."""
    return make_settings(
        db_url,
        tmp_path,
        slack=slack_settings(slack),
        base_url="http://console.test",
        job_backoff_base_seconds=0.01,
    )
