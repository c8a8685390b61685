"""Other areas' sections (``core.report_sections``): a registered provider's section is read
as the report's reader and shows in the JSON, the PDF and the workbook alike."""

import io
from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.costs.conftest import Dataset
from tests.factories.cloud_accounts import grant
from xplorr.core import report_sections
from xplorr.core.report_sections import Column, Figure, Kind, ReportScope, Section, Table
from xplorr.users.models import User

SEPT = {"startDate": "2024-09-01", "endDate": "2024-09-30"}
SEEN: list[ReportScope] = []


async def budgets_section(_db: AsyncSession, scope: ReportScope) -> Sequence[Section]:
    SEEN.append(scope)
    return [
        Section(
            key="budgets",
            title="Budgets against actuals",
            note="Month to date.",
            figures=(Figure("Budgets over", 1, Kind.NUMBER),),
            tables=(
                Table(
                    title="Budgets USD",
                    columns=(
                        Column("Budget"),
                        Column("Amount", Kind.MONEY),
                        Column("Spent", Kind.MONEY),
                        Column("Used", Kind.PERCENT),
                        Column("Since", Kind.DATE),
                    ),
                    rows=(
                        (
                            "Platform",
                            Decimal("1000.00"),
                            Decimal("1234.56"),
                            Decimal("123.46"),
                            date(2024, 9, 1),
                        ),
                    ),
                    currency="USD",
                ),
            ),
        )
    ]


@pytest.fixture
def provider() -> Iterator[None]:
    report_sections.discover()
    report_sections.provider("test_budgets", order=10)(budgets_section)
    SEEN.clear()
    yield
    del report_sections.PROVIDERS["test_budgets"]


def test_a_table_refuses_ragged_rows_and_money_without_currency() -> None:
    with pytest.raises(ValueError, match="cells"):
        Table("t", (Column("a"),), (("x", "y"),))
    with pytest.raises(ValueError, match="currency"):
        Table("t", (Column("a", Kind.MONEY),), ((Decimal(1),),))


@pytest.mark.usefixtures("provider")
async def test_a_provider_section_is_rendered_three_ways_for_the_reader(
    client_for: ClientFor, db: AsyncSession, member: User, data: Dataset
) -> None:
    await grant(db, member, data.gcp)
    c = client_for(member)
    body = (await c.get("/reports", params=SEPT)).json()
    (section,) = body["sections"]
    assert section["key"] == "budgets"
    assert section["tables"][0]["rows"] == [["Platform", 1000, 1234.56, 123.46, "2024-09-01"]]
    assert SEEN[-1].who.account_ids == frozenset({data.gcp.id})
    assert (SEEN[-1].start, SEEN[-1].end) == (date(2024, 9, 1), date(2024, 9, 30))

    pdf = (await c.get("/reports/pdf", params=SEPT)).content
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Budgets against actuals" in text
    assert "$1,234.56" in text
    assert "123.46 %" in text

    xlsx = (await c.get("/reports/excel", params=SEPT)).content
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx))["Budgets USD"]
    assert [sheet.cell(2, col).value for col in range(1, 4)] == ["Platform", 1000, 1234.56]
    assert "$" in sheet.cell(2, 3).number_format
    assert sheet.freeze_panes == "A2"

    summary = (await c.get("/reports/cost-summary", params=SEPT)).json()
    assert "sections" not in summary
