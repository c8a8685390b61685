"""Typed factories for cloud accounts and account grants (add, commit, return).

Credentials are encrypted for real (``core.crypto``) under the test suite's secret key, the one
``tests.conftest.make_settings`` gives every app, so the app and ``decrypt_credentials`` read them.
"""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.credentials import store_credentials
from xplorr.cloud_accounts.models import AccountGrant, CloudAccount, Provider
from xplorr.core.settings import Settings
from xplorr.orgs.models import Org
from xplorr.users.models import User

_DEFAULT_CREDENTIALS: dict[Provider, dict[str, Any]] = {
    Provider.AWS: {"roleName": "xplorr-readonly", "externalId": None, "region": "us-east-1"},
    Provider.AZURE: {
        "clientId": "11111111-2222-3333-4444-555555555555",
        "tenantId": "66666666-7777-8888-9999-000000000000",
        "clientSecret": "azure-client-secret-value",
        "subscriptionId": "",  # set to the account's provider_account_id
    },
    Provider.GCP: {
        "projectId": "",  # set to the account's provider_account_id
        "keyfileJson": {"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----"},
        "billingDataset": "billing_export",
        "billingTable": "gcp_billing_export_v1_*",
        "bigqueryLocation": "US",
        "billingAccountId": None,
        "regions": ["us-central1", "us-east1", "europe-west1"],
    },
    Provider.FOCUS: {"path": "/nonexistent/focus-exports"},
    Provider.DEMO: {},
}


def _test_settings() -> Settings:
    from tests.conftest import TEST_SECRET

    return Settings(secret_key=TEST_SECRET, previous_secret_keys=[])  # type: ignore[arg-type]


def _default_account_id(provider: Provider) -> str:
    if provider is Provider.AWS:
        return str(uuid.uuid4().int)[:12].rjust(12, "1")
    if provider is Provider.AZURE:
        return str(uuid.uuid4())
    if provider is Provider.GCP:
        return f"project-{uuid.uuid4().hex[:10]}"
    return f"{provider.value}-{uuid.uuid4().hex[:10]}"


async def make_account(
    db: AsyncSession,
    org: Org,
    *,
    provider: Provider = Provider.FOCUS,
    name: str | None = None,
    provider_account_id: str | None = None,
    credentials: dict[str, Any] | None = None,
    settings: Settings | None = None,
) -> CloudAccount:
    """A cloud account of ``org`` with real encrypted credentials (a plausible default shape per
    provider, or ``credentials``). ``settings``: whose secret key encrypts (default: the suite's
    ``TEST_SECRET``, as every test app uses)."""
    account_id = provider_account_id or _default_account_id(provider)
    if credentials is None:
        credentials = dict(_DEFAULT_CREDENTIALS[provider])
        if provider is Provider.AZURE:
            credentials["subscriptionId"] = account_id
        if provider is Provider.GCP:
            credentials["projectId"] = account_id
    account = CloudAccount(
        id=uuid.uuid4(),
        org_id=org.id,
        provider=provider,
        name=name or f"{provider.value} account {account_id}",
        provider_account_id=account_id,
    )
    await store_credentials(db, settings or _test_settings(), account, credentials)
    db.add(account)
    await db.commit()
    return account


async def grant(db: AsyncSession, user: User, account: CloudAccount) -> AccountGrant:
    """Limit ``user`` to ``account`` (plus any other account granted the same way)."""
    row = AccountGrant(org_id=account.org_id, user_id=user.id, cloud_account_id=account.id)
    db.add(row)
    restricted = await db.get(User, user.id)
    assert restricted is not None
    restricted.account_access_restricted = True
    await db.commit()
    return row


async def _tenant_account(db: AsyncSession, org: Org, _user: User) -> uuid.UUID:
    return (await make_account(db, org)).id


TENANT_FACTORIES = {CloudAccount: _tenant_account}
