"""POST /cloud-accounts/test for a GCP project: the key (a token from it), then BigQuery's
grants on the billing export; each failure of section 8 answered readably, nothing saved."""

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.gcp import billing_data as bd
from tests.gcp.conftest import PROJECT
from tests.gcp.google_fake import GoogleFake, service_account_key
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.users.models import User

URL = "/cloud-accounts/test"


def _body(keyfile: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "provider": "gcp",
        "provider_account_id": PROJECT,
        "credentials": {"projectId": PROJECT, "keyfileJson": keyfile} | extra,
    }


async def test_key_and_bigquery_grants(
    google: GoogleFake,
    keyfile: dict[str, Any],
    db: AsyncSession,
    admin: User,
    client_for: ClientFor,
) -> None:
    google.dataset("billing_export")
    google.export_table("billing_export", bd.STANDARD)
    api = client_for(admin)
    revoked = service_account_key(google.endpoint, email="revoked@proj.iam.gserviceaccount.com")

    r = await api.post(URL, json=_body(keyfile))
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["ok"], out["account_id"], out["arn"]) == (True, PROJECT, keyfile["client_email"])
    assert [(c["operation"], c["status"]) for c in out["checks"]] == [
        ("bigquery:tables.list", "ok"),
        ("bigquery:jobs.query", "ok"),
    ]
    assert "COUNT(*)" in google.queries[-1]

    cases: list[tuple[dict[str, Any], dict[str, Any], set[str], str]] = [
        (keyfile, {"billingDataset": "other"}, set(), "Not found: Dataset proj-123456:other"),
        (
            keyfile,
            {"bigqueryLocation": "EU"},
            set(),
            "Not found: Dataset proj-123456:billing_export in location EU",
        ),
        (keyfile, {"billingTable": "gcp_billing_export_v1_X"}, set(), "Not found: Table"),
        (keyfile, {}, {"bigquery"}, "GCP permission denied: bigquery:tables.list"),
    ]
    for key, extra, deny, message in cases:
        google.deny = set(deny)
        out = (await api.post(URL, json=_body(key, **extra))).json()
        assert out["ok"] is True
        failed = out["checks"][-1]
        assert failed["status"] == ("denied" if deny else "error"), (extra, out)
        assert failed["message"].startswith(message), (extra, failed)

    google.deny = set()
    out = (await api.post(URL, json=_body(revoked))).json()
    assert out["ok"] is False
    assert out["error"].startswith("GCP authentication failed: google-auth:token")
    assert out["checks"] == []
    assert "PRIVATE KEY" not in str(out)
    assert await db.scalar(select(func.count()).select_from(CloudAccount)) == 0
