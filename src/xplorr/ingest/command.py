"""``xplorr import focus PATH --account ID``: the operator's way to load export files.

One engine and one session of its own, the whole import in one transaction committed once at
the end (an error leaves the account's data as it was). It takes the account's import lock, as
a sync does, so an import and a sync of one account never replace the same periods at once.
Like a sync, it records a ``SyncRun`` (trigger ``cli``), succeeded with the import's detail in
the same transaction, or failed with the reason in one of its own: ``/sync/status`` and
``/sync/jobs`` tell what the account's data is and where it came from.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import clock
from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.core.jobs import queue
from xplorr.core.settings import Settings
from xplorr.ingest.focus import IngestError
from xplorr.ingest.pipeline import ImportSummary, Progress, import_path
from xplorr.sync.jobs import record_success
from xplorr.sync.models import SyncRun, SyncState, SyncTrigger
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
            started = clock.now()
            run = SyncRun(
                id=uuid.uuid4(),
                org_id=account.org_id,
                cloud_account_id=account.id,
                trigger=SyncTrigger.CLI,
                state=SyncState.RUNNING,
                started_at=started,
            )
            db.add(run)
            await db.flush()
            await lock_account(db, account.id, IMPORT_LOCK)
            try:
                summary = await import_path(
                    db,
                    account,
                    path,
                    progress=progress,
                    read_timeout=settings.ingest_read_timeout_seconds,
                )
            except (IngestError, OSError) as exc:
                org_id, cloud_account_id = account.org_id, account.id  # rollback expires them
                await db.rollback()
                await _record_failure(db, org_id, cloud_account_id, started, exc)
                raise
            await record_success(db, run, account, summary, started)
            await db.commit()
            return summary
    finally:
        await engine.dispose()


async def _record_failure(
    db: AsyncSession,
    org_id: uuid.UUID,
    account_id: uuid.UUID,
    started: datetime,
    error: BaseException,
) -> None:
    """The failed import as a run of its own (the import's transaction was rolled back)."""
    db.add(
        SyncRun(
            id=uuid.uuid4(),
            org_id=org_id,
            cloud_account_id=account_id,
            trigger=SyncTrigger.CLI,
            state=SyncState.FAILED,
            started_at=started,
            finished_at=clock.now(),
            error=queue.mask_secrets(str(error))[:2000],
        )
    )
    await db.commit()


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
