"""Snapshot discovery: grouping, ordering, the newest snapshot per named period, fingerprints."""

import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tests.ingest.focus_rows import row, write_csv
from xplorr.ingest.discovery import discover
from xplorr.ingest.focus import IngestError


def touch(path: Path, when: datetime) -> Path:
    ts = when.timestamp()
    os.utime(path, (ts, ts))
    return path


def test_files_of_one_folder_are_one_snapshot_and_folders_order_by_their_stamp(
    tmp_path: Path,
) -> None:
    root = tmp_path / "export" / "data"
    early = root / "2024-09-10T06:00:00.000Z-aaaa"
    late = root / "20240918T061245Z"
    write_csv(early / "part-00001.csv", [row()])
    write_csv(late / "part-00001.csv", [row()])
    write_csv(late / "part-00002.csv", [row()])
    (late / "manifest.json").write_text("{}")
    (late / ".part-00003.csv.crc").write_text("x")
    (root / "_temporary").mkdir()
    write_csv(root / "_temporary" / "x.csv", [row()])
    found = discover(tmp_path / "export")
    assert [s.source for s in found.snapshots] == [
        "data/20240918T061245Z",
        "data/2024-09-10T06:00:00.000Z-aaaa",
    ]
    newest = found.snapshots[0]
    assert newest.snapshot_at == datetime(2024, 9, 18, 6, 12, 45, tzinfo=UTC)
    assert [f.name for f in newest.files] == [
        "data/20240918T061245Z/part-00001.csv",
        "data/20240918T061245Z/part-00002.csv",
    ]
    assert found.files == 3
    assert found.superseded == []


def test_without_a_stamp_the_newest_file_time_orders(tmp_path: Path) -> None:
    a = write_csv(tmp_path / "a" / "x.csv", [row()])
    b = write_csv(tmp_path / "b" / "x.csv.gz", [row()])
    touch(a, datetime(2025, 1, 2, tzinfo=UTC))
    touch(b, datetime(2025, 1, 1, tzinfo=UTC))
    found = discover(tmp_path)
    assert [s.source for s in found.snapshots] == ["a", "b"]
    assert found.snapshots[0].snapshot_at == datetime(2025, 1, 2, tzinfo=UTC)


def test_named_billing_periods_keep_only_their_newest_snapshot(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for folder in (
        "BILLING_PERIOD=2024-09/2024-09-05T00:00:00Z",
        "BILLING_PERIOD=2024-09/2024-09-20T00:00:00Z",
        "BILLING_PERIOD=2024-10/2024-10-02T00:00:00Z",
    ):
        write_csv(data / folder / "part.parquet.csv", [row()])
    found = discover(tmp_path)
    assert [(s.period_hint, s.snapshot_at.day) for s in found.snapshots] == [
        (date(2024, 10, 1), 2),
        (date(2024, 9, 1), 20),
    ]
    assert [(s.period_hint, s.snapshot_at.day) for s in found.superseded] == [(date(2024, 9, 1), 5)]


def test_fingerprint_changes_only_when_a_file_does(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "e" / "x.csv", [row()])
    first = discover(tmp_path).snapshots[0].fingerprint
    assert discover(tmp_path).snapshots[0].fingerprint == first
    write_csv(path, [row(BilledCost="2")])
    touch(path, datetime(2030, 1, 1, tzinfo=UTC))
    assert discover(tmp_path).snapshots[0].fingerprint != first


def test_a_single_file_and_bad_paths(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "one.csv", [row()])
    found = discover(path)
    assert [(s.source, [f.name for f in s.files]) for s in found.snapshots] == [(".", ["one.csv"])]
    with pytest.raises(IngestError, match="no such file"):
        discover(tmp_path / "missing")
    other = tmp_path / "notes.txt"
    other.write_text("x")
    with pytest.raises(IngestError, match="not a FOCUS export"):
        discover(other)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert discover(empty).snapshots == []
