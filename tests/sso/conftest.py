from collections.abc import Iterator

import pytest

from tests.sso.dns_server import TestDns
from tests.sso.idp import TestIdp
from xplorr.core.settings import Settings


@pytest.fixture
def idp() -> TestIdp:
    """Org A's identity provider."""
    return TestIdp("a")


@pytest.fixture
def idp_b() -> TestIdp:
    """Another org's identity provider: another key and entity id."""
    return TestIdp("b")


@pytest.fixture
def dns() -> Iterator[TestDns]:
    """A DNS server on loopback; a test that asks for it gets the app's resolver pointed at it."""
    server = TestDns()
    yield server
    server.stop()


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    if "dns" not in request.fixturenames:
        return settings
    server: TestDns = request.getfixturevalue("dns")
    return settings.model_copy(
        update={
            "sso_dns_nameserver": "127.0.0.1",
            "sso_dns_port": server.port,
            "sso_dns_timeout_seconds": 2.0,
        }
    )
