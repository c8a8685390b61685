"""AWS in Xplorr: its sync source (``connector``: Data Exports in S3, or Cost Explorer), its
inventory collector (``collector``) and its connection test (``probe``), registered with the
connectors' registry (``xplorr.connectors``); boto3's side is imported when first called."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from xplorr.cloud_accounts.models import Provider
from xplorr.connectors import ProbeResult, lazily, register_provider

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from xplorr.core.settings import Settings
    from xplorr.core.tenancy import Principal


async def check_connection(
    db: AsyncSession,
    settings: Settings,
    who: Principal,
    account_id: str,
    credentials: dict[str, Any],
) -> ProbeResult:
    """``probe``, an IAM role assumed from the org's base keys when it saved some (as its syncs
    will), else from the server's own credentials."""
    from xplorr.connectors.aws.probe import probe
    from xplorr.connectors.aws.session import AwsCallError, org_base_keys

    try:
        base = await org_base_keys(db, settings, who.org_id, credentials)
    except AwsCallError as exc:
        return ProbeResult(ok=False, error=str(exc), error_code=exc.failure.code)
    return await anyio.to_thread.run_sync(
        functools.partial(probe, settings, account_id, credentials, base=base)
    )


register_provider(
    Provider.AWS,
    label="AWS",
    sync=lazily("xplorr.connectors.aws.connector", "run"),
    collect_inventory=lazily("xplorr.connectors.aws.collector", "collect_from_aws"),
    test_connection=check_connection,
)
