"""Detection: the rule of section 11 on hand-made series, and the whole path (cost store ->
costs.query -> detect -> anomalies) run by the real worker after a cost change, on both
databases, with exact answers."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs, mark_imported
from tests.factories.settings import make_org_settings
from tests.mail import run_jobs
from xplorr.anomalies import detect as rules
from xplorr.anomalies import service
from xplorr.anomalies.models import Anomaly, AnomalyStatus, Direction, Scope, Severity
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core.events import emit
from xplorr.core.settings import Settings
from xplorr.costs.events import CostDataChanged
from xplorr.costs.query import DayCost
from xplorr.orgs.models import Org

D = Decimal
SEPT1 = date(2024, 9, 1)


def week_then(day8: str, base: str = "100") -> list[DayCost]:
    return [DayCost(SEPT1 + timedelta(days=i), D(base)) for i in range(7)] + [
        DayCost(SEPT1 + timedelta(days=7), D(day8))
    ]


@pytest.mark.parametrize(
    ("day8", "severity", "percent"),
    [
        ("165", Severity.LOW, D("65.00")),
        ("250", Severity.MEDIUM, D("150.00")),
        ("420", Severity.HIGH, D("320.00")),
        ("750", Severity.CRITICAL, D("650.00")),
        ("200", Severity.MEDIUM, D("100.00")),
        ("600", Severity.CRITICAL, D("500.00")),
    ],
)
def test_the_docs_examples(day8: str, severity: Severity, percent: Decimal) -> None:
    [f] = rules.find(week_then(day8), SEPT1, date(2024, 9, 8))
    assert (f.day, f.actual, f.baseline, f.percent) == (date(2024, 9, 8), D(day8), 100, percent)
    assert (f.severity, f.direction) == (severity, Direction.SPIKE)


def test_not_anomalies() -> None:
    assert rules.find(week_then("150"), SEPT1, date(2024, 9, 8)) == []  # exactly 50 %
    # 400 % above, but 4 above the baseline: under the noise floor of 10.
    assert rules.find(week_then("5", base="1"), SEPT1, date(2024, 9, 8)) == []
    assert rules.find(week_then("5", base="1"), SEPT1, date(2024, 9, 8), noise_floor=D(3))
    # A scope with less than 7 days of history is not judged (zeros before its start).
    late = [DayCost(SEPT1 + timedelta(days=i), D(0 if i < 2 else 100)) for i in range(8)]
    late[-1] = DayCost(late[-1].day, D(900))
    assert rules.find(late, SEPT1, date(2024, 9, 8)) == []
    # Drops only when asked.
    assert rules.find(week_then("20"), SEPT1, date(2024, 9, 8)) == []
    [drop] = rules.find(week_then("20"), SEPT1, date(2024, 9, 8), drops=True)
    assert (drop.direction, drop.percent, drop.severity) == (
        Direction.DROP,
        D("-80.00"),
        Severity.LOW,
    )


async def _costs(db: AsyncSession, a: CloudAccount, b: CloudAccount) -> None:
    """Account A: AmazonEC2 100/day (i-1) and AmazonS3 50/day, 09-01..09-10; on 09-08 EC2 adds
    i-2 at 150 (EC2 250: +150 %; A's total 300 against 150: +100 %). Account B: 200/day. The
    organization: 450 against 350 on 09-08 (+28.6 %: no anomaly)."""
    rows: list[dict[str, object]] = []
    for i in range(10):
        day = SEPT1 + timedelta(days=i)
        rows.append({"usage_date": day, "billed_cost": "100", "resource_id": "i-1"})
        rows.append({"usage_date": day, "billed_cost": "50", "service_name": "AmazonS3"})
    rows.append(
        {
            "usage_date": "2024-09-08",
            "billed_cost": "150",
            "resource_id": "i-2",
            "sku_id": "m5",
            "service_subcategory": "Virtual Machines",
        }
    )
    await add_costs(db, a, rows)
    await add_costs(
        db, b, [{"usage_date": SEPT1 + timedelta(days=i), "billed_cost": "200"} for i in range(10)]
    )
    await mark_imported(db, a)
    await mark_imported(db, b)


async def _anomalies(db: AsyncSession, org: Org) -> list[Anomaly]:
    rows = await db.scalars(
        select(Anomaly)
        .where(Anomaly.org_id == org.id)
        .order_by(Anomaly.scope_key)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def test_a_spike_gives_one_anomaly_per_scope_and_a_rerun_none(
    db: AsyncSession, org: Org, other_org: Org, settings: Settings
) -> None:
    a = await make_account(db, org, name="prod")
    b = await make_account(db, org, name="staging")
    await _costs(db, a, b)
    foreign = await make_account(db, other_org)
    await add_costs(db, foreign, [{"usage_date": "2024-09-08", "billed_cost": "5000"}])

    await emit(
        db,
        CostDataChanged(
            org_id=org.id, cloud_account_id=a.id, first_day=SEPT1, last_day=date(2024, 9, 10)
        ),
    )
    await db.commit()
    await run_jobs(settings)

    found = await _anomalies(db, org)
    assert [(x.scope, x.cloud_account_id, x.service_name, x.usage_date) for x in found] == [
        (Scope.ACCOUNT, a.id, None, date(2024, 9, 8)),
        (Scope.SERVICE, a.id, "Amazon Elastic Compute Cloud", date(2024, 9, 8)),
    ]
    total, ec2 = found
    assert (total.actual_cost, total.baseline_cost, total.severity) == (300, 150, Severity.MEDIUM)
    assert (ec2.actual_cost, ec2.baseline_cost, ec2.severity) == (250, 100, Severity.MEDIUM)
    assert ec2.status is AnomalyStatus.OPEN
    assert ec2.currency == "USD"
    assert ec2.root_cause == [
        {
            "dimension": "resource",
            "key": "i-2",
            "name": "i-2",
            "actual": "150.000000000",
            "baseline": "0.000000000",
        },
        {
            "dimension": "sku",
            "key": "m5",
            "name": "m5",
            "actual": "150.000000000",
            "baseline": "0.000000000",
        },
        {
            "dimension": "service_subcategory",
            "key": "Virtual Machines",
            "name": "Virtual Machines",
            "actual": "150.000000000",
            "baseline": "0.000000000",
        },
        {
            "dimension": "region",
            "key": "us-east-1",
            "name": "us-east-1",
            "actual": "250.000000000",
            "baseline": "100.000000000",
        },
    ]
    assert [c["key"] for c in total.root_cause] == ["Amazon Elastic Compute Cloud", "us-east-1"]
    ids = {x.id for x in found}

    # The same data again (a second sync, the daily run): nothing new, nothing changed.
    await emit(
        db,
        CostDataChanged(
            org_id=org.id, cloud_account_id=a.id, first_day=SEPT1, last_day=date(2024, 9, 10)
        ),
    )
    await db.commit()
    await run_jobs(settings)
    again = await service.detect(db, org.id, SEPT1, date(2024, 9, 10))
    assert (again.new, again.updated, again.removed) == ([], 0, 0)
    assert {x.id for x in await _anomalies(db, org)} == ids


async def test_changed_data_updates_in_place_and_removes_open_ones(
    db: AsyncSession, org: Org
) -> None:
    a = await make_account(db, org)
    b = await make_account(db, org)
    await _costs(db, a, b)
    first = await service.detect(db, org.id, SEPT1, date(2024, 9, 10))
    await db.commit()
    assert len(first.new) == 2
    assert first.recent == first.new
    # EC2 costs 200 more on 09-08: 450 (+350 %, high); A's total 500 (+233.33 %, high); the
    # organization's 700 against 350 (+100 %, medium) is new.
    await add_costs(db, a, [{"usage_date": "2024-09-08", "billed_cost": "200"}])
    second = await service.detect(db, org.id, SEPT1, date(2024, 9, 10))
    await db.commit()
    assert second.updated == 2
    assert [(n.scope, n.severity) for n in second.new] == [(Scope.ORG, Severity.MEDIUM)]
    by_scope = {x.scope: x for x in await _anomalies(db, org)}
    ec2 = by_scope[Scope.SERVICE]
    assert (ec2.actual_cost, ec2.severity) == (450, Severity.HIGH)
    assert (by_scope[Scope.ACCOUNT].actual_cost, by_scope[Scope.ACCOUNT].severity) == (
        500,
        Severity.HIGH,
    )
    assert {by_scope[Scope.SERVICE].id, by_scope[Scope.ACCOUNT].id} == {n.id for n in first.new}
    third = await service.detect(db, org.id, SEPT1, date(2024, 9, 10))
    assert (third.new, third.updated) == ([], 0)

    # Acknowledged anomalies stay when their day no longer qualifies; open ones go.
    ec2.status = AnomalyStatus.ACKNOWLEDGED
    await db.commit()
    await add_costs(db, a, [{"usage_date": "2024-09-08", "billed_cost": "-400"}])
    fourth = await service.detect(db, org.id, SEPT1, date(2024, 9, 10))
    await db.commit()
    assert fourth.removed == 2
    assert [x.id for x in await _anomalies(db, org)] == [ec2.id]


async def test_org_scope_drops_and_noise_floor_settings(db: AsyncSession, org: Org) -> None:
    a = await make_account(db, org)
    rows = [{"usage_date": SEPT1 + timedelta(days=i), "billed_cost": "100"} for i in range(10)]
    rows[9] = {"usage_date": "2024-09-10", "billed_cost": "30"}
    rows[8] = {"usage_date": "2024-09-09", "billed_cost": "104"}
    await add_costs(db, a, rows)
    await mark_imported(db, a)
    assert (await service.detect(db, org.id, SEPT1, date(2024, 9, 10))).new == []
    await make_org_settings(db, org, anomaly_min_delta=D(3), anomaly_detect_drops=True)
    found = await service.detect(db, org.id, SEPT1, date(2024, 9, 10))
    got = sorted((x.scope, x.usage_date, x.direction, x.severity) for x in found.new)
    # 09-10: 30 against 100.57 (-70.17 %) in all three scopes; 09-09 (+4 %) is not anomalous.
    assert got == [
        (Scope.ACCOUNT, date(2024, 9, 10), Direction.DROP, Severity.LOW),
        (Scope.ORG, date(2024, 9, 10), Direction.DROP, Severity.LOW),
        (Scope.SERVICE, date(2024, 9, 10), Direction.DROP, Severity.LOW),
    ]
    assert {x.id for x in found.recent} == {x.id for x in found.new}
