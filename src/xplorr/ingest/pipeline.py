"""Import FOCUS data into the cost store: the one write path of billing data.

``import_path`` (a file or a directory of exports), ``import_files`` (the files of one snapshot)
and ``import_batches`` (Arrow batches from a connector, raw FOCUS or already normalised) all end
in the same stream: batches are read and normalised in a worker thread (pyarrow blocks; the
event loop of an embedded worker keeps serving the API), the next batch is prepared while the
current one is written, and rows go to a temporary staging table (``COPY`` on PostgreSQL,
``executemany`` on SQLite). Then, per billing period, in SQL:

    delete the period's rows -> INSERT INTO cost_records SELECT ... GROUP BY <every dimension,
    tags included> (hourly rows of one charge fold into one daily row, summed exactly)
    -> rebuild the period's rollups -> record the snapshot in cost_imports
    -> emit ``CostDataChanged`` for the days replaced (``core.events``)

Whoever imports (a sync, ``xplorr import focus``, a connector, a Kubernetes post), the same
follow-ups are queued, in the import's transaction.

A billing period of an account is the unit of replacement. For each period in the data:

- ``cost_imports`` has it with the same fingerprint: skipped (``unchanged``);
- ``cost_imports`` has it from a newer snapshot: skipped (``older snapshot``): the cumulative
  snapshot trap, an old export arriving late must not replace the newer one;
- else it is replaced by this data.

Everything happens in the caller's transaction and nothing here commits: an error anywhere
(a bad row in the last file) raises, and the caller's rollback leaves the old data as it was.

Reads never hang the import: finding the files and every batch read must each finish within
``read_timeout`` seconds (``XPLORR_INGEST_READ_TIMEOUT_SECONDS``), else ``ReadTimeout`` (an
``OSError``, so a sync retries it: a file share may come back) names the file being read. A
thread stuck in a read the kernel will not interrupt is left behind, not waited for.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Context, Decimal
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
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
    insert,
    literal,
    select,
    table,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import clock, events, money
from xplorr.core.models import Money
from xplorr.core.money import STORE_SCALE
from xplorr.costs import store
from xplorr.costs.events import CostDataChanged
from xplorr.costs.models import CostImport, CostRecord
from xplorr.ingest.discovery import discover
from xplorr.ingest.focus import (
    DIMENSIONS,
    EXACT_BILLED,
    NORMALISED,
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


def _fingerprint(value: str) -> str:
    """As stored (64 characters): a longer fingerprint is replaced by its SHA-256."""
    return value if len(value) <= FINGERPRINT_MAX else hashlib.sha256(value.encode()).hexdigest()


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
    db: AsyncSession,
    account: CloudAccount,
    path: Path,
    *,
    progress: Progress | None = None,
    read_timeout: float = READ_TIMEOUT_SECONDS,
) -> ImportSummary:
    """Import every export under ``path`` (a file or a directory): each billing period from
    the newest snapshot holding it (``ingest.discovery``). File names in errors are relative
    to ``path``; files that are not regular files are skipped (``files_skipped``)."""
    found = await _in_thread(discover, path, limit=read_timeout, reading=lambda: str(path))
    base = path if await anyio.to_thread.run_sync(path.is_dir) else path.parent
    summary = ImportSummary(files_skipped=list(found.skipped))
    for snap in found.snapshots:  # newest first: older ones then skip what these gave
        part = await import_files(
            db,
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
    db: AsyncSession,
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
    known = await _known_imports(db, account.id)
    seen = sorted(p for p, rec in known.items() if rec.fingerprint == fingerprint)
    if seen:
        return ImportSummary(periods_skipped=dict.fromkeys(seen, UNCHANGED), files=len(files))

    reading = [labels[0] if labels else source]

    def batches() -> Iterator[pa.RecordBatch]:
        for path, label in zip(files, labels, strict=True):
            reading[0] = label
            yield from read_focus(path, name=label)

    summary = await _import_stream(
        db,
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
    db: AsyncSession,
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
    known = await _known_imports(db, account.id)

    def normalised() -> Iterator[pa.RecordBatch]:
        first_row = 1
        for batch in batches:
            yield normalise_batch(batch, source=source, first_row=first_row)
            first_row += batch.num_rows

    return await _import_stream(
        db,
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
    first: date | None = None
    last: date | None = None
    totals: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class _Prepared:
    """One batch, ready to write: the rows to stage (encoded) and what it counted."""

    rows: int
    payload: Any  # CSV bytes (PostgreSQL) or a list of row tuples (SQLite); None: nothing
    days: set[date]


class _Decider:
    """Which periods of this import are replaced, which skipped (runs in the worker thread,
    one batch at a time)."""

    def __init__(
        self, known: dict[date, CostImport], fingerprint: str, snapshot_at: datetime
    ) -> None:
        self._known = {p: (rec.fingerprint, rec.snapshot_at) for p, rec in known.items()}
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
    batches: Iterator[pa.RecordBatch], decider: _Decider, postgres: bool
) -> _Prepared | None:
    """Next batch: read and normalise it, count it per period, keep the rows of the periods
    being replaced and encode them for the staging table. Blocking; runs in a thread."""
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
        return _Prepared(batch.num_rows, None, set())
    table = _fold(table)
    days = set(pc.unique(table.column("usage_date")).to_pylist())
    payload = _encode_csv(table) if postgres else _encode_rows(table)
    return _Prepared(batch.num_rows, payload, days)


SUMS = ("consumed_quantity", "billed_cost", "effective_cost", "list_cost")


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
        if name in {"billed_cost", "effective_cost", "list_cost"}:
            columns.append(_money_text(values))
            continue
        if name == "consumed_quantity":
            values = pc.cast(values, pa.float64())  # SQLite's NUMERIC is a float anyway
        elif name in {"billing_period", "usage_date"}:
            values = pc.cast(values, pa.string())  # SQLAlchemy's Date on SQLite: ISO text
        columns.append(values.to_pylist())
    return list(zip(*columns, strict=True))


def _stage_ddl(postgres: bool) -> str:
    amount = "NUMERIC(38, 9)" if postgres else "TEXT"
    quantity = "NUMERIC(38, 9)" if postgres else "REAL"
    types = {
        "consumed_quantity": quantity,
        "billing_period": "DATE",
        "usage_date": "DATE",
        "billed_cost": amount,
        "effective_cost": amount,
        "list_cost": amount,
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


async def _known_imports(db: AsyncSession, account_id: uuid.UUID) -> dict[date, CostImport]:
    rows = await db.scalars(select(CostImport).where(CostImport.cloud_account_id == account_id))
    return {rec.billing_period: rec for rec in rows}


async def _import_stream(
    db: AsyncSession,
    account: CloudAccount,
    batches: Iterator[pa.RecordBatch],
    *,
    known: dict[date, CostImport],
    source: str,
    snapshot_at: datetime,
    fingerprint: str,
    progress: Progress | None,
    read_timeout: float,
    reading: Callable[[], str],
) -> ImportSummary:
    if snapshot_at.tzinfo is None:
        raise ValueError("snapshot_at must be an aware datetime (UTC)")
    conn = await db.connection()
    postgres = conn.dialect.name == "postgresql"
    await conn.exec_driver_sql(f"DROP TABLE IF EXISTS {STAGE}")
    await conn.exec_driver_sql(_stage_ddl(postgres))
    decider = _Decider(known, fingerprint, snapshot_at)
    summary = ImportSummary()

    def step() -> _Prepared | None:
        return _prepare(batches, decider, postgres)

    async def next_prepared() -> _Prepared | None:
        return await _in_thread(step, limit=read_timeout, reading=reading)

    pending: asyncio.Task[_Prepared | None] = asyncio.ensure_future(next_prepared())
    try:
        if postgres:
            raw = await conn.get_raw_connection()
            pg = raw.driver_connection
            assert pg is not None
            cols = ", ".join(NORMALISED.names)
            async with (
                pg.cursor() as cursor,
                cursor.copy(f"COPY {STAGE} ({cols}) FROM STDIN (FORMAT csv)") as copy,
            ):
                while (prepared := await pending) is not None:
                    pending = asyncio.ensure_future(next_prepared())
                    if prepared.payload is not None:
                        await copy.write(prepared.payload)
                    _count(summary, prepared, progress)
        else:
            marks = ", ".join("?" for _ in NORMALISED.names)
            sql = f"INSERT INTO {STAGE} VALUES ({marks})"  # noqa: S608 (constant names)
            while (prepared := await pending) is not None:
                pending = asyncio.ensure_future(next_prepared())
                rows = prepared.payload or []
                for start in range(0, len(rows), SQLITE_ROWS_PER_INSERT):
                    await conn.exec_driver_sql(sql, rows[start : start + SQLITE_ROWS_PER_INSERT])
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

    periods = sorted(decider.imported)
    summary.periods_skipped = dict(sorted(decider.skipped.items()))
    if periods:
        first_day, last_day = _changed_days(periods, decider.imported, known)
        await _replace_periods(db, account, periods)
        stored = await _stored_counts(db, account.id, periods)
        now = clock.now()
        for period in periods:
            acc = decider.imported[period]
            rec = known.get(period)
            if rec is None:
                rec = CostImport(
                    org_id=account.org_id, cloud_account_id=account.id, billing_period=period
                )
                db.add(rec)
            rec.source = source
            rec.snapshot_at = snapshot_at
            rec.fingerprint = fingerprint
            rec.rows_read = acc.rows
            rec.rows_stored = stored.get(period, 0)
            rec.first_date = acc.first
            rec.last_date = acc.last
            rec.totals = {cur: str(_plain(amount)) for cur, amount in sorted(acc.totals.items())}
            rec.imported_at = now
            summary.rows_stored += rec.rows_stored
            summary._see(acc.first)
            summary._see(acc.last)
            for currency, amount in acc.totals.items():
                summary.totals[currency] = _EXACT_SUMS.add(
                    summary.totals.get(currency, Decimal(0)), amount
                )
        summary.totals = {cur: _plain(amount) for cur, amount in sorted(summary.totals.items())}
        summary.periods_imported = periods
    await conn.exec_driver_sql(f"DROP TABLE {STAGE}")
    await db.flush()
    if periods:
        await events.emit(
            db,
            CostDataChanged(
                org_id=account.org_id,
                cloud_account_id=account.id,
                first_day=first_day,
                last_day=last_day,
            ),
        )
    return summary


def _changed_days(
    periods: list[date], imported: dict[date, _Period], known: dict[date, CostImport]
) -> tuple[date, date]:
    """The usage days a replacement of ``periods`` may change: those of the new data and
    those of the data it replaces (read before ``known`` is updated)."""
    days: list[date | None] = []
    for period in periods:
        days += [imported[period].first, imported[period].last]
        old = known.get(period)
        if old is not None:
            days += [old.first_date, old.last_date]
    present = [day for day in days if day is not None] or [periods[0], periods[-1]]
    return min(present), max(present)


def _count(summary: ImportSummary, prepared: _Prepared, progress: Progress | None) -> None:
    summary.rows_read += prepared.rows
    summary.usage_days |= prepared.days
    if progress is not None:
        progress(prepared.rows)


async def _replace_periods(db: AsyncSession, account: CloudAccount, periods: list[date]) -> None:
    """Swap the periods' rows for the staged ones, folded to one row per day and charge.

    On PostgreSQL, rows whose dimension hash no other staged row shares are inserted as they
    are, and only the others go through the GROUP BY (led by the hash, so the sort rarely
    compares text); SQLite (small, embedded) groups everything."""
    conn = await db.connection()
    postgres = conn.dialect.name == "postgresql"
    amount: TypeEngine[Any] = Money()
    types: dict[str, TypeEngine[Any]] = {
        "billing_period": Date(),
        "usage_date": Date(),
        "billed_cost": amount,
        "effective_cost": amount,
        "list_cost": amount,
        "consumed_quantity": Numeric(38, STORE_SCALE),
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
    await store.delete_periods(db, account.id, periods)
    if not postgres:
        folded = select(*ids, *picked, *sums).group_by(*dims)
        await db.execute(insert(CostRecord).from_select(target, folded))
    else:
        await conn.exec_driver_sql(f"DROP TABLE IF EXISTS {SHARED_KEYS}")
        await conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE {SHARED_KEYS} AS SELECT row_key FROM {STAGE} "  # noqa: S608
            "GROUP BY row_key HAVING count(*) > 1"
        )
        keys = table(SHARED_KEYS, column("row_key", BigInteger()))
        shared = exists().where(keys.c.row_key == stage.c.row_key)
        alone = select(*ids, *picked, *(stage.c[name] for name in SUMS)).where(~shared)
        folded = select(*ids, *picked, *sums).where(shared).group_by(stage.c.row_key, *dims)
        await db.execute(insert(CostRecord).from_select(target, alone))
        await db.execute(insert(CostRecord).from_select(target, folded))
        await conn.exec_driver_sql(f"DROP TABLE {SHARED_KEYS}")
    await store.rebuild_rollups(db, account.id, periods)
    if postgres:
        await conn.exec_driver_sql("SELECT set_config('work_mem', %(v)s, true)", {"v": saved})


async def _stored_counts(
    db: AsyncSession, account_id: uuid.UUID, periods: list[date]
) -> dict[date, int]:
    rows = await db.execute(
        select(CostRecord.billing_period, func.count())
        .where(CostRecord.cloud_account_id == account_id, CostRecord.billing_period.in_(periods))
        .group_by(CostRecord.billing_period)
    )
    return {period: int(count) for period, count in rows.all()}
