"""Organization settings rows for tests (add, commit, return)."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core.crypto import OrgCipher
from xplorr.core.settings import Settings
from xplorr.notifications.webhooks import mask
from xplorr.orgs.models import Org
from xplorr.settings.models import SLACK_WEBHOOK, TEAMS_WEBHOOK, OrgSetting
from xplorr.settings.service import OrgSettings


async def make_org_settings(
    db: AsyncSession,
    org: Org,
    *,
    settings: Settings | None = None,
    slack_webhook: str | None = None,
    teams_webhook: str | None = None,
    **values: Any,
) -> OrgSetting:
    """The org's settings row: the defaults, ``values`` over them, and the webhooks sealed
    (``settings``: the keys to seal them with, needed with a webhook)."""
    defaults = OrgSettings()
    fields = {
        name: getattr(defaults, name)
        for name in defaults.__dataclass_fields__
        if not name.startswith("has_")
    }
    row = OrgSetting(id=uuid.uuid4(), org_id=org.id, **{**fields, **values})
    db.add(row)
    await db.flush()
    for url, column, hint in (
        (slack_webhook, SLACK_WEBHOOK, "slack_webhook_hint"),
        (teams_webhook, TEAMS_WEBHOOK, "teams_webhook_hint"),
    ):
        if url is not None:
            assert settings is not None, "sealing a webhook needs the test's settings"
            cipher = await OrgCipher.load(db, settings, org.id)
            await cipher.seal_column(db, column, row, url.encode())
            setattr(row, hint, mask(url))
    await db.commit()
    return row
