"""``/reports``: the JSON model, the PDF (text read back with pypdf) and the Excel workbook
(read back with openpyxl: numbers, formats, charts, frozen headers, filters), the cost summary,
grants and tenancy."""

import io
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import openpyxl
from pypdf import PdfReader

from tests.conftest import ClientFor
from tests.costs.conftest import Dataset
from tests.factories.cloud_accounts import grant
from xplorr.users.models import User

SEPT = {"startDate": "2024-09-01", "endDate": "2024-09-30"}


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def _pdftoppm(tool: str, pdf: bytes, out: Path) -> list[bytes]:
    (out / "r.pdf").write_bytes(pdf)
    subprocess.run([tool, "-png", "-r", "30", str(out / "r.pdf"), str(out / "p")], check=True)
    return [p.read_bytes() for p in sorted(out.glob("p-*.png"))]


class TestJson:
    async def test_one_section_per_currency_with_totals_breakdowns_and_movers(
        self, client_for: ClientFor, admin: User, data: Dataset
    ) -> None:
        r = await client_for(admin).get("/reports", params=SEPT)
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["startDate"], body["previousStartDate"], body["previousEndDate"]) == (
            "2024-09-01",
            "2024-08-02",
            "2024-08-31",
        )
        assert body["orgName"] == "Acme"
        usd, eur = body["currencies"]
        assert (usd["currency"], usd["totalCost"], usd["previousPeriodTotal"]) == (
            "USD",
            36.38,
            100,
        )
        assert (usd["change"], usd["changePercent"]) == (-63.62, -63.62)
        assert [(x["name"], x["cost"]) for x in usd["byProvider"]] == [
            ("Google Cloud", 23.13),
            ("AWS", 13.26),
        ]
        assert [(x["name"], x["cost"]) for x in usd["byAccount"]] == [
            ("Data GCP", 23.13),
            ("Prod AWS", 13.26),
        ]
        assert [x["name"] for x in usd["byService"]] == [
            "Compute Engine",
            "Amazon Elastic Compute Cloud",
            "Amazon Simple Storage Service",
            "BigQuery",
        ]
        assert [x["name"] for x in usd["byRegion"]] == ["us-central1", "us-east-1", "us-west-2"]
        assert len(usd["daily"]) == 30
        assert usd["daily"][0] == {"date": "2024-09-01", "cost": 10.01}
        # AmazonEC2 (shown by its FOCUS name) went from 100 (08-31) to 10.009: the largest move.
        assert usd["topMovers"][0] == {
            "name": "Amazon Elastic Compute Cloud",
            "current": 10.01,
            "previous": 100,
            "change": -89.99,
            "changePercent": -89.99,
        }
        assert (eur["currency"], eur["totalCost"], eur["previousPeriodTotal"]) == ("EUR", 7, 0)
        assert eur["changePercent"] is None
        assert [(x["name"], x["cost"]) for x in eur["byRegion"]] == [("eu-west-1", 7)]
        forecast = usd["forecast"]
        assert (forecast["periodStart"], forecast["through"]) == ("2024-09-01", "2024-09-16")
        assert forecast["actual"] == 36.38
        assert forecast["low"] <= forecast["forecast"] <= forecast["high"]
        assert eur["forecast"] is None  # no EUR day in the history through 09-16
        assert body["sections"] == []

    async def test_member_sees_only_granted_accounts(
        self, client_for: ClientFor, db, member: User, data: Dataset
    ) -> None:
        await grant(db, member, data.gcp)
        body = (await client_for(member).get("/reports", params=SEPT)).json()
        (usd,) = body["currencies"]
        assert usd["totalCost"] == 23.13
        assert [x["name"] for x in usd["byAccount"]] == ["Data GCP"]

    async def test_account_filter_and_foreign_account(
        self, client_for: ClientFor, admin: User, data: Dataset
    ) -> None:
        c = client_for(admin)
        body = (await c.get("/reports", params={**SEPT, "accountId": str(data.gcp.id)})).json()
        assert body["accountName"] == "Data GCP"
        assert [cr["totalCost"] for cr in body["currencies"]] == [23.13]
        r = await c.get("/reports", params={**SEPT, "accountId": str(data.foreign.id)})
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "CLOUD_ACCOUNT_NOT_FOUND"

    async def test_range_up_to_400_days_and_validation(
        self, client_for: ClientFor, admin: User, data: Dataset
    ) -> None:
        c = client_for(admin)
        r = await c.get("/reports", params={"startDate": "2023-09-01", "endDate": "2024-09-30"})
        assert r.status_code == 200, r.text
        r = await c.get("/reports", params={"startDate": "2023-01-01", "endDate": "2024-09-30"})
        assert r.status_code == 422
        r = await c.get("/reports", params={**SEPT, "format": "doc"})
        assert r.status_code == 422

    async def test_cost_summary_short_form(
        self, client_for: ClientFor, admin: User, data: Dataset
    ) -> None:
        r = await client_for(admin).get("/reports/cost-summary", params=SEPT)
        assert r.status_code == 200, r.text
        usd = r.json()["currencies"][0]
        assert (usd["totalCost"], usd["changePercent"]) == (36.38, -63.62)
        assert len(usd["byService"]) == 4
        assert usd["byProvider"] == []
        assert usd["daily"] == []
        assert usd["forecast"]["actual"] == 36.38


class TestPdf:
    async def test_pdf_has_totals_to_the_cent_and_page_numbers(
        self, client_for: ClientFor, viewer: User, data: Dataset
    ) -> None:
        r = await client_for(viewer).get("/reports/pdf", params=SEPT)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/pdf"
        assert "attachment" in r.headers["content-disposition"]
        reader = PdfReader(io.BytesIO(r.content))
        assert len(reader.pages) >= 4  # cover, summary, one chapter per currency
        text = pdf_text(r.content)
        for expected in ("$36.38", "€7.00", "$100.00", "-$63.62", "$20.13", "Data GCP", "Page 2"):
            assert expected in text, expected
        assert "Cloud cost report" in reader.pages[0].extract_text()
        assert "Executive summary" in reader.pages[1].extract_text()
        # Fonts are embedded (no system font assumed).
        fonts = {
            str(f["/BaseFont"])
            for page in reader.pages
            for f in page["/Resources"]["/Font"].values()
        }
        assert fonts
        assert all("DejaVuSans" in f for f in fonts)
        # The charts: each currency's chapter draws its daily trend line and its top-services
        # bars as images (the executive summary has none with two currencies); each is drawn,
        # not blank: many colours.
        charted = [p for p in reader.pages if p.images]
        assert [len(p.images) for p in charted] == [2, 2]
        assert "Spend in USD: $36.38" in charted[0].extract_text()
        assert "Spend in EUR: €7.00" in charted[1].extract_text()
        for chart in (c for p in charted for c in p.images):
            picture = chart.image
            assert picture is not None
            assert picture.width > 500
            assert picture.height > 150
            assert len(picture.getcolors(maxcolors=1 << 20) or ()) > 10

    async def test_every_page_renders(
        self, client_for: ClientFor, admin: User, data: Dataset, tmp_path: Path
    ) -> None:
        """With poppler's pdftoppm where it is installed (the suite does not need it): each
        page becomes a PNG; without it, pypdf walks every page's content stream."""
        pdf = (await client_for(admin).get("/reports/pdf", params=SEPT)).content
        pages = len(PdfReader(io.BytesIO(pdf)).pages)
        tool = shutil.which("pdftoppm")
        if tool is None:
            for page in PdfReader(io.BytesIO(pdf)).pages:
                assert page.get_contents() is not None
            return
        pngs = _pdftoppm(tool, pdf, tmp_path)
        assert len(pngs) == pages
        assert all(png.startswith(b"\x89PNG") for png in pngs)

    async def test_format_parameter_returns_files(
        self, client_for: ClientFor, admin: User, data: Dataset
    ) -> None:
        c = client_for(admin)
        r = await c.get("/reports", params={**SEPT, "format": "pdf"})
        assert r.content.startswith(b"%PDF")
        r = await c.get("/reports", params={**SEPT, "format": "excel"})
        assert r.content.startswith(b"PK")


class TestExcel:
    async def test_workbook_numbers_formats_charts_and_filters(
        self, client_for: ClientFor, member: User, db, data: Dataset
    ) -> None:
        await grant(db, member, data.aws)
        await grant(db, member, data.gcp)
        r = await client_for(member).get("/reports/excel", params=SEPT)
        assert r.status_code == 200, r.text
        wb = openpyxl.load_workbook(io.BytesIO(r.content))
        assert wb.sheetnames[:3] == ["Summary", "Trend USD", "Providers USD"]
        assert "Services EUR" in wb.sheetnames
        summary = wb["Summary"]
        assert [summary.cell(7, c).value for c in range(1, 5)] == ["USD", 36.38, 100, -63.62]
        assert summary.cell(8, 1).value == "EUR"
        assert summary.cell(8, 2).value == 7
        assert "$" in summary.cell(7, 2).number_format
        assert "€" in summary.cell(8, 2).number_format
        services = wb["Services USD"]
        assert services.freeze_panes == "A2"
        assert services.auto_filter.ref is not None
        costs = [services.cell(r, 2).value for r in range(2, services.max_row + 1)]
        assert costs == [20.13, 10.01, 3.25, 3]
        assert sum(Decimal(str(c)) for c in costs) == Decimal("36.39")  # each rounded alone
        trend = wb["Trend USD"]
        days = [trend.cell(r, 2).value for r in range(2, trend.max_row + 1)]
        assert len(days) == 30
        assert sum(Decimal(str(d)) for d in days) == Decimal("36.39")
        assert len(trend._charts) == 1
        assert len(services._charts) == 1
