"""Collectors of owned commitments: the AWS APIs for AWS accounts, the bill for demo accounts.

Both write through ``record``: a commitment seen again is updated, a new one added, and one
missing from a scope the collector read completely (``<service>:<region>``) is deleted: AWS
lists only live commitments, so a missing one has expired or been sold and has nothing left
to expire. A scope whose read was refused keeps its rows as they were.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.credentials import decrypt_credentials
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.commitments.classify import commitment_kind
from xplorr.commitments.models import Commitment
from xplorr.connectors.aws import session as aws
from xplorr.connectors.aws.commitments import CommitmentScan, FoundCommitment, read_commitments
from xplorr.core import clock
from xplorr.core.crypto import CryptoError
from xplorr.core.jobs.registry import JobContext, PermanentJobError
from xplorr.core.tenancy import org_scope
from xplorr.costs import query
from xplorr.costs.query import CostQuery

DEMO_WINDOW_DAYS: Final = 30
# Demo terms: days left at collection per provider, so that the demo shows one commitment
# inside the 30-day expiry notice and others further out.
DEMO_DAYS_LEFT: Final = {"aws": 21, "azure": 143, "gcp": 290}
DEMO_TERM_DAYS: Final = {"aws": 365, "azure": 3 * 365, "gcp": 365}


@dataclass(frozen=True, slots=True)
class Recorded:
    added: int
    updated: int
    removed: int
    warnings: tuple[str, ...] = ()


def scope_of(service: str, region: str | None) -> str:
    return "savingsplans:global" if service == "savingsplans" else f"{service}:{region or 'global'}"


async def record(
    db: AsyncSession,
    account: CloudAccount,
    found: Iterable[FoundCommitment],
    *,
    complete: set[str],
    source: str,
    provider: str,
) -> Recorded:
    """Upsert ``found`` as ``account``'s commitments; delete those of ``complete`` scopes that
    were not found (see the module docstring)."""
    now = clock.now()
    rows = {
        c.commitment_id: c
        for c in (
            await db.scalars(select(Commitment).where(Commitment.cloud_account_id == account.id))
        ).all()
    }
    seen: set[str] = set()
    added = updated = 0
    for f in found:
        seen.add(f.commitment_id)
        values = {
            "kind": f.kind,
            "service": f.service,
            "region": f.region,
            "description": f.description[:500],
            "resource_type": f.resource_type,
            "count": f.count,
            "state": f.state,
            "start_at": f.start,
            "end_at": f.end,
            "payment_option": f.payment_option,
            "hourly_cost": f.hourly_cost,
            "upfront_cost": f.upfront_cost,
            "currency": f.currency,
            "source": source,
            "last_seen_at": now,
        }
        row = rows.get(f.commitment_id)
        if row is None:
            db.add(
                Commitment(
                    org_id=account.org_id,
                    cloud_account_id=account.id,
                    provider=provider,
                    commitment_id=f.commitment_id,
                    **values,
                )
            )
            added += 1
        else:
            for name, value in values.items():
                setattr(row, name, value)
            updated += 1
    removed = 0
    for cid, row in rows.items():
        if cid not in seen and scope_of(row.service, row.region) in complete:
            await db.delete(row)
            removed += 1
    await db.flush()
    return Recorded(added, updated, removed)


async def collect_from_aws(ctx: JobContext, account: CloudAccount) -> Recorded | None:
    """Read the account's commitments from AWS and record them; None when the account was
    disconnected meanwhile. Bad credentials fail at once (``PermanentJobError``, naming the
    call); AWS unavailable raises ``AwsUnavailable`` for the job's retry."""
    account_id, provider_account_id = account.id, account.provider_account_id
    try:
        credentials = await decrypt_credentials(ctx.db, ctx.settings, account)
    except CryptoError as exc:
        raise PermanentJobError(
            "The account's stored credentials cannot be decrypted; update the credentials."
        ) from exc
    try:
        base = await aws.org_base_keys(ctx.db, ctx.settings, account.org_id, credentials)
    except aws.AwsCallError as exc:
        raise PermanentJobError(str(exc)) from exc
    await ctx.release_connection()  # no transaction held while AWS answers
    try:
        session = await aws.connect(
            ctx.settings, provider_account_id, credentials, base=base, purpose="commitments"
        )
        scan: CommitmentScan = await aws.run(read_commitments, session)
    except aws.AwsCallError as exc:
        raise PermanentJobError(str(exc)) from exc
    current = await ctx.db.scalar(
        select(CloudAccount).where(CloudAccount.id == account_id, CloudAccount.org_id == ctx.org_id)
    )
    if current is None:
        return None
    done = await record(
        ctx.db, current, scan.commitments, complete=scan.complete, source="api", provider="aws"
    )
    return Recorded(done.added, done.updated, done.removed, tuple(scan.warnings))


async def collect_from_bill(db: AsyncSession, account: CloudAccount) -> Recorded:
    """Demo accounts: the commitments their bill names (CommitmentDiscountId of the last
    ``DEMO_WINDOW_DAYS`` days), with a term made up for the demo (``DEMO_DAYS_LEFT``) and an
    hourly cost equal to the covered usage's amortised cost. Stored with ``source = "demo"``:
    a bill carries no end date, so for real accounts only a provider's API fills this table."""
    scope = org_scope(account.org_id)
    through = (await query.data_through_by_account(db, scope, [account.id])).get(account.id)
    end = through or clock.now().date()
    start = end - timedelta(days=DEMO_WINDOW_DAYS - 1)
    lines = await query.pricing_lines(
        db, scope, CostQuery(start=start, end=end, account_ids=frozenset({account.id}))
    )
    used: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    kinds: dict[str, str] = {}
    for line in lines:
        if line.commitment_id is None:
            continue
        used[(line.commitment_id, line.currency)] += line.effective
        kinds[line.commitment_id] = commitment_kind(
            line.commitment_type, line.commitment_category, line.commitment_id
        )
    billed = lines[0].provider if lines else str(account.provider)
    today = clock.now().date()
    found = []
    for (cid, currency), amount in sorted(used.items()):
        left = DEMO_DAYS_LEFT.get(billed, 180)
        term = DEMO_TERM_DAYS.get(billed, 365)
        ends = datetime.combine(today + timedelta(days=left), time(0), tzinfo=UTC)
        kind = kinds[cid]
        label = "Savings Plan" if kind == "savings_plan" else "Reservation"
        found.append(
            FoundCommitment(
                commitment_id=cid,
                kind="savings_plan" if kind == "savings_plan" else "reserved_instance",
                service="demo",
                region=None,
                description=f"{label} covering {billed.upper()} usage (demo term)",
                resource_type=None,
                count=1,
                state="active",
                start=ends - timedelta(days=term),
                end=ends,
                payment_option="No Upfront",
                hourly_cost=(amount / DEMO_WINDOW_DAYS / 24).quantize(Decimal("0.000001")),
                upfront_cost=Decimal(0),
                currency=currency,
            )
        )
    return await record(
        db, account, found, complete={"demo:global"}, source="demo", provider=billed
    )
