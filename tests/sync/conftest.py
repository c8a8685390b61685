"""Sync fixtures: FOCUS samples copied under the test's export root, focus accounts pointing at
them, and in-process worker passes (the real runner, on this test's database)."""

import csv
import shutil
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.cloud_accounts import make_account
from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.core.jobs.registry import SCHEDULES
from xplorr.core.jobs.runner import load_job_modules
from xplorr.core.models import Money
from xplorr.core.settings import Settings
from xplorr.costs.models import CostRecord
from xplorr.orgs.models import Org

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "focus-samples"
FOCUS_10 = "focus-1.0-finops-sample-1000.csv"
CENT = Decimal("0.01")
K = TypeVar("K")

load_job_modules()  # sync.account and friends, as a worker has them


@pytest.fixture(autouse=True)
def _no_global_schedules() -> Iterator[None]:
    """Worker passes here fire only the schedules a test asks for (never the built-in fan-out,
    which would add scheduled syncs to a test's queue)."""
    saved = dict(SCHEDULES)
    SCHEDULES.clear()
    yield
    SCHEDULES.clear()
    SCHEDULES.update(saved)


@pytest.fixture
def exports(settings: Settings) -> Path:
    """``<data_dir>/exports``: the default (and only) focus root of the test app's settings."""
    root = settings.focus_root_dirs[0]
    root.mkdir(parents=True, exist_ok=True)
    return root


def copy_samples(dest: Path, *names: str) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(SAMPLES / name, dest / name)
    return dest


@pytest.fixture
async def focus_account(db: AsyncSession, org: Org, exports: Path) -> CloudAccount:
    """A focus account reading ``exports/acme`` (the FOCUS 1.0 sample, billing period 2024-09)."""
    folder = copy_samples(exports / "acme", FOCUS_10)
    return await make_account(
        db, org, provider=Provider.FOCUS, name="Acme FOCUS", credentials={"path": str(folder)}
    )


def file_sums(path: Path, by: str | None = None) -> dict[str, Decimal]:
    """Σ BilledCost of a FOCUS CSV, exactly (``NULL``/empty cells count as nothing), in total
    (key ``""``) or per value of the column ``by``."""
    sums: dict[str, Decimal] = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            raw = row["BilledCost"]
            if raw in ("", "NULL"):
                continue
            key = row[by] if by else ""
            sums[key] = sums.get(key, Decimal(0)) + Decimal(raw)
    return sums


async def stored_sums(
    db: AsyncSession, account: CloudAccount, by: str | None = None
) -> dict[str, Decimal]:
    """Σ billed_cost of the account's stored rows, in total or per ``CostRecord`` column."""
    await db.rollback()  # a fresh read
    total = func.sum(CostRecord.billed_cost, type_=Money)
    if by is None:
        stmt = select(total).where(CostRecord.cloud_account_id == account.id)
        return {"": await db.scalar(stmt) or Decimal(0)}
    col = getattr(CostRecord, by)
    rows = (
        await db.execute(
            select(col, total).where(CostRecord.cloud_account_id == account.id).group_by(col)
        )
    ).all()
    return dict(rows)


def cents(sums: Mapping[K, Decimal]) -> dict[K, Decimal]:
    return {k: v.quantize(CENT) for k, v in sums.items()}
