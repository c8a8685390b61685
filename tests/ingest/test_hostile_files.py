"""Files that must never hang an import, be retried, or fail without saying where: bad data of
every kind names file, row and column (``hostile.BAD_FILES``), decompression is capped, things
that are not regular files are skipped, and a read that stalls times out naming the file."""

import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.ingest.focus_rows import row, write_csv
from tests.ingest.hostile import BAD_FILES
from tests.ingest.test_cli import run_cli
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.ingest.discovery import discover
from xplorr.ingest.focus import IngestError, read_focus
from xplorr.ingest.pipeline import ReadTimeout, import_batches, import_path


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_every_bad_file_is_an_ingest_error_naming_where(kind: str, tmp_path: Path) -> None:
    name, row_number, column, phrase = BAD_FILES[kind](tmp_path)
    with pytest.raises(IngestError) as caught:
        for _ in read_focus(tmp_path / name, name=name):
            pass
    err = caught.value
    assert (err.file, err.row, err.column) == (name, row_number, column), str(err)
    message = str(err)
    assert message.startswith(name), message
    assert phrase in message, message
    if row_number is not None:
        assert f"data row {row_number} " in message
    if column is not None:
        assert column in message


async def test_bad_files_fail_the_cli_with_one_line(
    db_url: str, account: CloudAccount, tmp_path: Path
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    name, *_ = BAD_FILES["deep-tags"](folder)
    result = await run_cli(db_url, tmp_path, str(folder), "--account", str(account.id))
    assert result.exit_code == 1, result.output
    assert f"{name}: data row 2" in result.output
    assert "Traceback" not in result.output


async def test_the_cli_skips_a_fifo_with_a_warning_line(
    db_url: str, account: CloudAccount, tmp_path: Path
) -> None:
    write_csv(tmp_path / "exports" / "good.csv", [row()])
    os.mkfifo(tmp_path / "exports" / "stuck.csv")
    result = await run_cli(
        db_url, tmp_path, str(tmp_path / "exports"), "--account", str(account.id)
    )
    assert result.exit_code == 0, result.output
    assert "Skipped stuck.csv: a FIFO, not a regular file; not read." in result.output
    assert "Rows read: 1" in result.output


def test_things_that_are_not_regular_files_are_skipped(tmp_path: Path) -> None:
    write_csv(tmp_path / "exports" / "good.csv", [row()])
    fifo = tmp_path / "exports" / "stuck.csv"
    os.mkfifo(fifo)
    (tmp_path / "exports" / "zero.csv.gz").symlink_to("/dev/zero")  # endless, never EOF
    found = discover(tmp_path / "exports")
    assert [f.name for s in found.snapshots for f in s.files] == ["good.csv"]
    assert found.skipped == [
        "stuck.csv: a FIFO, not a regular file; not read.",
        "zero.csv.gz: a character device, not a regular file; not read.",
    ]
    with pytest.raises(IngestError) as caught:
        discover(fifo)
    assert "a FIFO, not a regular file" in str(caught.value)


async def test_a_fifo_in_the_folder_does_not_hang_the_import(
    db: AsyncSession, account: CloudAccount, tmp_path: Path
) -> None:
    write_csv(tmp_path / "exports" / "good.csv", [row()])
    os.mkfifo(tmp_path / "exports" / "stuck.csv")
    summary = await import_path(db, account, tmp_path / "exports", read_timeout=30)
    assert summary.rows_read == 1
    assert summary.files_skipped == ["stuck.csv: a FIFO, not a regular file; not read."]


async def test_a_stalled_read_times_out_naming_the_source(
    db: AsyncSession, account: CloudAccount
) -> None:
    release = threading.Event()

    def stalled() -> Iterator[pa.RecordBatch]:
        yield pa.RecordBatch.from_pylist([row()])
        release.wait(30)  # a read the kernel does not return from
        yield pa.RecordBatch.from_pylist([row()])

    try:
        with pytest.raises(ReadTimeout) as caught:
            await import_batches(
                db,
                account,
                stalled(),
                source="share/2024-09.csv",
                snapshot_at=datetime(2024, 10, 1, tzinfo=UTC),
                fingerprint="stalled",
                read_timeout=0.5,
            )
    finally:
        release.set()  # let the abandoned thread finish
    assert str(caught.value).startswith("share/2024-09.csv: no data read for 0.5 s")
    assert isinstance(caught.value, OSError)  # transient: a sync retries it
