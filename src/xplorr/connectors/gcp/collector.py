"""The Google Cloud inventory collector: ``connectors.gcp.inventory`` read in a thread, recorded
as one snapshot of the resource types it read completely, and the project's Recommender
recommendations stored with the other providers' (``advisor.service``) for the savings area.

As for AWS (``connectors.aws.collector``): the credentials are decrypted in memory for the scan
only; the job's transaction is ended before the first Google call; refused calls are warnings
that leave their rows as they were; a refused key fails the job at once (``PermanentJobError``);
Google being unavailable is retried with the job's backoff.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.advisor import service as advisor
from xplorr.cloud_accounts.credentials import job_credentials
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.connectors.gcp import session as gcp
from xplorr.connectors.gcp.inventory import FoundRecommendation, Scan, scan_project
from xplorr.core import clock
from xplorr.core.jobs.registry import JobContext, PermanentJobError
from xplorr.inventory.service import SnapshotResult, record_scan

PROVIDER = "gcp"
RECOMMENDER_SOURCE = "gcp-recommender"


@dataclass(frozen=True, slots=True)
class GcpRefresh:
    result: SnapshotResult
    recommendations: int
    warnings: list[str]


async def store_recommendations(
    db: AsyncSession,
    account: CloudAccount,
    found: list[FoundRecommendation],
    *,
    complete: bool,
    now: datetime,
) -> int:
    """The recommendations seen, through the providers' recommendations store (``advisor``):
    upserted; when the listing was complete, the others removed."""
    return await advisor.replace(
        db,
        account,
        (
            advisor.Found(
                recommendation_id=f.recommendation_id,
                resource_id=f.resource_id,
                category="Cost",  # only cost recommenders are read (``RECOMMENDERS``)
                problem=f.description,
                savings_amount=f.monthly_savings,
                currency=f.currency,
                details=f.details,
                recommender=f.recommender,
                kind=f.kind,
                location=f.location,
                state=f.state,
            )
            for f in found
        ),
        provider=PROVIDER,
        source=RECOMMENDER_SOURCE,
        now=now,
        complete=complete,
    )


async def collect_from_gcp(ctx: JobContext, account: CloudAccount) -> GcpRefresh | None:
    """Scan ``account``'s project and record the snapshot; None when it was disconnected."""
    started = clock.now()
    account_id = account.id
    credentials = await job_credentials(ctx, account)
    await ctx.release_connection()
    try:
        session = await gcp.run(gcp.open_session, ctx.settings, credentials)
        scan: Scan = await gcp.run(scan_project, session)
    except gcp.GcpCallError as exc:
        raise PermanentJobError(str(exc)) from exc
    recorded = await record_scan(
        ctx, account_id, scan.resources, provider=PROVIDER, scopes=scan.scopes, now=started
    )
    if recorded is None:
        return None
    current, result = recorded
    stored = await store_recommendations(
        ctx.db, current, scan.recommendations, complete=scan.recommendations_complete, now=started
    )
    return GcpRefresh(result, stored, scan.warnings)
