"""GCP tests: one local Google (``google_fake``: token endpoint, BigQuery on DuckDB, Asset,
Compute, Recommender) and one Cloud Storage emulator (gcp-storage-emulator) per session;
``settings`` points the connector at both (``XPLORR_GCP_API_ENDPOINT``, ``XPLORR_GCS_ENDPOINT``).
"""

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings
from tests.gcp.google_fake import GoogleFake, service_account_key
from xplorr.core.jobs.registry import SCHEDULES
from xplorr.core.jobs.runner import load_job_modules
from xplorr.core.settings import Settings

load_job_modules()

PROJECT = "proj-123456"
BILLING_ACCOUNT = "01A2B3-C4D5E6-F7A8B9"


@pytest.fixture(autouse=True)
def _no_global_schedules() -> Iterator[None]:
    saved = dict(SCHEDULES)
    SCHEDULES.clear()
    yield
    SCHEDULES.clear()
    SCHEDULES.update(saved)


@pytest.fixture(scope="session")
def google_server() -> Iterator[GoogleFake]:
    fake = GoogleFake(PROJECT).start()
    yield fake
    fake.stop()


@pytest.fixture
def google(google_server: GoogleFake) -> Iterator[GoogleFake]:
    google_server.reset()
    yield google_server
    google_server.reset()


@pytest.fixture(scope="session")
def gcs_endpoint() -> Iterator[str]:
    """gcp-storage-emulator on a free loopback port, in memory."""
    from gcp_storage_emulator.server import create_server

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def keyfile(google_server: GoogleFake) -> dict[str, Any]:
    return service_account_key(google_server.endpoint)


@pytest.fixture
def settings(db_url: str, tmp_path: Path, google: GoogleFake, gcs_endpoint: str) -> Settings:
    return make_settings(
        db_url, tmp_path, gcp_api_endpoint=google.endpoint, gcs_endpoint=gcs_endpoint
    )


def credentials(keyfile: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The stored shape (``cloud_accounts.schemas.GcpCredentials.stored``)."""
    return {
        "projectId": PROJECT,
        "keyfileJson": keyfile,
        "billingDataset": "billing_export",
        "billingTable": "gcp_billing_export_v1_*",
        "bigqueryLocation": "US",
        "billingAccountId": None,
        "regions": ["us-central1", "europe-west1"],
    } | extra
