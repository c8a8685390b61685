from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.webhooks import Receiver, start_receiver
from xplorr.core.settings import Settings, SmtpSettings


@pytest.fixture
def settings(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """The suite's settings, SMTP pointed at the test's mailbox when it has one, and the local
    webhook receiver's host allowed (http, loopback)."""
    overrides: dict[str, object] = {"egress_allow_hosts": ["127.0.0.1"]}
    if "mailbox" in request.fixturenames:
        port, _box = request.getfixturevalue("smtp")
        overrides["smtp"] = SmtpSettings(host="127.0.0.1", port=port, tls=False)
    return make_settings(db_url, tmp_path, **overrides)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = start_receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()
