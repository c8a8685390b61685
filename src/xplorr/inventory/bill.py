"""An inventory read from the bill: the resources an account's cost rows name.

For accounts with no cloud API to ask (the demo accounts), a resource is what the cost store
says it is (``costs.query.billed_resources``): its id, provider, service, region, type, name
and tags as its newest cost row carries them, over the last ``WINDOW_DAYS`` days of the
account's data. A resource the bill stops naming is marked deleted by the next refresh, exactly
as the AWS collector marks a resource the API stops listing. A demo account's AWS resources are
completed with what a real collector would have found (``connectors.demo.resources``: instance
types and CPU series, unattached volumes, old snapshots, a free Elastic IP, an idle load
balancer), so the demo's recommendations have something real to show.
"""

from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.connectors.demo import resources as demo_resources
from xplorr.core import clock
from xplorr.core.jobs.registry import JobContext
from xplorr.core.tenancy import org_scope
from xplorr.costs import query
from xplorr.costs.query import CostQuery
from xplorr.inventory import types
from xplorr.inventory.service import Observed, SnapshotResult, apply_snapshot

VIRTUAL_MACHINE: Final = types.ResourceType.VIRTUAL_MACHINE.value

WINDOW_DAYS: Final = 30
SOURCE: Final = "bill"
ACTIVE: Final = "Active"  # billed on the account's last complete day (or the day before)
INACTIVE: Final = "Inactive"  # billed in the window, not lately


@dataclass(frozen=True, slots=True)
class BillRefresh:
    result: SnapshotResult
    warnings: tuple[str, ...] = ()


async def collect(ctx: JobContext, account: CloudAccount) -> BillRefresh:
    """The inventory collector of demo accounts (``connectors.demo.plugin``)."""
    return BillRefresh(await collect_from_bill(ctx.db, account))


def _name(resource_id: str, name: str | None) -> str:
    if name:
        return name
    tail = resource_id.rstrip("/").rsplit("/", 1)[-1]
    return tail.rsplit(":", 1)[-1] or resource_id


async def collect_from_bill(
    db: AsyncSession, account: CloudAccount, *, today: date | None = None
) -> SnapshotResult:
    """Refresh ``account``'s bill-derived inventory (one snapshot of every region)."""
    started = clock.now()
    scope = org_scope(account.org_id)
    through = (await query.data_through_by_account(db, scope, [account.id])).get(account.id)
    end = through or today or clock.now().date()
    found = await query.billed_resources(
        db,
        scope,
        CostQuery(
            start=end - timedelta(days=WINDOW_DAYS - 1),
            end=end,
            account_ids=frozenset({account.id}),
        ),
    )
    # The bill's ResourceType, under the inventory's type where inventory.types knows it.
    observed = [
        Observed.typed(
            r.provider if r.provider in ("aws", "azure", "gcp") else "aws",
            r.resource_type or r.service,
            region=r.region,
            service=r.service,
            resource_id=r.resource_id,
            name=_name(r.resource_id, r.resource_name),
            status=ACTIVE if r.last_day >= end - timedelta(days=1) else INACTIVE,
            tags=dict(r.tags),
            attributes={
                "first_billed": r.first_day.isoformat(),
                "last_billed": r.last_day.isoformat(),
            },
        )
        for r in found
    ]
    if (
        account.provider is Provider.DEMO
        and account.provider_account_id in demo_resources.AWS_ACCOUNTS
    ):
        observed = _with_demo_resources(observed, account.provider_account_id, end)
    return await apply_snapshot(db, account, observed, source=SOURCE, now=started)


def _with_demo_resources(observed: list[Observed], account: str, through: date) -> list[Observed]:
    """A demo account's AWS resources get what a real collector would add (instance types and
    CPU series, unattached volumes, old snapshots...): ``connectors.demo.resources``."""
    aws = [o for o in observed if o.provider == "aws"]
    if not aws:
        return observed
    out = []
    for o in observed:
        if o.provider == "aws" and o.resource_type == VIRTUAL_MACHINE and o.status == ACTIVE:
            status, facts = demo_resources.instance_facts(o.resource_id, through)
            o = replace(o, status=status, attributes={**o.attributes, **facts})
        out.append(o)
    regions = Counter(o.region for o in aws if o.region)
    region = regions.most_common(1)[0][0] if regions else "us-east-1"
    out.extend(
        Observed.typed(
            "aws",
            r.resource_type,  # AWS's type, as its collector reports it
            region=region,
            service=r.service,
            resource_id=r.resource_id,
            name=r.name,
            status=r.status,
            tags=dict(r.tags),
            attributes=dict(r.attributes),
        )
        for r in demo_resources.extras(account, region, through)
    )
    return out
