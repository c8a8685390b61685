"""Import FOCUS data into the cost store: the one write path of billing data.

``import_path`` (a file or a directory of exports), ``import_files`` (the files of one snapshot)
and ``import_batches`` (Arrow batches from a connector, raw FOCUS or already normalised) all end
in the same stream, in two phases:

1. **Stage**, with no transaction open: batches are read, normalised and folded in a worker
   thread (pyarrow blocks; the event loop of an embedded worker keeps serving the API) and
   spooled to a local Arrow file per billing period. A slow share or a cloud download never
   holds a database lock.
2. **Commit**, one short transaction per billing period (``Target.transaction``): re-check the
   period against ``cost_imports`` (another import may have committed it meanwhile), load the
   spooled rows into a temporary staging table (``COPY`` on PostgreSQL, ``executemany`` on
   SQLite), then in SQL: delete the period's rows -> INSERT INTO cost_records SELECT ... GROUP
   BY <every dimension, tags included> (hourly rows of one charge fold into one daily row,
   summed exactly) -> rebuild the period's rollups -> record the snapshot in cost_imports ->
   emit ``CostDataChanged`` for the days replaced (``core.events``).

Whoever imports (a sync, ``xplorr import focus``, a connector, a Kubernetes post), the same
follow-ups are queued, in the period's transaction.

A billing period of an account is the unit of replacement. For each period in the data:

- ``cost_imports`` has it with the same fingerprint: skipped (``unchanged``);
- ``cost_imports`` has it from a newer snapshot: skipped (``older snapshot``): the cumulative
  snapshot trap, an old export arriving late must not replace the newer one;
- else it is replaced by this data.

Given a session (``AsyncSession``), every period is written in that session's transaction and
nothing here commits: the caller commits the whole import or rolls it all back. Given a
``Target``, each period commits on its own: an error in a later period leaves the periods
already committed (each whole), and never a half-written one. Until every period of a snapshot
is in, its periods record a provisional fingerprint, sealed by one last short transaction: a
snapshot counts as already imported (not read again) only once it is whole, so an import cut
short is read again and its missing periods written.

Reads never hang the import: finding the files and every batch read must each finish within
``read_timeout`` seconds (``XPLORR_INGEST_READ_TIMEOUT_SECONDS``), else ``ReadTimeout`` (an
``OSError``, so a sync retries it: a file share may come back) names the file being read. A
thread stuck in a read the kernel will not interrupt is left behind, not waited for.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Context, Decimal
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.ipc as paipc
from sqlalchemy import (
    BigInteger,
    Date,
    Numeric,
    String,
    Uuid,
    cast,
    column,
    exists,
    func,
    literal,
    select,
    table,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import clock, events, money
from xplorr.core.db import is_postgres
from xplorr.core.models import Money
from xplorr.core.money import STORE_SCALE
from xplorr.costs import store
from xplorr.costs.events import CostDataChanged
from xplorr.ingest.discovery import discover
from xplorr.ingest.focus import (
    DIMENSIONS,
    EXACT_BILLED,
    NORMALISED,
    SUMMED,
    IngestError,
    normalise_batch,
    read_focus,
)

__all__ = [
    "READ_TIMEOUT_SECONDS",
    "ImportSummary",
    "IngestError",
    "Progress",
    "ReadTimeout",
    "Target",
    "import_batches",
    "import_files",
    "import_path",
]

Progress = Callable[[int], None]
"""Called with the number of rows just read (from the event loop, after each batch)."""

UNCHANGED = "unchanged"
OLDER = "older snapshot"
READ_TIMEOUT_SECONDS = 300.0
T = TypeVar("T")


class ReadTimeout(TimeoutError):
    """A read of export data made no progress for the read timeout (transient: retried)."""


async def _in_thread(
    func: Callable[..., T], *args: Any, limit: float, reading: Callable[[], str]
) -> T:
    """``func(*args)`` in a worker thread, abandoned (not waited for) after ``limit`` s."""
    try:
        with anyio.fail_after(limit):
            return await anyio.to_thread.run_sync(func, *args, abandon_on_cancel=True)
    except TimeoutError:
        raise ReadTimeout(
            f"{reading()}: no data read for {limit:g} s (a stalled file share or device?); "
            "gave up on it."
        ) from None


STAGE = "xplorr_ingest_stage"
SHARED_KEYS = "xplorr_ingest_shared_keys"
WORK_MEM = "128MB"
FINGERPRINT_MAX = 64  # cost_imports.fingerprint
SQLITE_ROWS_PER_INSERT = 5_000
_EXACT_SUMS = Context(prec=200)  # sums of 38-fractional-digit amounts, without rounding


@dataclass(frozen=True, slots=True)
class Target:
    """Where an import writes. ``transaction()`` opens one unit of work and commits it on
    exit: the import reads what it knows in one, then replaces each billing period in one of
    its own. ``on_period(db, period)`` runs inside a period's transaction once the period is
    replaced (a sync records on its run which periods it committed)."""

    transaction: Callable[[], AbstractAsyncContextManager[AsyncSession]]
    on_period: Callable[[AsyncSession, date], Awaitable[None]] | None = None
    staging_dir: Path | None = None  # where rows wait for their period's transaction


def in_session(db: AsyncSession) -> Target:
    """Every period in ``db``'s transaction, which the caller commits (or rolls back) whole."""

    @asynccontextmanager
    async def same() -> AsyncIterator[AsyncSession]:
        yield db

    return Target(same)


def _target(into: AsyncSession | Target) -> Target:
    return into if isinstance(into, Target) else in_session(into)


def _fingerprint(value: str) -> str:
    """As stored (64 characters): a longer fingerprint is replaced by its SHA-256."""
    return value if len(value) <= FINGERPRINT_MAX else hashlib.sha256(value.encode()).hexdigest()


def _provisional(fingerprint: str) -> str:
    """What a period committed alone records until every period of its snapshot has: a
    snapshot counts as already imported (and is not read again) only once it is whole, so an
    import cut short is read again and its missing periods written."""
    return hashlib.sha256(f"partial:{fingerprint}".encode()).hexdigest()


def _plain(value: Decimal) -> Decimal:
    """The same number without trailing zeros (exact: no context rounding)."""
    if value == 0:
        return Decimal(0)
    normal = value.normalize(_EXACT_SUMS)
    exponent = normal.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:  # 1E+3 -> 1000
        normal = normal.quantize(Decimal(1), context=_EXACT_SUMS)
    return normal


@dataclass
class ImportSummary:
    """What one import did. ``totals`` are BilledCost per currency of the imported periods,
    summed exactly from the file values (before the store's 9-decimal rounding)."""

    rows_read: int = 0  # rows read from the source (including rows of skipped periods)
    rows_stored: int = 0  # daily rows written to cost_records
    periods_imported: list[date] = field(default_factory=list)
    periods_skipped: dict[date, str] = field(default_factory=dict)  # period -> reason
    first_date: date | None = None
    last_date: date | None = None
    totals: dict[str, Decimal] = field(default_factory=dict)
    files: int = 0
    files_skipped: list[str] = field(default_factory=list)  # "<name>: <why>", not read
    usage_days: set[date] = field(default_factory=set, repr=False)
    # A connector's partial sync: what could not be read and why (the rest was imported).
    warnings: list[str] = field(default_factory=list)
    api_calls: dict[str, int] = field(default_factory=dict)  # billable provider calls made

    @property
    def days(self) -> int:
        """Distinct usage days imported."""
        return len(self.usage_days)

    def merge(self, other: ImportSummary) -> None:
        """Fold another import of the same run in (a period imported anywhere is imported)."""
        self.rows_read += other.rows_read
        self.rows_stored += other.rows_stored
        self.files += other.files
        self.files_skipped += [f for f in other.files_skipped if f not in self.files_skipped]
        self.warnings += [w for w in other.warnings if w not in self.warnings]
        for name, count in other.api_calls.items():
            self.api_calls[name] = self.api_calls.get(name, 0) + count
        for period in other.periods_imported:
            if period not in self.periods_imported:
                self.periods_imported.append(period)
            self.periods_skipped.pop(period, None)
        self.periods_imported.sort()
        for period, reason in other.periods_skipped.items():
            if period not in self.periods_imported:
                self.periods_skipped.setdefault(period, reason)
        self.periods_skipped = dict(sorted(self.periods_skipped.items()))
        self.usage_days |= other.usage_days
        for day in (other.first_date, other.last_date):
            self._see(day)
        for currency, amount in other.totals.items():
            self.totals[currency] = _plain(
                _EXACT_SUMS.add(self.totals.get(currency, Decimal(0)), amount)
            )

    def _see(self, day: date | None) -> None:
        if day is None:
            return
        if self.first_date is None or day < self.first_date:
            self.first_date = day
        if self.last_date is None or day > self.last_date:
            self.last_date = day


# --------------------------------------------------------------------------------------------
# Public entry points


async def import_path(
    into: AsyncSession | Target,
    account: CloudAccount,
    path: Path,
    *,
    progress: Progress | None = None,
    read_timeout: float = READ_TIMEOUT_SECONDS,
) -> ImportSummary:
    """Import every export under ``path`` (a file or a directory): each billing period from
    the newest snapshot holding it (``ingest.discovery``). File names in errors are relative
    to ``path``; files that are not regular files are skipped (``files_skipped``).
    ``into``: a session (one transaction, the caller's) or a ``Target`` (one per period)."""
    found = await _in_thread(discover, path, limit=read_timeout, reading=lambda: str(path))
    base = path if await anyio.to_thread.run_sync(path.is_dir) else path.parent
    summary = ImportSummary(files_skipped=list(found.skipped))
    for snap in found.snapshots:  # newest first: older ones then skip what these gave
        part = await import_files(
            into,
            account,
            [f.path for f in snap.files],
            source=str(base / snap.source) if snap.source != "." else str(base),
            snapshot_at=snap.snapshot_at,
            fingerprint=snap.fingerprint,
            progress=progress,
            names=[f.name for f in snap.files],
            read_timeout=read_timeout,
        )
        summary.merge(part)
    for snap in found.superseded:
        if snap.period_hint is not None:
            skipped = ImportSummary(periods_skipped={snap.period_hint: OLDER})
            summary.merge(skipped)
    return summary


async def import_files(
    into: AsyncSession | Target,
    account: CloudAccount,
    files: Sequence[Path],
    *,
    source: str,
    snapshot_at: datetime,
    fingerprint: str,
    progress: Progress | None = None,
    names: Sequence[str] | None = None,
    read_timeout: float = READ_TIMEOUT_SECONDS,
) -> ImportSummary:
    """Import the files of one snapshot (the parts of one export run) together.

    A snapshot already imported (its fingerprint recorded for a period of this account) is
    not read again: every period it gave is ``unchanged``. ``names`` are how errors name the
    files (default: their paths).
    """
    fingerprint = _fingerprint(fingerprint)
    labels = list(names) if names is not None else [str(f) for f in files]
    if len(labels) != len(files):
        raise ValueError("names must match files one to one")
    target = _target(into)
    known = await _known_imports(target, account.id)
    seen = sorted(p for p, (known_print, _at) in known.items() if known_print == fingerprint)
    if seen:
        return ImportSummary(periods_skipped=dict.fromkeys(seen, UNCHANGED), files=len(files))

    reading = [labels[0] if labels else source]

    def batches() -> Iterator[pa.RecordBatch]:
        for path, label in zip(files, labels, strict=True):
            reading[0] = label
            yield from read_focus(path, name=label)

    summary = await _import_stream(
        target,
        account,
        batches(),
        known=known,
        source=source,
        snapshot_at=snapshot_at,
        fingerprint=fingerprint,
        progress=progress,
        read_timeout=read_timeout,
        reading=lambda: reading[0],
    )
    summary.files = len(files)
    return summary


async def import_batches(
    into: AsyncSession | Target,
    account: CloudAccount,
    batches: Iterable[pa.RecordBatch],
    *,
    source: str,
    snapshot_at: datetime,
    fingerprint: str,
    progress: Progress | None = None,
    read_timeout: float = READ_TIMEOUT_SECONDS,
) -> ImportSummary:
    """Import Arrow batches: raw FOCUS columns (text or typed, as a generator or a Parquet
    reader gives them) or already in the ``focus.NORMALISED`` shape. Same path as files."""
    fingerprint = _fingerprint(fingerprint)
    target = _target(into)
    known = await _known_imports(target, account.id)

    def normalised() -> Iterator[pa.RecordBatch]:
        first_row = 1
        for batch in batches:
            yield normalise_batch(batch, source=source, first_row=first_row)
            first_row += batch.num_rows

    return await _import_stream(
        target,
        account,
        normalised(),
        known=known,
        source=source,
        snapshot_at=snapshot_at,
        fingerprint=fingerprint,
        progress=progress,
        read_timeout=read_timeout,
        reading=lambda: source,
    )


# --------------------------------------------------------------------------------------------
# The stream


@dataclass
class _Period:
    rows: int = 0
    stored: int = 0
    first: date | None = None
    last: date | None = None
    totals: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class _Prepared:
    """One batch, spooled: how many rows it had and the usage days it kept."""

    rows: int
    days: set[date]


Known = dict[date, tuple[str, datetime]]  # period -> (fingerprint, snapshot_at) imported


class _Spool:
    """The rows of each period being replaced, in a local Arrow file per period (written in
    the worker thread, read back by the period's transaction)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._writers: dict[date, paipc.RecordBatchFileWriter] = {}

    def path(self, period: date) -> Path:
        return self.directory / f"{period.isoformat()}.arrow"

    def write(self, period: date, table: pa.Table) -> None:
        writer = self._writers.get(period)
        if writer is None:
            writer = paipc.new_file(str(self.path(period)), NORMALISED)
            self._writers[period] = writer
        writer.write_table(table)

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()

    def has(self, period: date) -> bool:
        return self.path(period).exists()


class _Decider:
    """Which periods of this import are replaced, which skipped (runs in the worker thread,
    one batch at a time)."""

    def __init__(self, known: Known, fingerprint: str, snapshot_at: datetime) -> None:
        self._known = dict(known)
        self._fingerprint = fingerprint
        self._snapshot_at = snapshot_at
        self.imported: dict[date, _Period] = {}
        self.skipped: dict[date, str] = {}

    def decide(self, period: date) -> bool:
        if period in self.imported:
            return True
        if period in self.skipped:
            return False
        previous = self._known.get(period)
        if previous is not None and previous[0] == self._fingerprint:
            self.skipped[period] = UNCHANGED
            return False
        if previous is not None and previous[1] > self._snapshot_at:
            self.skipped[period] = OLDER
            return False
        self.imported[period] = _Period()
        return True


def _prepare(
    batches: Iterator[pa.RecordBatch], decider: _Decider, spool: _Spool
) -> _Prepared | None:
    """Next batch: read and normalise it, count it per period, keep the rows of the periods
    being replaced and spool them per period. Blocking; runs in a thread."""
    batch = next(batches, None)
    if batch is None:
        return None
    table = pa.Table.from_batches([batch])
    stats = table.group_by(["billing_period", "currency"]).aggregate(
        [
            (EXACT_BILLED, "sum"),
            ("usage_date", "min"),
            ("usage_date", "max"),
            ("usage_date", "count"),
        ]
    )
    keep: list[date] = []
    for row in stats.to_pylist():
        period: date = row["billing_period"]
        if not decider.decide(period):
            continue
        keep.append(period)
        acc = decider.imported[period]
        acc.rows += row["usage_date_count"]
        first, last = row["usage_date_min"], row["usage_date_max"]
        acc.first = first if acc.first is None else min(acc.first, first)
        acc.last = last if acc.last is None else max(acc.last, last)
        currency: str = row["currency"]
        acc.totals[currency] = _EXACT_SUMS.add(
            acc.totals.get(currency, Decimal(0)), Decimal(row[f"{EXACT_BILLED}_sum"])
        )
    if len(keep) < len(stats):
        mask = pc.is_in(table.column("billing_period"), value_set=pa.array(keep, pa.date32()))
        table = table.filter(mask)
    if table.num_rows == 0:
        return _Prepared(batch.num_rows, set())
    table = _fold(table)
    days = set(pc.unique(table.column("usage_date")).to_pylist())
    periods = table.column("billing_period")
    kept = sorted(set(keep))  # one stats row per period and currency
    for period in kept:
        part = table if len(kept) == 1 else table.filter(pc.equal(periods, pa.scalar(period)))
        if part.num_rows:
            spool.write(period, part)
    return _Prepared(batch.num_rows, days)


SUMS = SUMMED
MONEY_COLUMNS = frozenset({"billed_cost", "effective_cost", "list_cost", "contracted_cost"})
QUANTITY_COLUMNS = frozenset({"consumed_quantity", "pricing_quantity"})


def _fold(table: pa.Table) -> pa.Table:
    """Fold the batch's rows of one charge and day (hourly rows) into one, in Arrow: usually
    most of the folding, so far fewer rows travel to the database. Rows of one charge spread
    over several batches are folded again in SQL (``_replace_periods``). Nulls group together,
    as in SQL; a sum of nulls stays null."""
    folded = table.group_by(list(DIMENSIONS), use_threads=False).aggregate(
        [(name, "sum") for name in SUMS]
    )
    if folded.num_rows == table.num_rows:
        return table.select(NORMALISED.names)
    folded = folded.rename_columns(
        [
            name.removesuffix("_sum") if name.endswith("_sum") else name
            for name in folded.column_names
        ]
    )
    return pa.Table.from_arrays(
        [pc.cast(folded.column(f.name), f.type) for f in NORMALISED], schema=NORMALISED
    )


def _encode_csv(table: pa.Table) -> memoryview:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False, batch_size=8192))
    return memoryview(sink.getvalue())


def _money_text(values: pa.ChunkedArray) -> list[str | None]:
    """decimal128(38, 9) -> the canonical text SQLite keeps a ``Money`` amount as.

    Arrow's cast writes ``1234.000000000``, as wanted, except below 1e-6, where it writes
    ``1E-9``: those few are rewritten (8x faster than formatting every Decimal in Python)."""
    text = pc.cast(values, pa.string())
    out: list[str | None] = text.to_pylist()
    if pc.any(pc.match_substring(text, "E")).as_py():
        out = [v if v is None or "E" not in v else money.store_text(Decimal(v)) for v in out]
    return out


def _encode_rows(table: pa.Table) -> list[tuple[Any, ...]]:
    columns: list[list[Any]] = []
    for name in NORMALISED.names:
        values = table.column(name)
        if name in MONEY_COLUMNS:
            columns.append(_money_text(values))
            continue
        if name in QUANTITY_COLUMNS:
            values = pc.cast(values, pa.float64())  # SQLite's NUMERIC is a float anyway
        elif name in {"billing_period", "usage_date"}:
            values = pc.cast(values, pa.string())  # SQLAlchemy's Date on SQLite: ISO text
        columns.append(values.to_pylist())
    return list(zip(*columns, strict=True))


def _stage_ddl(postgres: bool) -> str:
    amount = "NUMERIC(38, 9)" if postgres else "TEXT"
    quantity = "NUMERIC(38, 9)" if postgres else "REAL"
    types = {
        **dict.fromkeys(QUANTITY_COLUMNS, quantity),
        **dict.fromkeys(MONEY_COLUMNS, amount),
        "billing_period": "DATE",
        "usage_date": "DATE",
    }
    cols = [f"{name} {types.get(name, 'TEXT')}" for name in NORMALISED.names]
    if postgres:
        # A hash of every dimension, computed by PostgreSQL as rows arrive: rows with equal
        # dimensions have equal keys, so only rows sharing a key need the (slow, wide) GROUP
        # BY; a collision merely sends a few more rows down that exact path.
        parts = [
            f"({name} - DATE '2000-01-01')::text"
            if name in ("billing_period", "usage_date")
            else f"coalesce({name}, '')"
            for name in DIMENSIONS
        ]
        key = " || chr(1) || ".join(parts)
        cols.append(f"row_key BIGINT GENERATED ALWAYS AS (hashtextextended({key}, 0)) STORED")
    return f"CREATE TEMPORARY TABLE {STAGE} ({', '.join(cols)})"


async def _known_imports(target: Target, account_id: uuid.UUID) -> Known:
    async with target.transaction() as db:
        return await store.known_imports(db, account_id)


async def _import_stream(
    target: Target,
    account: CloudAccount,
    batches: Iterator[pa.RecordBatch],
    *,
    known: Known,
    source: str,
    snapshot_at: datetime,
    fingerprint: str,
    progress: Progress | None,
    read_timeout: float,
    reading: Callable[[], str],
) -> ImportSummary:
    if snapshot_at.tzinfo is None:
        raise ValueError("snapshot_at must be an aware datetime (UTC)")
    decider = _Decider(known, fingerprint, snapshot_at)
    summary = ImportSummary()
    staging = target.staging_dir
    if staging is not None:
        await anyio.to_thread.run_sync(partial(staging.mkdir, parents=True, exist_ok=True))
    with tempfile.TemporaryDirectory(prefix="xplorr-stage-", dir=target.staging_dir) as directory:
        spool = _Spool(Path(directory))
        await _stage(batches, decider, spool, summary, progress, read_timeout, reading)
        summary.periods_skipped = dict(sorted(decider.skipped.items()))
        for period in sorted(decider.imported):
            acc = decider.imported[period]
            async with target.transaction() as db:
                outcome = await _commit_period(
                    db,
                    account,
                    period,
                    spool,
                    acc,
                    source=source,
                    snapshot_at=snapshot_at,
                    fingerprint=fingerprint,
                )
                if outcome is None and target.on_period is not None:
                    await target.on_period(db, period)
            if outcome is not None:  # committed meanwhile by another import
                summary.periods_skipped[period] = outcome
                continue
            summary.periods_imported.append(period)
            summary.rows_stored += acc.stored
            summary._see(acc.first)
            summary._see(acc.last)
            for currency, amount in acc.totals.items():
                summary.totals[currency] = _EXACT_SUMS.add(
                    summary.totals.get(currency, Decimal(0)), amount
                )
    if summary.periods_imported:
        async with target.transaction() as db:  # the snapshot is whole: seal its periods
            await store.seal_imports(
                db, account.id, summary.periods_imported, _provisional(fingerprint), fingerprint
            )
    summary.periods_skipped = dict(sorted(summary.periods_skipped.items()))
    summary.totals = {cur: _plain(amount) for cur, amount in sorted(summary.totals.items())}
    return summary


async def _stage(
    batches: Iterator[pa.RecordBatch],
    decider: _Decider,
    spool: _Spool,
    summary: ImportSummary,
    progress: Progress | None,
    read_timeout: float,
    reading: Callable[[], str],
) -> None:
    """Read every batch into the spool (the next one read while this one is counted); no
    database access at all."""

    def step() -> _Prepared | None:
        return _prepare(batches, decider, spool)

    async def next_prepared() -> _Prepared | None:
        return await _in_thread(step, limit=read_timeout, reading=reading)

    pending: asyncio.Task[_Prepared | None] = asyncio.ensure_future(next_prepared())
    try:
        while (prepared := await pending) is not None:
            pending = asyncio.ensure_future(next_prepared())
            _count(summary, prepared, progress)
    finally:
        # Never leave the reader running in its thread (a generator cannot be closed while
        # it executes): wait for the step in flight, then close the stream.
        await asyncio.wait([pending])
        stalled = False
        if not pending.cancelled():
            # Retrieved: an error after ours is not "never retrieved".
            stalled = isinstance(pending.exception(), ReadTimeout)
        close = getattr(batches, "close", None)
        if close is not None and not stalled:  # a stalled read still runs the generator
            await anyio.to_thread.run_sync(close)
        if not stalled:
            await anyio.to_thread.run_sync(spool.close)


async def _commit_period(
    db: AsyncSession,
    account: CloudAccount,
    period: date,
    spool: _Spool,
    acc: _Period,
    *,
    source: str,
    snapshot_at: datetime,
    fingerprint: str,
) -> str | None:
    """Replace one period with its spooled rows in ``db``'s transaction. -> None, or why the
    period was skipped after all: the snapshot another import committed since the stage
    phase read ``cost_imports`` is the same (``unchanged``) or newer (``older snapshot``)."""
    rec = await store.import_of(db, account.id, period)
    if rec is not None and rec.fingerprint == fingerprint:
        return UNCHANGED
    if rec is not None and rec.snapshot_at > snapshot_at:
        return OLDER
    old_days = (rec.first_date, rec.last_date) if rec is not None else (None, None)
    conn = await db.connection()
    postgres = is_postgres(conn)
    await conn.exec_driver_sql(f"DROP TABLE IF EXISTS {STAGE}")
    await conn.exec_driver_sql(_stage_ddl(postgres))
    if spool.has(period):
        await _load_stage(db, spool.path(period), postgres)
    stored = await _replace_periods(db, account, [period])
    await conn.exec_driver_sql(f"DROP TABLE {STAGE}")
    acc.stored = stored.get(period, 0)
    await store.record_import(
        db,
        rec,
        org_id=account.org_id,
        account_id=account.id,
        period=period,
        values={
            "source": source,
            "snapshot_at": snapshot_at,
            "fingerprint": _provisional(fingerprint),
            "rows_read": acc.rows,
            "rows_stored": acc.stored,
            "first_date": acc.first,
            "last_date": acc.last,
            "totals": {cur: str(_plain(amount)) for cur, amount in sorted(acc.totals.items())},
            "imported_at": clock.now(),
        },
    )
    days = [d for d in (acc.first, acc.last, *old_days) if d is not None] or [period]
    await events.emit(
        db,
        CostDataChanged(
            org_id=account.org_id,
            cloud_account_id=account.id,
            first_day=min(days),
            last_day=max(days),
        ),
    )
    return None


async def _load_stage(db: AsyncSession, path: Path, postgres: bool) -> None:
    """The spooled rows of one period into the staging table, a batch at a time (each
    encoded in a worker thread)."""
    conn = await db.connection()
    reader = await anyio.to_thread.run_sync(lambda: paipc.open_file(pa.memory_map(str(path))))

    def encoded(index: int) -> Any:
        table = pa.Table.from_batches([reader.get_batch(index)])
        return _encode_csv(table) if postgres else _encode_rows(table)

    if postgres:
        raw = await conn.get_raw_connection()
        pg = raw.driver_connection
        assert pg is not None
        cols = ", ".join(NORMALISED.names)
        async with (
            pg.cursor() as cursor,
            cursor.copy(f"COPY {STAGE} ({cols}) FROM STDIN (FORMAT csv)") as copy,
        ):
            for index in range(reader.num_record_batches):
                await copy.write(await anyio.to_thread.run_sync(encoded, index))
        return
    marks = ", ".join("?" for _ in NORMALISED.names)
    sql = f"INSERT INTO {STAGE} VALUES ({marks})"  # noqa: S608 (constant names)
    for index in range(reader.num_record_batches):
        rows = await anyio.to_thread.run_sync(encoded, index)
        for start in range(0, len(rows), SQLITE_ROWS_PER_INSERT):
            await conn.exec_driver_sql(sql, rows[start : start + SQLITE_ROWS_PER_INSERT])


def _count(summary: ImportSummary, prepared: _Prepared, progress: Progress | None) -> None:
    summary.rows_read += prepared.rows
    summary.usage_days |= prepared.days
    if progress is not None:
        progress(prepared.rows)


async def _replace_periods(
    db: AsyncSession, account: CloudAccount, periods: list[date]
) -> dict[date, int]:
    """Swap the periods' rows for the staged ones, folded to one row per day and charge
    (``costs.store.replace_periods``). -> rows stored per period.

    On PostgreSQL, rows whose dimension hash no other staged row shares are inserted as they
    are, and only the others go through the GROUP BY (led by the hash, so the sort rarely
    compares text); SQLite (small, embedded) groups everything."""
    conn = await db.connection()
    postgres = is_postgres(conn)
    amount: TypeEngine[Any] = Money()
    types: dict[str, TypeEngine[Any]] = {
        "billing_period": Date(),
        "usage_date": Date(),
        **dict.fromkeys(MONEY_COLUMNS, amount),
        **dict.fromkeys(QUANTITY_COLUMNS, Numeric(38, STORE_SCALE)),
    }
    stage = table(
        STAGE,
        *(column(n, types.get(n, String())) for n in NORMALISED.names),
        column("row_key", BigInteger()),
    )
    dims = [stage.c[name] for name in DIMENSIONS]
    ids = [literal(account.org_id, Uuid()), literal(account.id, Uuid())]
    picked = [
        cast(stage.c.tags, JSONB) if name == "tags" and postgres else stage.c[name]
        for name in DIMENSIONS
    ]
    sums = [func.sum(stage.c[name], type_=types[name]) for name in SUMS]
    target = ["org_id", "cloud_account_id", *DIMENSIONS, *SUMS]
    if postgres:
        # The folds and rollups below hash-aggregate up to millions of rows; the default 4 MB
        # work_mem sends them to disk sorts. Local to the transaction, restored below.
        saved = (await conn.exec_driver_sql("SHOW work_mem")).scalar_one()
        await conn.exec_driver_sql(f"SET LOCAL work_mem = '{WORK_MEM}'")
    if not postgres:
        folded = select(*ids, *picked, *sums).group_by(*dims)
        return await store.replace_periods(db, account.id, periods, target, [folded])
    await conn.exec_driver_sql(f"DROP TABLE IF EXISTS {SHARED_KEYS}")
    await conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {SHARED_KEYS} AS SELECT row_key FROM {STAGE} "  # noqa: S608
        "GROUP BY row_key HAVING count(*) > 1"
    )
    keys = table(SHARED_KEYS, column("row_key", BigInteger()))
    shared = exists().where(keys.c.row_key == stage.c.row_key)
    alone = select(*ids, *picked, *(stage.c[name] for name in SUMS)).where(~shared)
    folded = select(*ids, *picked, *sums).where(shared).group_by(stage.c.row_key, *dims)
    stored = await store.replace_periods(db, account.id, periods, target, [alone, folded])
    await conn.exec_driver_sql(f"DROP TABLE {SHARED_KEYS}")
    await conn.exec_driver_sql("SELECT set_config('work_mem', %(v)s, true)", {"v": saved})
    return stored
