"""The budgets and anomalies areas' report sections (``budgets.report_sections``,
``anomalies.report_sections``) in the JSON report, the PDF and the workbook, read as the
report's reader: a member limited to one cloud account sees that account's budgets and
anomalies only, never another account's or the organization-wide ones.

Figures from the cost tests' dataset (``tests/costs/conftest.py``): the GCP account spent
20.125 USD on 2024-09-15 and 3 USD on 2024-09-16 (data complete through 09-16), so its
September budget of 20 USD has 23.125 -> 23.13 spent, 115.63 % used."""

import io
from datetime import date
from decimal import Decimal

import httpx
import openpyxl
import pytest
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.costs.conftest import Dataset, principal
from tests.factories.anomalies import make_anomaly
from tests.factories.budgets import make_budget
from tests.factories.cloud_accounts import grant
from xplorr.anomalies.models import AnomalyStatus, Severity
from xplorr.budgets import service as budgets
from xplorr.budgets.models import Budget
from xplorr.core import money
from xplorr.core.report_sections import ReportScope, build_sections
from xplorr.core.tenancy import Role, org_select
from xplorr.orgs.models import Org
from xplorr.users.models import User

SEPT = {"startDate": "2024-09-01", "endDate": "2024-09-30"}


@pytest.fixture
async def world(db: AsyncSession, org: Org, other_org: Org, data: Dataset) -> Dataset:
    await make_budget(db, org, name="Data GCP monthly", amount="20", account=data.gcp)
    await make_budget(db, org, name="Prod AWS monthly", amount="1000", account=data.aws)
    await make_budget(db, org, name="Org EUR", amount="50", currency="EUR")
    await make_budget(db, other_org, name="Globex", amount="5", account=data.foreign)
    await make_anomaly(
        db,
        org,
        account=data.gcp,
        service="Compute Engine",
        day=date(2024, 9, 15),
        actual="20.125",
        baseline="5",
        severity=Severity.HIGH,
    )
    await make_anomaly(
        db,
        org,
        account=data.gcp,
        service=None,
        day=date(2024, 9, 16),
        actual="23",
        baseline="12",
        severity=Severity.LOW,
        status=AnomalyStatus.ACKNOWLEDGED,
    )
    await make_anomaly(db, org, account=data.gcp, day=date(2024, 8, 31), severity=Severity.HIGH)
    await make_anomaly(
        db, org, account=data.aws, day=date(2024, 9, 1), actual="1165", baseline="100",
        severity=Severity.CRITICAL,
    )  # fmt: skip
    await make_anomaly(
        db, org, account=data.aws, day=date(2024, 9, 30), actual="7", baseline="1",
        severity=Severity.CRITICAL, currency="EUR",
    )  # fmt: skip
    await make_anomaly(db, org, day=date(2024, 9, 2), actual="300", baseline="100")
    await make_anomaly(db, other_org, account=data.foreign, day=date(2024, 9, 10))
    return data


async def _gcp_forecast(db: AsyncSession, org: Org) -> float:
    """The GCP budget's forecast as ``budgets.service`` computes it as of 2024-09-30."""
    b = await db.scalar(org_select(Budget, principal(org)).where(Budget.name == "Data GCP monthly"))
    assert b is not None
    [s] = await budgets.statuses(db, principal(org), [b], date(2024, 9, 30))
    assert s.forecast is not None
    return float(money.round_money(s.forecast.forecast, "USD"))


def _pdf_text(response: httpx.Response) -> str:
    assert response.status_code == 200
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)


async def test_the_admin_sees_every_budget_and_anomaly_per_currency(
    client_for: ClientFor, db: AsyncSession, org: Org, admin: User, world: Dataset
) -> None:
    c = client_for(admin)
    body = (await c.get("/reports", params=SEPT)).json()
    by_key = {s["key"]: s for s in body["sections"]}
    assert list(by_key) == ["budgets", "anomalies"]

    b = by_key["budgets"]
    assert b["title"] == "Budgets against actuals"
    assert [(f["label"], f["value"]) for f in b["figures"]] == [
        ("Budgets", 3),
        ("Over budget", 1),
        ("Projected over", 0),
    ]
    assert [t["title"] for t in b["tables"]] == ["Budgets EUR", "Budgets USD"]
    eur, usd = b["tables"]
    assert eur["currency"] == "EUR"
    assert eur["rows"] == [
        # Org-wide: through 2024-09-30 (the GCP account, a week behind, does not hold it back);
        # the month is complete, so the forecast is the spend.
        ["Org EUR", "monthly", "2024-09-01", 50, 7, 14, 7, "2024-09-30", "On track"]
    ]
    forecast = await _gcp_forecast(db, org)
    assert forecast > 23.13
    assert [r[0] for r in usd["rows"]] == ["Data GCP monthly", "Prod AWS monthly"]
    assert usd["rows"][0] == [
        "Data GCP monthly", "monthly", "2024-09-01", 20, 23.13, 115.63, forecast, "2024-09-16",
        "Over budget",
    ]  # fmt: skip
    # AWS: 10.009 + 3.25 through 2024-09-30 (the 1.11 tax row is October's).
    assert usd["rows"][1][:6] == ["Prod AWS monthly", "monthly", "2024-09-01", 1000, 13.26, 1.33]
    assert usd["rows"][1][7:] == ["2024-09-30", "On track"]

    a = by_key["anomalies"]
    assert [(f["label"], f["value"]) for f in a["figures"]] == [
        ("Anomalies", 5),
        ("Critical", 2),
        ("High", 1),
        ("Medium", 0),
        ("Low", 2),
    ]
    eur, usd = a["tables"]
    assert eur["rows"] == [
        ["2024-09-30", "Prod AWS", "AmazonEC2", "critical", "open", 7, 1, 6],
    ]
    assert usd["rows"] == [
        ["2024-09-01", "Prod AWS", "AmazonEC2", "critical", "open", 1165, 100, 1065],
        ["2024-09-02", "Organization", "All services", "low", "open", 300, 100, 200],
        ["2024-09-15", "Data GCP", "Compute Engine", "high", "open", 20.13, 5, 15.13],
        ["2024-09-16", "Data GCP", "All services", "low", "acknowledged", 23, 12, 11],
    ]


async def test_a_member_limited_to_one_account_sees_only_its_sections_in_every_format(
    client_for: ClientFor, db: AsyncSession, org: Org, member: User, world: Dataset
) -> None:
    await grant(db, member, world.gcp)
    c = client_for(member)
    forecast = await _gcp_forecast(db, org)
    body = (await c.get("/reports", params=SEPT)).json()
    by_key = {s["key"]: s for s in body["sections"]}
    (usd,) = by_key["budgets"]["tables"]
    assert usd["rows"] == [
        [
            "Data GCP monthly", "monthly", "2024-09-01", 20, 23.13, 115.63, forecast,
            "2024-09-16", "Over budget",
        ]
    ]  # fmt: skip
    assert by_key["budgets"]["figures"][0]["value"] == 1
    (anomalies,) = by_key["anomalies"]["tables"]
    assert [r[:3] for r in anomalies["rows"]] == [
        ["2024-09-15", "Data GCP", "Compute Engine"],
        ["2024-09-16", "Data GCP", "All services"],
    ]
    assert by_key["anomalies"]["figures"][:3] == [
        {"label": "Anomalies", "value": 2, "kind": "number", "currency": None},
        {"label": "Critical", "value": 0, "kind": "number", "currency": None},
        {"label": "High", "value": 1, "kind": "number", "currency": None},
    ]

    text = _pdf_text(await c.get("/reports/pdf", params=SEPT))
    assert "Budgets against actuals" in text
    assert "Data GCP monthly" in text
    assert "$23.13" in text
    assert "115.63 %" in text
    assert "Cost anomalies" in text
    assert "$15.13" in text
    for hidden in ("Prod AWS monthly", "Org EUR", "Globex", "$1,065.00", "Organization"):
        assert hidden not in text

    xlsx = (await c.get("/reports/excel", params=SEPT)).content
    wb = openpyxl.load_workbook(io.BytesIO(xlsx))
    assert "Budgets EUR" not in wb.sheetnames
    assert "Anomalies EUR" not in wb.sheetnames
    sheet = wb["Budgets USD"]
    assert [sheet.cell(2, col).value for col in range(4, 7)] == [20, 23.13, 115.63]
    assert sheet.cell(2, 1).value == "Data GCP monthly"
    assert sheet.cell(3, 1).value is None
    assert "$" in sheet.cell(2, 5).number_format
    anomalies_sheet = wb["Anomalies USD"]
    assert [anomalies_sheet.cell(r, 3).value for r in (2, 3, 4)] == [
        "Compute Engine",
        "All services",
        None,
    ]
    assert anomalies_sheet.cell(2, 8).value == 15.13


async def test_a_report_of_one_account_lists_that_accounts_budgets_and_anomalies(
    client_for: ClientFor, admin: User, world: Dataset
) -> None:
    params = {**SEPT, "accountId": str(world.aws.id)}
    body = (await client_for(admin).get("/reports", params=params)).json()
    by_key = {s["key"]: s for s in body["sections"]}
    (usd,) = by_key["budgets"]["tables"]
    assert [r[0] for r in usd["rows"]] == ["Prod AWS monthly"]
    assert [(t["title"], [r[1] for r in t["rows"]]) for t in by_key["anomalies"]["tables"]] == [
        ("Anomalies EUR", ["Prod AWS"]),
        ("Anomalies USD", ["Prod AWS"]),
    ]


async def test_the_digest_day_reads_that_days_anomalies_and_budgets(
    db: AsyncSession, org: Org, world: Dataset
) -> None:
    who = principal(org, role=Role.MEMBER, account_ids=frozenset({world.gcp.id}))
    day = date(2024, 9, 15)
    sections = await build_sections(db, ReportScope(who=who, start=day, end=day))
    by_key = {s.key: s for s in sections}
    assert list(by_key) == ["budgets", "anomalies"]
    # As of 2024-09-15: only the 20.125 of that day is spent.
    (budget,) = by_key["budgets"].tables[0].rows
    assert budget[4:6] == (Decimal("20.13"), Decimal("100.63"))
    assert budget[7] == day
    (anomaly,) = by_key["anomalies"].tables[0].rows
    assert anomaly[0] == day
    assert anomaly[7] == Decimal("15.13")


async def test_no_budget_and_no_anomaly_means_no_section(
    client_for: ClientFor, admin: User, data: Dataset
) -> None:
    body = (await client_for(admin).get("/reports", params=SEPT)).json()
    assert body["sections"] == []
