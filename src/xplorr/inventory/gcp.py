"""The Google Cloud inventory collector: ``connectors.gcp.inventory`` read in a thread, recorded
as one snapshot of the resource types it read completely, and the project's Recommender
recommendations stored in ``cloud_recommendations`` for the savings area.

As for AWS (``inventory.aws``): the credentials are decrypted in memory for the scan only; the
job's transaction is ended before the first Google call; refused calls are warnings that leave
their rows as they were; a refused key fails the job at once (``PermanentJobError``); Google
being unavailable is retried with the job's backoff.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.credentials import decrypt_credentials
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.connectors.gcp import session as gcp
from xplorr.connectors.gcp.inventory import FoundRecommendation, Scan, scan_project
from xplorr.core import clock, money
from xplorr.core.crypto import CryptoError
from xplorr.core.jobs.registry import JobContext, PermanentJobError
from xplorr.core.tenancy import org_scope, org_select
from xplorr.inventory.models import CloudRecommendation
from xplorr.inventory.service import Observed, SnapshotResult, apply_snapshot

SOURCE = "api"
PROVIDER = "gcp"


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
    """Upsert the recommendations seen; when the listing was complete, remove the others."""
    stmt = org_select(CloudRecommendation, org_scope(account.org_id)).where(
        CloudRecommendation.cloud_account_id == account.id,
        CloudRecommendation.provider == PROVIDER,
    )
    existing = {r.recommendation_id: r for r in (await db.scalars(stmt)).all()}
    seen: set[str] = set()
    for f in found:
        if f.recommendation_id in seen:
            continue
        seen.add(f.recommendation_id)
        savings = money.quantize_store(f.monthly_savings) if f.monthly_savings is not None else None
        values = {
            "recommender": f.recommender,
            "kind": f.kind,
            "location": f.location,
            "resource_id": f.resource_id,
            "description": f.description,
            "state": f.state,
            "monthly_savings": savings,
            "currency": f.currency,
            "details": f.details,
            "last_seen_at": now,
        }
        row = existing.get(f.recommendation_id)
        if row is None:
            db.add(
                CloudRecommendation(
                    org_id=account.org_id,
                    cloud_account_id=account.id,
                    provider=PROVIDER,
                    recommendation_id=f.recommendation_id,
                    **values,
                )
            )
        else:
            for name, value in values.items():
                setattr(row, name, value)
    if complete:
        gone = [rid for rid in existing if rid not in seen]
        if gone:
            await db.execute(
                delete(CloudRecommendation).where(
                    CloudRecommendation.org_id == account.org_id,
                    CloudRecommendation.cloud_account_id == account.id,
                    CloudRecommendation.recommendation_id.in_(gone),
                )
            )
    await db.flush()
    return len(seen)


async def collect_from_gcp(ctx: JobContext, account: CloudAccount) -> GcpRefresh | None:
    """Scan ``account``'s project and record the snapshot; None when it was disconnected."""
    started = clock.now()
    account_id = account.id
    try:
        credentials = await decrypt_credentials(ctx.db, ctx.settings, account)
    except CryptoError as exc:
        raise PermanentJobError(
            "The account's stored credentials cannot be decrypted; update the credentials."
        ) from exc
    await ctx.release_connection()
    try:
        session = await gcp.run(gcp.open_session, ctx.settings, credentials)
        scan: Scan = await gcp.run(scan_project, session)
    except gcp.GcpCallError as exc:
        raise PermanentJobError(str(exc)) from exc
    current = await ctx.db.scalar(
        select(CloudAccount).where(CloudAccount.id == account_id, CloudAccount.org_id == ctx.org_id)
    )
    if current is None:
        return None
    result = await apply_snapshot(
        ctx.db,
        current,
        (
            Observed(
                provider=r.provider,
                region=r.region,
                service=r.service,
                resource_type=r.resource_type,
                resource_id=r.resource_id,
                name=r.name,
                status=r.status,
                tags=r.tags,
                attributes=r.attributes,
            )
            for r in scan.resources
        ),
        source=SOURCE,
        scopes=scan.scopes,
        now=started,
    )
    stored = await store_recommendations(
        ctx.db, current, scan.recommendations, complete=scan.recommendations_complete, now=started
    )
    return GcpRefresh(result, stored, scan.warnings)
