"""POST /cloud-accounts/test for Azure, against the Entra ID + ARM double with the real SDK
clients: the sign-in, the subscription, each role ok or denied with Azure's code; section 8's
error texts for the failures they name; nothing saved; never a secret in the answer."""

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.azure.doubles import SECRET, SUB, AzureFake, credentials
from tests.conftest import ClientFor
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.users.models import User

URL = "/cloud-accounts/test"


def _body(creds: dict[str, Any], sub: str = SUB) -> dict[str, Any]:
    return {"provider": "azure", "provider_account_id": sub, "credentials": creds}


async def test_a_service_principal_reaches_its_subscription_and_each_role_answers(
    azure: AzureFake, client_for: ClientFor, admin: User, db: AsyncSession
) -> None:
    azure.denied = {"advisor"}
    r = await client_for(admin).post(URL, json=_body(credentials()))
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["ok"], out["account_id"], out["account_matches"]) == (True, SUB, True)
    status = {c["operation"]: (c["status"], c["error_code"]) for c in out["checks"]}
    assert status == {
        "Microsoft.ResourceGraph/resources/read": ("ok", None),
        "Microsoft.CostManagement/query": ("ok", None),
        "Microsoft.Advisor/recommendations/read": ("denied", "AuthorizationFailed"),
    }
    assert SECRET not in r.text
    await db.rollback()
    assert await db.scalar(select(func.count()).select_from(CloudAccount)) == 0


async def test_each_failure_says_what_section_8_says(
    azure: AzureFake, client_for: ClientFor, admin: User
) -> None:
    other = "0f0e0d0c-0b0a-4999-8888-000000000000"
    cases: list[tuple[dict[str, Any], str, set[str], str, str]] = [
        (
            credentials(clientSecret="wrong"),
            SUB,
            set(),
            "AADSTS7000215",
            "Azure authentication failed",
        ),
        (
            credentials(subscriptionId=other),
            other,
            set(),
            "SubscriptionNotFound",
            "That Azure subscription was not found in this tenant",
        ),
        (
            credentials(),
            SUB,
            {"subscription"},
            "AuthorizationFailed",
            "The Azure service principal signed in but cannot read the subscription",
        ),
    ]
    client = client_for(admin)
    for creds, sub, denied, code, text in cases:
        azure.denied = denied
        r = await client.post(URL, json=_body(creds, sub))
        assert r.status_code == 200, r.text
        out = r.json()
        assert (out["ok"], out["error_code"], out["checks"]) == (False, code, []), out
        assert out["error"].startswith(text), out["error"]
        assert "wrong" not in r.text
        assert SECRET not in r.text


async def test_the_export_container_is_listed_and_a_private_sas_url_is_refused(
    azure: AzureFake, client_for: ClientFor, admin: User
) -> None:
    # The storage account path: Azurite is not started here, so the listing fails as an error
    # (a connection refused), while the ARM checks still answer.
    creds = credentials(exportStorageAccount="acmebilling", exportContainer="exports")
    r = await client_for(admin).post(URL, json=_body(creds))
    assert r.status_code == 200, r.text
    export = next(c for c in r.json()["checks"] if c["group"] == "Storage Blob Data Reader")
    assert export["status"] == "error"
    sas = credentials(exportSasUrl="https://10.0.0.5/exports?sv=2024&sig=abc")
    r = await client_for(admin).post(URL, json=_body(sas))
    assert r.status_code == 422, r.text
    assert "private or reserved address" in r.text
    assert "sig=abc" not in r.text


async def test_bad_azure_credentials_are_refused_by_name_and_nothing_is_saved(
    client_for: ClientFor, admin: User, db: AsyncSession
) -> None:
    cases = [
        (credentials(exportContainer="exports"), "exportContainer needs exportStorageAccount"),
        (
            credentials(
                exportStorageAccount="acme", exportContainer="xyz", exportSasUrl="https://a/b"
            ),
            "not both",
        ),
        (credentials(exportSasUrl="http://acme.blob.core.windows.net/c?sig=1"), "https://"),
        (credentials(exportStorageAccount="Not_Valid!", exportContainer="exports"), "pattern"),
        (credentials(exportStorageAccount="acme"), "needs exportContainer"),
        ({**credentials(), "extra": 1}, "extra"),
    ]
    client = client_for(admin)
    for creds, text in cases:
        r = await client.post(
            "/cloud-accounts",
            json={
                "provider": "azure",
                "name": "prod",
                "provider_account_id": SUB,
                "credentials": creds,
            },
        )
        assert r.status_code == 422, (creds, r.text)
        assert text in r.text, (text, r.text)
        assert "sig=1" not in r.text
    await db.rollback()
    assert await db.scalar(select(func.count()).select_from(CloudAccount)) == 0
