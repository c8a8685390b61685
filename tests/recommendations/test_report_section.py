"""The recommendations section of reports: the open, not snoozed recommendations the reader
sees, counted, their potential savings per currency (never added across currencies) and the
largest in one table per currency; a report of some accounts counts only theirs; nothing open:
no section."""

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.cloud_accounts import make_account
from tests.factories.recommendations import make_recommendation
from xplorr.cloud_accounts.models import Provider
from xplorr.core import clock
from xplorr.core.report_sections import Kind, ReportScope, build_sections
from xplorr.core.tenancy import org_scope
from xplorr.orgs.models import Org
from xplorr.recommendations.models import RecommendationStatus

DAY = date(2024, 9, 15)


async def test_open_recommendations_per_currency_and_narrowed_to_accounts(
    db: AsyncSession, org: Org, other_org: Org
) -> None:
    who = org_scope(org.id)
    assert [
        s.key for s in await build_sections(db, ReportScope(who=who, start=DAY, end=DAY))
    ] == []  # nothing open: no section
    aws = await make_account(db, org, provider=Provider.AWS, name="prod")
    azure = await make_account(db, org, provider=Provider.AZURE, name="azure")
    big = await make_recommendation(db, aws, savings="120.505")
    small = await make_recommendation(db, aws, savings="60.74")
    eur = await make_recommendation(
        db, azure, savings="10", currency="EUR", provider="azure", type="azure_advisor_idle"
    )
    await make_recommendation(db, aws, savings="999", status=RecommendationStatus.DISMISSED)
    await make_recommendation(db, aws, savings="998", status=RecommendationStatus.APPLIED)
    await make_recommendation(
        db, aws, savings="997", snoozed_until=clock.now().date() + timedelta(days=2)
    )
    await make_recommendation(db, await make_account(db, other_org), savings="5000")

    (section,) = [
        s
        for s in await build_sections(db, ReportScope(who=who, start=DAY, end=DAY))
        if s.key == "recommendations"
    ]
    assert [(f.label, f.value, f.kind, f.currency) for f in section.figures] == [
        ("Open recommendations", 3, Kind.NUMBER, None),
        ("Potential savings EUR", Decimal("10.00"), Kind.MONEY, "EUR"),
        ("Potential savings USD", Decimal("181.25"), Kind.MONEY, "USD"),
    ]
    assert [(t.title, t.currency) for t in section.tables] == [
        ("Top open recommendations EUR", "EUR"),
        ("Top open recommendations USD", "USD"),
    ]
    usd = section.tables[1]
    assert usd.rows == tuple(
        (r.title, r.type, "aws", r.resource_name, "us-east-1", "medium", Decimal(amount))
        for r, amount in ((big, "120.51"), (small, "60.74"))
    )
    assert str(section.tables[0].rows[0][-1]) == "10.00"
    assert section.tables[0].rows[0][0] == eur.title

    narrowed = await build_sections(
        db, ReportScope(who=who, start=DAY, end=DAY, account_ids=frozenset({azure.id}))
    )
    (only,) = [s for s in narrowed if s.key == "recommendations"]
    assert [(f.label, f.value) for f in only.figures] == [
        ("Open recommendations", 1),
        ("Potential savings EUR", Decimal("10.00")),
    ]
