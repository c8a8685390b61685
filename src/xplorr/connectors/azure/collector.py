"""The Azure inventory collector: ``connectors.azure.inventory`` read in a thread, recorded as one
snapshot of the resource types it read completely, and Advisor's cost recommendations stored
(``advisor`` area) when they could be read.

As the AWS collector: the credentials are decrypted in memory for the scan only, the job's
connection is released before the first Azure call and the account read again afterwards;
refused reads (a role the service principal lacks) are warnings and leave their rows as they
were; refused credentials fail the job at once (``PermanentJobError``); Azure being unavailable
is retried with the job's backoff.
"""

from dataclasses import dataclass

from xplorr.advisor import service as advisor
from xplorr.cloud_accounts.credentials import job_credentials
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.connectors import ConnectorError
from xplorr.connectors.azure import session as azure
from xplorr.connectors.azure.inventory import Scan, scan_subscription
from xplorr.core import clock
from xplorr.core.jobs.registry import JobContext, PermanentJobError
from xplorr.inventory.service import SnapshotResult, record_scan

PROVIDER = "azure"
ADVISOR_SOURCE = "azure-advisor"


@dataclass(frozen=True, slots=True)
class AzureRefresh:
    result: SnapshotResult
    warnings: list[str]
    recommendations: int | None  # stored; None: Advisor not read


async def collect_from_azure(ctx: JobContext, account: CloudAccount) -> AzureRefresh | None:
    """Scan ``account``'s subscription and record the snapshot; None when it was disconnected
    meanwhile."""
    started = clock.now()
    account_id = account.id
    credentials = await job_credentials(ctx, account)
    await ctx.release_connection()
    try:
        session = azure.open_session(ctx.settings, credentials)
        try:
            scan: Scan = await azure.run(scan_subscription, session)
        finally:
            session.close()
    except ConnectorError as exc:  # AzureCallError included: refused credentials
        raise PermanentJobError(str(exc)) from exc
    recorded = await record_scan(
        ctx, account_id, scan.resources, provider=PROVIDER, scopes=scan.scopes, now=started
    )
    if recorded is None:
        return None
    current, result = recorded
    stored = None
    if scan.recommendations is not None:
        stored = await advisor.replace(
            ctx.db,
            current,
            (
                advisor.Found(
                    recommendation_id=r.recommendation_id,
                    resource_id=r.resource_id,
                    category=r.category,
                    impact=r.impact,
                    problem=r.problem,
                    solution=r.solution,
                    savings_amount=r.savings_amount,
                    annual_savings_amount=r.annual_savings_amount,
                    currency=r.currency,
                    details=r.details,
                    last_updated=r.last_updated,
                )
                for r in scan.recommendations
            ),
            provider="azure",
            source=ADVISOR_SOURCE,
            now=started,
        )
    return AzureRefresh(result, scan.warnings, stored)


__all__ = ["AzureRefresh", "collect_from_azure"]
