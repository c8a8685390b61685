"""The cost store keeps every rollup with the rows: a re-import that replaces a billing period
rebuilds that period's rollups (and no other's), and deleting an account's data empties them."""

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.costs.conftest import principal
from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs, cost_record
from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.costs import store
from xplorr.costs.models import CostRecord, CostResourceRunningTotal
from xplorr.costs.query import CostQuery, Dim, Source, TagFilter, TagKey, aggregate, source_for
from xplorr.orgs.models import Org

SEPT, OCT = date(2024, 9, 1), date(2024, 10, 1)
ENV = TagKey("env")


def _row(day: str, cost: str, resource: str, sku: str, env: str | None) -> dict[str, Any]:
    return {
        "usage_date": day,
        "billed_cost": cost,
        "resource_id": resource,
        "sku_id": sku,
        "tags": {"env": env} if env else {"team": "a"},
    }


def _staged(
    account: CloudAccount, rows: list[dict[str, Any]]
) -> tuple[list[str], list[Select[Any]]]:
    """The rows as SELECTs of literals (one a row), as ingest hands its staged rows over."""
    columns = [c.name for c in CostRecord.__table__.columns if c.name != "id"]
    table = CostRecord.__table__.c
    selects = []
    for row in rows:
        record = cost_record(account, row)
        selects.append(
            select(*(literal(getattr(record, c), table[c].type).label(c) for c in columns))
        )
    return columns, selects


async def _rollup_rows(db: AsyncSession, account: CloudAccount) -> dict[str, dict[date, int]]:
    out: dict[str, dict[date, int]] = {}
    for model in store.ROLLUPS:
        rows = await db.execute(
            select(model.billing_period, func.count())
            .where(model.cloud_account_id == account.id)
            .group_by(model.billing_period)
        )
        out[model.__tablename__] = dict(rows.all())  # type: ignore[arg-type]
    return out


QUERIES = [
    (Dim.RESOURCE,),
    (Dim.SKU, Dim.MONTH),
    (ENV,),
    (Dim.SERVICE,),
]


async def _same_as_raw(db: AsyncSession, org: Org) -> dict[Source, list[Any]]:
    """Every rollup answer over Sept-Oct equals the raw rows'; -> the answers by engine."""
    who = principal(org)
    seen: dict[Source, list[Any]] = {}
    untagged = (TagFilter(ENV, frozenset({None})),)
    for group_by, tags in [(g, ()) for g in QUERIES] + [((Dim.SERVICE,), untagged)]:
        q = CostQuery(start=SEPT, end=date(2024, 10, 31), group_by=group_by, tags=tags)
        auto = await aggregate(db, who, q)
        assert auto == await aggregate(db, who, q, source=Source.RECORDS), q
        seen[source_for(q)] = [(g.key, g.cost) for g in auto]
    return seen


async def test_a_replaced_period_rebuilds_its_rollups_and_a_deleted_account_has_none(
    db: AsyncSession, org: Org
) -> None:
    account = await make_account(db, org, provider=Provider.AWS, name="Replaced")
    kept = await make_account(db, org, provider=Provider.AWS, name="Kept")
    await add_costs(
        db,
        account,
        [
            _row("2024-09-01", "10", "i-1", "sku-1", "prod"),
            _row("2024-09-02", "5", "i-2", "sku-2", None),
            _row("2024-10-03", "7", "i-1", "sku-1", "dev"),
        ],
    )
    await add_costs(db, kept, [_row("2024-09-04", "1", "i-9", "sku-9", "prod")])
    before = await _rollup_rows(db, account)
    assert all(set(periods) == {SEPT, OCT} for periods in before.values()), before
    first = await _same_as_raw(db, org)
    assert set(first) >= {
        Source.RESOURCE_ROLLUP,
        Source.SKU_ROLLUP,
        Source.TAG_VALUE_ROLLUP,
        Source.SERVICE_ROLLUP,
    }

    # September again, from a newer snapshot: one resource, no untagged row.
    columns, rows = _staged(account, [_row("2024-09-10", "3.5", "i-3", "sku-1", "test")])
    await store.replace_periods(db, account.id, [SEPT], columns, rows)
    await db.commit()
    after = await _rollup_rows(db, account)
    assert all(periods[OCT] == before[name][OCT] for name, periods in after.items())
    second = await _same_as_raw(db, org)
    assert second[Source.RESOURCE_ROLLUP] == [
        (("i-1",), Decimal("7")),
        (("i-3",), Decimal("3.5")),
        (("i-9",), Decimal("1")),
    ]
    assert second[Source.TAG_VALUE_ROLLUP] == [
        (("dev",), Decimal("7")),
        (("prod",), Decimal("1")),
        (("test",), Decimal("3.5")),
    ]

    await store.delete_account_data(db, account.id)
    await db.commit()
    assert all(not periods for periods in (await _rollup_rows(db, account)).values())
    running = CostResourceRunningTotal
    counted = select(running.cloud_account_id, func.count()).group_by(running.cloud_account_id)
    assert dict((await db.execute(counted)).all()) == {kept.id: 1}  # type: ignore[arg-type]
    assert all(
        periods == {SEPT: periods[SEPT]} for periods in (await _rollup_rows(db, kept)).values()
    )


def _res(day: str, cost: str, resource: str, **kw: Any) -> dict[str, Any]:
    return {"usage_date": day, "billed_cost": cost, "resource_id": resource, **kw}


async def _resource_answers(db: AsyncSession, org: Org, start: date, end: date) -> dict[str, Any]:
    """By resource (and by provider too), from the running totals and from the raw rows."""
    who = principal(org)
    out = {}
    for group_by, extra in [
        ((Dim.RESOURCE,), {}),
        ((Dim.RESOURCE, Dim.PROVIDER), {"charge_categories": frozenset({"Usage", "Credit"})}),
        ((), {"resource_ids": frozenset({"i-1", "i-old", "g-1"})}),
    ]:
        q = CostQuery(start=start, end=end, group_by=group_by, **extra)
        assert source_for(q) is Source.RESOURCE_ROLLUP
        auto = await aggregate(db, who, q)
        assert auto == await aggregate(db, who, q, source=Source.RECORDS), q
        out[str(group_by)] = {(g.key, g.cost) for g in auto}
    return out


async def test_resource_running_totals_across_years_accounts_and_reimports(
    db: AsyncSession, org: Org
) -> None:
    aws = await make_account(db, org, provider=Provider.AWS, name="Running")
    gcp = await make_account(db, org, provider=Provider.GCP, name="Stopped in December")
    await add_costs(
        db,
        aws,
        [
            _res("2024-11-05", "10", "i-1"),
            _res("2024-11-20", "4", "i-old"),  # gone after November: never in a later range
            _res("2024-12-03", "5", "i-1"),
            _res("2024-12-15", "3", "i-zero"),
            _res("2024-12-16", "-3", "i-zero", charge_category="Credit"),  # adds up to 0
            _res("2025-01-10", "7", "i-1"),
            _res("2025-02-02", "1", "i-1"),
            _res("2025-02-10", "2", "i-new"),
        ],
    )
    await add_costs(db, gcp, [_res("2024-11-01", "1", "g-1"), _res("2024-12-01", "8", "g-1")])
    dec_feb = (date(2024, 12, 1), date(2025, 2, 28))  # Dec minus Nov, then Jan..Feb of 2025
    answers = await _resource_answers(db, org, *dec_feb)
    assert answers[str((Dim.RESOURCE,))] == {
        (("g-1",), Decimal("8")),  # gcp's newest month is December
        (("i-1",), Decimal("13")),
        (("i-new",), Decimal("2")),
        (("i-zero",), Decimal("0")),  # its rows add up to zero: still a group
    }
    # Partial months: a small part from the raw rows, most of one as the month minus the
    # raw rows of its other days (December 4-31 leaves out i-1's December 3).
    for start, end in [
        (date(2024, 11, 15), date(2025, 2, 28)),
        (date(2024, 12, 4), date(2025, 2, 27)),
        (date(2025, 1, 1), date(2025, 1, 31)),
    ]:
        await _resource_answers(db, org, start, end)
    answers = await _resource_answers(db, org, date(2024, 12, 4), date(2024, 12, 31))
    assert answers[str((Dim.RESOURCE,))] == {(("i-zero",), Decimal("0"))}

    # December again (the later months' running totals follow), then February dropped.
    columns, rows = _staged(aws, [_res("2024-12-04", "6", "i-1"), _res("2024-12-05", "1", "i-2")])
    await store.replace_periods(db, aws.id, [date(2024, 12, 1)], columns, rows)
    await store.delete_periods(db, aws.id, [date(2025, 2, 1)])
    await db.commit()
    answers = await _resource_answers(db, org, *dec_feb)
    assert answers[str((Dim.RESOURCE,))] == {
        (("g-1",), Decimal("8")),
        (("i-1",), Decimal("13")),  # 6 + 7
        (("i-2",), Decimal("1")),
    }
