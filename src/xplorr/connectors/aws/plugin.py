"""AWS in Xplorr: its sync source (``connector``: Data Exports in S3, or Cost Explorer), its
inventory collector (``collector``) and its connection test (``probe``), registered with the
connectors' registry. Light on purpose: each imports boto3's side only when called."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.connectors import ProbeResult, SyncContext, register_provider

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from xplorr.connectors.aws.collector import AwsRefresh
    from xplorr.core.jobs.registry import JobContext
    from xplorr.core.settings import Settings
    from xplorr.core.tenancy import Principal
    from xplorr.ingest.pipeline import ImportSummary


async def sync(
    ctx: SyncContext, account: CloudAccount, credentials: dict[str, Any]
) -> ImportSummary:
    from xplorr.connectors.aws.connector import run

    return await run(ctx, account, credentials)


async def collect_inventory(ctx: JobContext, account: CloudAccount) -> AwsRefresh | None:
    from xplorr.connectors.aws.collector import collect_from_aws

    return await collect_from_aws(ctx, account)


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
    sync=sync,
    collect_inventory=collect_inventory,
    test_connection=check_connection,
)
