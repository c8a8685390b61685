"""The allocation section (``allocation.report_sections``) in the JSON report and the workbook
(the PDF draws sections with the same generic code, tested with the budgets section): the
period's cost by team with the shared EKS cost moved as /costs?allocate=true moves it. Month
of ``tests/allocation/conftest.py``: api 40, data 40 direct; the untagged EKS shared day by day
in proportion (D1 20 at 30:10, D2 40 at 10:30: api 25, data 35); the untagged S3 5 stays
untagged; 145 in all."""

import io

import openpyxl
from sqlalchemy.ext.asyncio import AsyncSession

from tests.allocation.conftest import EKS, Month, month
from tests.conftest import ClientFor
from tests.factories.allocation import make_rule
from xplorr.orgs.models import Org
from xplorr.users.models import User

__all__ = ["month"]


async def test_cost_by_team_with_shared_costs_in_json_and_excel(
    client_for: ClientFor, db: AsyncSession, org: Org, admin: User, month: Month
) -> None:
    c = client_for(admin)
    assert [
        s["key"] for s in (await c.get("/reports", params=month.params)).json()["sections"]
    ] == []

    await make_rule(db, org, source_service=EKS)
    body = (await c.get("/reports", params=month.params)).json()
    (section,) = [s for s in body["sections"] if s["key"] == "allocation"]
    assert section["title"] == "Allocation by team"
    assert [(f["label"], f["value"]) for f in section["figures"]] == [
        ("Active rules", 1),
        ("Shared cost allocated (USD)", 60),
    ]
    (table,) = section["tables"]
    assert (table["title"], table["currency"]) == ("Cost by team USD", "USD")
    assert table["rows"] == [
        ["data", 40, 35, 75, 51.72],
        ["api", 40, 25, 65, 44.83],
        ["untagged", 5, 0, 5, 3.45],
    ]
    allocated = (
        await c.get("/costs", params={**month.params, "groupBy": "tag:team", "allocate": "true"})
    ).json()
    assert [[i["name"], i["cost"]] for i in allocated["data"]] == [
        [row[0], row[3]] for row in table["rows"]
    ]

    xlsx = await c.get("/reports/excel", params=month.params)
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    sheet = next(s for s in book.worksheets if s.title.startswith("Cost by team"))
    values = [c for row in sheet.iter_rows(values_only=True) for c in row]
    assert "api" in values
    assert 75 in values
