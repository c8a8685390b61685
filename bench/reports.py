"""How long a 13-month report of the demo organization takes: the model (through
``costs.query``), then its JSON, PDF and Excel renderings.

    .venv/bin/python bench/reports.py [--months 13] [--runs 3] [--database-url URL] [--out DIR]

Without ``--database-url`` the script migrates a fresh SQLite database in a temporary
directory and loads the demo organization into it (``xplorr demo``'s loader: three accounts, 13
months of generated costs); with it, it reads the demo organization already loaded there (e.g.
a PostgreSQL database after ``xplorr demo``). The report covers the last ``--months`` calendar
months of the data (the month holding the data's last day included). Each step is timed
``--runs`` times and the best and the median are printed; ``--out`` keeps the PDF, the workbook
and a PNG of the PDF's summary page (when ``pdftoppm`` is installed) there.
"""

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.core.migrate import upgrade
from xplorr.core.settings import Settings
from xplorr.core.tenancy import org_scope
from xplorr.costs import query
from xplorr.demo import DEMO_ORG_SLUG, load_demo
from xplorr.orgs.models import Org
from xplorr.reports import service
from xplorr.reports.excel import render_excel
from xplorr.reports.pdf import render_pdf
from xplorr.reports.schemas import report_out


def _months_back(last: date, months: int) -> date:
    month = last.year * 12 + last.month - 1 - (months - 1)
    return date(month // 12, month % 12 + 1, 1)


async def _timed(label: str, runs: int, step: Callable[[], Awaitable[Any]]) -> Any:
    seconds = []
    result = None
    for _ in range(runs):
        began = time.perf_counter()
        result = await step()
        seconds.append(time.perf_counter() - began)
    print(f"| {label} | {min(seconds):.3f} | {statistics.median(seconds):.3f} |")
    return result


def _keep(out: Path, pdf: bytes, xlsx: bytes) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.pdf").write_bytes(pdf)
    (out / "report.xlsx").write_bytes(xlsx)
    if shutil.which("pdftoppm"):
        pages = ["-f", "2", "-l", "3"]
        subprocess.run(
            ["pdftoppm", "-png", "-r", "70", *pages, str(out / "report.pdf"), str(out / "page")],
            check=True,
        )
    print(f"files in {out}")


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="xplorr-bench-reports-"))
    try:
        url = args.database_url or f"sqlite+aiosqlite:///{work}/xplorr.db"
        settings = Settings(database_url=url, data_dir=work, secret_key="bench-" + "x" * 40)
        if args.database_url is None:
            upgrade(url)
            began = time.perf_counter()
            result = await load_demo(settings)
            rows = sum(a.rows for a in result.accounts)
            print(f"demo loaded: {rows:,} rows in {time.perf_counter() - began:.1f} s")
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as db:
                org_id = await db.scalar(select(Org.id).where(Org.slug == DEMO_ORG_SLUG))
                if org_id is None:
                    sys.exit("no demo organization in this database (run `xplorr demo`)")
                who = org_scope(org_id)
                through = await query.data_through(db, who)
                assert through is not None
                req = service.ReportRequest(start=_months_back(through, args.months), end=through)
                print(f"report {req.start} to {req.end} ({(req.end - req.start).days + 1} days)")
                print("\n| step | best (s) | median (s) |\n|---|---|---|")
                report = await _timed(
                    "build the model (costs.query)",
                    args.runs,
                    lambda: service.build_report(db, who, req),
                )

                async def as_json() -> bytes:
                    return report_out(report).model_dump_json(by_alias=True).encode()

                async def as_pdf() -> bytes:
                    return render_pdf(report)

                async def as_excel() -> bytes:
                    return render_excel(report)

                body = await _timed("JSON", args.runs, as_json)
                pdf = await _timed("PDF", args.runs, as_pdf)
                xlsx = await _timed("Excel", args.runs, as_excel)
                print(
                    f"\nsizes: JSON {len(body):,} B, PDF {len(pdf):,} B, Excel {len(xlsx):,} B; "
                    f"currencies {[c.currency for c in report.currencies]}"
                )
                if args.out:
                    _keep(Path(args.out), pdf, xlsx)
        finally:
            await engine.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--months", type=int, default=13)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--out", default=None)
    asyncio.run(main(parser.parse_args()))
