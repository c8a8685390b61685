"""The emailed daily digest lists the open recommendations per currency (never added
together): count, potential monthly savings, the largest ones; snoozed and closed ones not."""

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from tests.costs.conftest import Dataset
from tests.factories.recommendations import make_recommendation
from tests.factories.reports import make_digest
from tests.mail import Mailbox, html_of, text_of
from tests.reports.test_digests import send
from xplorr.core.settings import Settings
from xplorr.orgs.models import Org
from xplorr.recommendations.models import RecommendationStatus
from xplorr.users.models import User


async def test_open_recommendations_per_currency_in_the_email(
    db: AsyncSession, org: Org, admin: User, data: Dataset, mailbox: Mailbox, settings: Settings
) -> None:
    big = await make_recommendation(db, data.aws, savings="70.08", resource_id="i-big")
    await make_recommendation(db, data.aws, savings="12.50", resource_id="i-small")
    await make_recommendation(db, data.gcp, savings="9.99", currency="EUR", resource_id="vm-eu")
    await make_recommendation(
        db, data.aws, savings="500", resource_id="i-done", status=RecommendationStatus.DISMISSED
    )
    await make_recommendation(
        db, data.aws, savings="400", resource_id="i-later", snoozed_until=date(2999, 1, 1)
    )
    row = await make_digest(db, org, admin)
    await send(settings, org, row.id)
    (msg,) = mailbox.to("team@example.com")
    text = text_of(msg)
    assert "Open recommendations (USD): 2, potential savings $82.58 a month" in text
    assert f"  {big.title}: $70.08 a month" in text
    assert "Open recommendations (EUR): 1, potential savings €9.99 a month" in text
    assert "i-done" not in text
    assert "i-later" not in text
    assert text.count("Open recommendations") == 2  # the report section is not repeated
    assert "potential savings <strong>$82.58</strong> a month" in html_of(msg)
