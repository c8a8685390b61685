"""``xplorr import focus PATH --account ID``: the operator's way to load export files.

One engine and one session of its own, the whole import in one transaction committed once at
the end (an error leaves the account's data as it was). It takes the account's import lock, as
a sync does, so an import and a sync of one account never replace the same periods at once.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.core.settings import Settings
from xplorr.ingest.focus import IngestError
from xplorr.ingest.pipeline import ImportSummary, Progress, import_path
from xplorr.sync.service import IMPORT_LOCK, lock_account


class UnknownAccount(LookupError):
    """No cloud account has this id."""


async def import_focus(
    settings: Settings, account_id: uuid.UUID, path: Path, *, progress: Progress | None = None
) -> ImportSummary:
    """Import ``path`` into the account and commit; ``UnknownAccount`` or ``IngestError``."""
    engine = make_engine(settings.db_url)
    try:
        async with make_sessionmaker(engine)() as db:
            account = await db.get(CloudAccount, account_id)
            if account is None:
                raise UnknownAccount(f"No cloud account with id {account_id}.")
            await lock_account(db, account.id, IMPORT_LOCK)
            summary = await import_path(
                db,
                account,
                path,
                progress=progress,
                read_timeout=settings.ingest_read_timeout_seconds,
            )
            await db.commit()
            return summary
    finally:
        await engine.dispose()


def _amount(value: Decimal) -> str:
    text = format(value, "f")
    whole, _, fraction = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    grouped = f"{int(whole.lstrip('-') or 0):,}"
    return f"{sign}{grouped}.{fraction}" if fraction else f"{sign}{grouped}"


def summary_lines(summary: ImportSummary) -> list[str]:
    """The summary printed after an import (exact totals, nothing rounded)."""
    lines = [
        f"Files: {summary.files}",
        f"Rows read: {summary.rows_read:,}",
        f"Rows stored (daily): {summary.rows_stored:,}",
        f"Days: {summary.days}"
        + (f" ({summary.first_date} to {summary.last_date})" if summary.first_date else ""),
        "Billing periods imported: "
        + (", ".join(p.strftime("%Y-%m") for p in summary.periods_imported) or "none"),
    ]
    lines += [f"Skipped {skipped}" for skipped in summary.files_skipped]
    if summary.periods_skipped:
        skipped = ", ".join(
            f"{p.strftime('%Y-%m')} ({reason})" for p, reason in summary.periods_skipped.items()
        )
        lines.append(f"Billing periods skipped: {skipped}")
    if summary.totals:
        for currency, total in sorted(summary.totals.items()):
            lines.append(f"Total BilledCost {currency}: {_amount(total)}")
    else:
        lines.append("Total BilledCost: nothing imported")
    return lines


__all__ = ["IngestError", "UnknownAccount", "import_focus", "summary_lines"]
