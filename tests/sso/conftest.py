import pytest

from tests.sso.idp import TestIdp


@pytest.fixture
def idp() -> TestIdp:
    """Org A's identity provider."""
    return TestIdp("a")


@pytest.fixture
def idp_b() -> TestIdp:
    """Another org's identity provider: another key and entity id."""
    return TestIdp("b")
