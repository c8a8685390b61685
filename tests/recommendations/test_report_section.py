"""The recommendations section of reports: the open, not snoozed recommendations the reader
sees, counted, their potential savings per currency (never added across currencies) and the
largest in one table per currency; alternatives for the same spend counted once; a report of
some accounts counts only theirs; nothing open: no section."""

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.cloud_accounts import make_account
from tests.factories.recommendations import make_recommendation
from xplorr.cloud_accounts.models import Provider
from xplorr.core import clock
from xplorr.core.report_sections import Kind, ReportScope, build_sections
from xplorr.core.tenancy import org_scope
from xplorr.orgs.models import Org
from xplorr.recommendations.models import RecommendationStatus
from xplorr.users.models import User

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


async def test_alternatives_for_the_same_spend_count_once(
    db: AsyncSession, org: Org, client_for: ClientFor, admin: User
) -> None:
    """One resource's actions (stop or upgrade an idle instance; delete or migrate a volume)
    and one account's commitment purchases (the cost-data rule, Cost Explorer's reservations
    and its Savings Plan) are alternatives: the total takes, per group, the type that saves
    most (two reservations are separate purchases: they add up), and says which share a
    group in the API."""
    aws = await make_account(db, org, provider=Provider.AWS, name="prod")
    staging = await make_account(db, org, provider=Provider.AWS, name="staging")
    await make_recommendation(db, aws, savings="70", resource_id="i-1")
    await make_recommendation(
        db, aws, savings="12", resource_id="i-1", type="upgrade_previous_generation"
    )
    await make_recommendation(
        db, aws, savings="10", resource_id="vol-1", type="delete_unattached_ebs_volume"
    )
    await make_recommendation(db, aws, savings="2", resource_id="vol-1", type="migrate_gp2_to_gp3")
    for kind, savings in (
        ("commitment_purchase", "60.83"),
        ("purchase_reserved_instances", "30"),
        ("purchase_reserved_instances", "25"),
        ("purchase_savings_plan", "50"),
    ):
        await make_recommendation(db, aws, savings=savings, type=kind, category="commitment")
    await make_recommendation(
        db, staging, savings="20", type="commitment_purchase", category="commitment"
    )

    (section,) = [
        s
        for s in await build_sections(db, ReportScope(who=org_scope(org.id), start=DAY, end=DAY))
        if s.key == "recommendations"
    ]
    # 70 (i-1) + 10 (vol-1) + max(60.83, 30 + 25, 50) (prod's commitments) + 20 (staging's),
    # not the 299.83 of adding them all.
    assert [(f.label, f.value) for f in section.figures] == [
        ("Open recommendations", 9),
        ("Potential savings USD", Decimal("160.83")),
    ]
    assert "count alternatives for the same spend once" in (section.note or "")

    listed = (await client_for(admin).get("/recommendations")).json()["data"]
    groups: dict[str, list[str]] = {}
    for r in listed:
        groups.setdefault(r["overlap_group"], []).append(r["type"])
    assert sorted(sorted(types) for types in groups.values()) == [
        ["commitment_purchase"],
        [
            "commitment_purchase",
            "purchase_reserved_instances",
            "purchase_reserved_instances",
            "purchase_savings_plan",
        ],
        ["delete_unattached_ebs_volume", "migrate_gp2_to_gp3"],
        ["stop_idle_instance", "upgrade_previous_generation"],
    ]
