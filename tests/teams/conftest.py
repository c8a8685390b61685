from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.teams.fake_microsoft import (
    CLIENT_ID,
    CLIENT_SECRET,
    FakeMicrosoft,
    start_fake_microsoft,
)
from xplorr.core.settings import Settings, TeamsSettings


@pytest.fixture(scope="session")
def _microsoft_server() -> Iterator[FakeMicrosoft]:
    fake = start_fake_microsoft()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def microsoft(_microsoft_server: FakeMicrosoft) -> FakeMicrosoft:
    _microsoft_server.reset()
    return _microsoft_server


@pytest.fixture
def settings(db_url: str, tmp_path: Path, microsoft: FakeMicrosoft) -> Settings:
    """The Teams app configured against the local Microsoft; the console at console.test."""
    return make_settings(
        db_url,
        tmp_path,
        teams=TeamsSettings(client_id=CLIENT_ID, client_secret=CLIENT_SECRET),  # type: ignore[arg-type]
        ms_login_base_url=microsoft.url,
        ms_graph_base_url=microsoft.url,
        base_url="http://console.test",
        job_backoff_base_seconds=0.01,
    )
