"""Reading deliveries: the caller's own, or (owners and admins) the organization's."""

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core.pagination import Page, PageParams, paginate
from xplorr.core.tenancy import Principal, org_select
from xplorr.notifications.models import DeliveryStatus, NotificationDelivery
from xplorr.notifications.schemas import DeliveryOut


async def list_deliveries(
    db: AsyncSession, who: Principal, page: PageParams, status: DeliveryStatus | None
) -> Page[DeliveryOut]:
    """Newest first. Members and viewers see the deliveries addressed to them; owners and
    admins every delivery of the org (webhooks and failures included)."""
    stmt = org_select(NotificationDelivery, who)
    if not who.is_admin:
        stmt = stmt.where(NotificationDelivery.user_id == who.user_id)
    if status is not None:
        stmt = stmt.where(NotificationDelivery.status == status)
    stmt = stmt.order_by(NotificationDelivery.created_at.desc(), NotificationDelivery.id)
    return await paginate(db, stmt, page, DeliveryOut.model_validate)
