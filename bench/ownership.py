"""Time of the cost-ownership reads on the demo organization (``xplorr demo``: three accounts,
13 months, ~80,000 cost rows), in process, against the database of ``XPLORR_DATABASE_URL``.

    XPLORR_DATABASE_URL=... XPLORR_DATA_DIR=... .venv/bin/python bench/ownership.py [--runs 5]

Loads the demo first when the database has no demo organization. Per case: one warm-up call,
then ``--runs`` calls; prints a markdown table of milliseconds (min / median / max).
Cases: tagging violations (3 policies, last 30 days of data), ``/costs`` by team for the last
full month without and with allocation (2 rules), cost per customer for the last 30 days.
"""

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from xplorr.allocation import service as allocation
from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.core.migrate import upgrade
from xplorr.core.pagination import PageParams
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Principal, Role
from xplorr.costs import service as costs
from xplorr.demo import DEMO_ORG_SLUG, load_demo
from xplorr.orgs.models import Org
from xplorr.tagging import service as tagging
from xplorr.unit_economics import service as unit_economics
from xplorr.users.models import User


async def main(runs: int) -> None:
    settings = Settings()
    upgrade(settings.db_url)
    engine = make_engine(settings.db_url)
    sessions = make_sessionmaker(engine)
    async with sessions() as db:
        org = await db.scalar(select(Org).where(Org.slug == DEMO_ORG_SLUG))
    if org is None:
        await load_demo(settings)
    async with sessions() as db:
        org = await db.scalar(select(Org).where(Org.slug == DEMO_ORG_SLUG))
        assert org is not None
        user = await db.scalar(select(User).where(User.org_id == org.id))
        assert user is not None
        who = Principal(user_id=user.id, org_id=org.id, role=Role.OWNER, email=user.email)
        start, end = await allocation.last_full_month(db, who)
        month = costs.resolve_filters(dates=_range(start, end))
        rules = await allocation.share_rules(db, who)
        cases: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("tagging violations", lambda: tagging.violations(db, who, PageParams(50, 0))),
            ("/costs by tag:team", lambda: costs.breakdown(db, who, month, "tag:team")),
            (
                "/costs by tag:team, allocate=true",
                lambda: costs.breakdown(db, who, month, "tag:team", rules),
            ),
            (
                "unit economics, 30 days",
                lambda: unit_economics.unit_costs(
                    db,
                    who,
                    start=end - timedelta(days=29),
                    end=end,
                    metric_name="Active Customers",
                ),
            ),
        ]
        print(f"database: {engine.dialect.name}; month {start}..{end}")
        print("| case | min ms | median ms | max ms |")
        print("|---|---|---|---|")
        for name, call in cases:
            await call()
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                await call()
                times.append((time.perf_counter() - t0) * 1000)
            print(
                f"| {name} | {min(times):.0f} | {statistics.median(times):.0f} | {max(times):.0f} |"
            )
    await engine.dispose()


def _range(start: Any, end: Any) -> Any:
    from xplorr.core.dates import DateRange

    return DateRange(start, end)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))
