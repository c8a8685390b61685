"""Fixtures for the ingest tests: a FOCUS cloud account, the shared samples copied to a tmp dir,
and readers of what the store holds."""

import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.cloud_accounts import make_account
from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.core.models import Money
from xplorr.costs.models import CostImport, CostRecord, CostRollup, CostTagRollup
from xplorr.orgs.models import Org

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "focus-samples"
FINOPS = "focus-1.0-finops-sample-1000.csv"
AWS = "focus_sample_costandusage_aws_1000.csv"
AZURE = "focus_sample_costandusage_azure_1000.csv"
GCP = "focus_sample_costandusage_gcp_1000.csv"

# The README of the samples: exact sums per file and ProviderName (BilledCost, EffectiveCost).
EXPECTED: dict[str, dict[str, tuple[Decimal, Decimal]]] = {
    FINOPS: {
        "AWS": (Decimal("18.00663861840"), Decimal("13.00000000000")),
        "Microsoft": (Decimal("1.97651418586"), Decimal("1.97651418586")),
        "Oracle": (Decimal("0.53707392473"), Decimal("0")),
    },
    AWS: {"AWS": (Decimal("41111.69488077753375"),) * 2},
    AZURE: {"Microsoft Azure": (Decimal("81185.248950230304"),) * 2},
    GCP: {"Google Cloud": (Decimal("54393.0794798256860"),) * 2},
}
FINOPS_TOTAL = (Decimal("20.52022672899"), Decimal("14.97651418586"))


@pytest.fixture
async def account(db: AsyncSession, org: Org) -> CloudAccount:
    return await make_account(db, org, provider=Provider.FOCUS)


@pytest.fixture
async def other_account(db: AsyncSession, org: Org) -> CloudAccount:
    return await make_account(db, org, provider=Provider.FOCUS)


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    """The four samples, copied (tests never write into the shared folder)."""
    target = tmp_path / "samples"
    target.mkdir()
    for name in (FINOPS, AWS, AZURE, GCP):
        shutil.copyfile(SAMPLES / name, target / name)
    return target


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """``write("name.csv", header, *rows)``: a small CSV export under tmp_path/exports."""

    def make(name: str, header: str, *rows: str) -> Path:
        path = tmp_path / "exports" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join((header, *rows)) + "\n", encoding="utf-8")
        return path

    return make


def amount(column: Any) -> Any:
    return func.sum(column, type_=Money)


async def stored_sums(
    db: AsyncSession, account: CloudAccount, by: Any = None
) -> dict[Any, tuple[Decimal, Decimal, Decimal]]:
    """(BilledCost, EffectiveCost, ListCost) sums of the account's rows, per ``by`` (or all)."""
    r = CostRecord
    key = by if by is not None else r.cloud_account_id
    rows = await db.execute(
        select(key, amount(r.billed_cost), amount(r.effective_cost), amount(r.list_cost))
        .where(r.cloud_account_id == account.id)
        .group_by(key)
    )
    return {k: (b, e, li) for k, b, e, li in rows.all()}


async def row_count(db: AsyncSession, account: CloudAccount, model: Any = CostRecord) -> int:
    return int(
        await db.scalar(
            select(func.count()).select_from(model).where(model.cloud_account_id == account.id)
        )
        or 0
    )


async def imports(db: AsyncSession, account: CloudAccount) -> list[CostImport]:
    rows = await db.scalars(
        select(CostImport)
        .where(CostImport.cloud_account_id == account.id)
        .order_by(CostImport.billing_period)
    )
    return list(rows)


__all__ = ["CostRollup", "CostTagRollup"]
