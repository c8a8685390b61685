"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs
from tests.matrix import ANY, Access, Case
from xplorr.costs.models import CostTagRollup
from xplorr.orgs.models import Org
from xplorr.users.models import User

ACCESS: dict[tuple[str, str], Access] = {
    # Cost reads: every role; members and viewers limited by account grants see only those.
    ("GET", "/api/v1/costs"): ANY,
    ("GET", "/api/v1/costs/trend"): ANY,
    # Discovery (beyond the reference): the same reads, listed by dimension and tag key.
    ("GET", "/api/v1/costs/dimensions"): ANY,
    ("GET", "/api/v1/costs/tags"): ANY,
    ("GET", "/api/v1/costs/tags/{key}/values"): ANY,
}


async def _tagged(db: AsyncSession, org: Org, owner: User) -> uuid.UUID:
    """A cost of org A tagged with a key of its own (the id the path carries)."""
    key = uuid.uuid4()
    account = await make_account(db, org)
    await add_costs(
        db, account, [{"usage_date": "2024-09-01", "billed_cost": "1", "tags": {str(key): "x"}}]
    )
    return key


async def _tag_rows(db: AsyncSession, key: uuid.UUID) -> dict[str, Any]:
    rows = await db.execute(
        select(CostTagRollup.tag_value, CostTagRollup.billed_cost).where(
            CostTagRollup.tag_key == str(key)
        )
    )
    return {"rows": sorted(rows.all())}


TENANCY = {
    # A tag key only another organization's costs carry is not found (never its values).
    "/api/v1/costs/tags/{key}/values": Case(_tagged, _tag_rows),
}
