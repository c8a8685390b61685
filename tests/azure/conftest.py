"""Azure tests: the settings point every Azure endpoint at the session's doubles (Azurite for
Blob storage, one HTTPS server for Entra ID and ARM), trusting the doubles' test CA; job modules
loaded as a worker has them, and no built-in schedule fires during a worker pass."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.azure.doubles import (  # noqa: F401 - fixtures
    AzureFake,
    Tls,
    _arm_server,
    azure,
    azure_tls,
    azurite,
)
from tests.conftest import make_settings
from xplorr.core.jobs.registry import SCHEDULES
from xplorr.core.jobs.runner import load_job_modules
from xplorr.core.settings import Settings

load_job_modules()


@pytest.fixture(autouse=True)
def _no_global_schedules() -> Iterator[None]:
    saved = dict(SCHEDULES)
    SCHEDULES.clear()
    yield
    SCHEDULES.clear()
    SCHEDULES.update(saved)


@pytest.fixture
def settings(
    db_url: str,
    tmp_path: Path,
    azure: AzureFake,  # noqa: F811
    azure_tls: Tls,  # noqa: F811
    request: pytest.FixtureRequest,
) -> Settings:
    overrides: dict[str, object] = {
        "azure_authority_host": azure.base,
        "azure_resource_manager_url": azure.base,
        "azure_ca_bundle": azure_tls.ca,
        "azure_max_attempts": 1,
        "azure_throttle_max_wait_seconds": 2,
        "egress_allow_hosts": ["127.0.0.1"],
    }
    if "azurite" in request.fixturenames:
        overrides["azure_blob_endpoint"] = request.getfixturevalue("azurite").endpoint
    return make_settings(db_url, tmp_path, **overrides)
