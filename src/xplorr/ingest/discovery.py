"""Find FOCUS export files under a path and group them into snapshots, newest first.

How exports arrive: a provider writes an export *run* (a snapshot) as one or more files (a
multi-part export) into a folder of its own, and writes a new run every day or so. AWS Data
Exports re-deliver the whole month so far in every run (``.../data/BILLING_PERIOD=2024-09/
2024-09-18T06:12:45.123Z-<id>/part-00001.csv.gz``): adding two runs together doubles the
month, so only the newest snapshot of a billing period counts (the cumulative snapshot trap).

Rules, in order:

1. Export files are ``*.csv``, ``*.csv.gz`` and ``*.parquet`` (``*.gz.parquet`` and
   ``*.snappy.parquet`` included); hidden files and folders (``.``, ``_``) are ignored, and so
   are symlinked folders (the walk does not follow them). An export name on something that is
   not a regular file (a FIFO, a device, a socket: reading it could block forever) is skipped
   with a warning, listed in ``Discovery.skipped``; given as the path itself, it is refused.
2. The files of one folder form one snapshot (the parts of one run).
3. A snapshot's time is the date-time written in its folder path when there is one
   (``2024-09-18T06:12:45Z``, ``20240918T061245Z``, ``2024-09-18-06-12-45``...; the deepest
   one wins), else its newest file's modification time. Times are UTC.
4. A folder path naming its billing period (``BILLING_PERIOD=2024-09``, or the legacy CUR
   ``20240901-20241001``) lets discovery drop the older snapshots of that period without
   reading them (``superseded``). Other snapshots are all kept, newest first: the pipeline
   reads them in that order and skips the periods a newer snapshot already gave.
5. A snapshot's fingerprint is a SHA-256 over its files' names (relative to the path given),
   sizes and modification times: the same files again, untouched, are the same snapshot.

Blocking (file system): call ``discover`` in a thread.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import structlog

from xplorr.ingest.focus import FileFormat, IngestError, file_format

log = structlog.get_logger("xplorr.ingest")

_STAMP = re.compile(
    r"(?<!\d)(?P<y>(?:19|20)\d\d)-?(?P<mo>[01]\d)-?(?P<d>[0-3]\d)"
    r"[T_ -]?(?P<h>[0-2]\d)[:\-_]?(?P<mi>[0-5]\d)[:\-_]?(?P<s>[0-5]\d)"
    r"(?:[.,]\d+)?Z?(?!\d)",
    re.IGNORECASE,
)
_PERIOD = re.compile(r"billing_period=(?P<y>\d{4})-?(?P<mo>\d\d)", re.IGNORECASE)
_CUR_RANGE = re.compile(r"^(?P<y>\d{4})(?P<mo>\d\d)01-\d{8}$")


@dataclass(frozen=True, slots=True)
class ExportFile:
    path: Path
    name: str  # relative to the path discovery was given (how messages name the file)
    size: int
    mtime_ns: int
    format: FileFormat


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The files of one export run, imported together."""

    source: str  # folder relative to the path given ("." for the top)
    files: tuple[ExportFile, ...]
    snapshot_at: datetime
    fingerprint: str
    period_hint: date | None  # the billing period its path names, if any


@dataclass(slots=True)
class Discovery:
    snapshots: list[Snapshot] = field(default_factory=list)  # to import, newest first
    superseded: list[Snapshot] = field(default_factory=list)  # older runs of a named period
    skipped: list[str] = field(default_factory=list)  # "<name>: <why>", not read

    @property
    def files(self) -> int:
        return sum(len(s.files) for s in self.snapshots)


def _hidden(name: str) -> bool:
    return name.startswith((".", "_"))


def _stamp(parts: tuple[str, ...]) -> datetime | None:
    for part in reversed(parts):
        for match in reversed(list(_STAMP.finditer(part))):
            try:
                return datetime(
                    int(match["y"]),
                    int(match["mo"]),
                    int(match["d"]),
                    int(match["h"]),
                    int(match["mi"]),
                    int(match["s"]),
                    tzinfo=UTC,
                )
            except ValueError:
                continue
    return None


def _period_hint(parts: tuple[str, ...]) -> date | None:
    for part in reversed(parts):
        match = _PERIOD.search(part) or _CUR_RANGE.match(part)
        if match:
            try:
                return date(int(match["y"]), int(match["mo"]), 1)
            except ValueError:
                continue
    return None


def fingerprint(files: list[ExportFile]) -> str:
    digest = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.name):
        digest.update(f"{f.name}\0{f.size}\0{f.mtime_ns}\n".encode())
    return digest.hexdigest()


_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a directory",
}


class NotRegular(Exception):
    """An export name on something that is not a regular file."""


def _export_file(path: Path, root: Path) -> ExportFile | None:
    fmt = file_format(path)
    if fmt is None:
        return None
    info = path.stat()  # follows a symlink: what would be opened
    name = path.name if root == path else path.relative_to(root).as_posix()
    if not stat.S_ISREG(info.st_mode):
        kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
        raise NotRegular(f"{name}: {kind}, not a regular file; not read.")
    return ExportFile(path, name, info.st_size, info.st_mtime_ns, fmt)


def _snapshot(folder: str, files: list[ExportFile]) -> Snapshot:
    parts = () if folder == "." else tuple(Path(folder).parts)
    stamp = _stamp(parts)
    if stamp is None:
        newest = max(f.mtime_ns for f in files)
        stamp = datetime.fromtimestamp(newest / 1e9, tz=UTC)
    files = sorted(files, key=lambda f: f.name)
    return Snapshot(folder, tuple(files), stamp, fingerprint(files), _period_hint(parts))


def discover(path: Path) -> Discovery:
    """The snapshots under ``path`` (a file or a directory, searched recursively)."""
    if not path.exists():
        raise IngestError(f"{path}: no such file or directory.", file=str(path))
    groups: dict[str, list[ExportFile]] = {}
    result = Discovery()
    if not path.is_dir():
        try:
            found = _export_file(path, path)
        except NotRegular as exc:
            raise IngestError(str(exc), file=str(path)) from None
        if found is None:
            raise IngestError(
                f"{path}: not a FOCUS export (.csv, .csv.gz or .parquet).", file=str(path)
            )
        groups["."] = [found]
    else:
        for top, dirs, names in os.walk(path, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not _hidden(d))
            folder = Path(top).relative_to(path).as_posix()
            for name in sorted(names):
                if _hidden(name):
                    continue
                try:
                    found = _export_file(Path(top) / name, path)
                except NotRegular as exc:
                    log.warning("export_file_skipped", path=str(path), reason=str(exc))
                    result.skipped.append(str(exc))
                    continue
                if found is not None:
                    groups.setdefault(folder, []).append(found)
    snapshots = sorted(
        (_snapshot(folder, files) for folder, files in groups.items()),
        key=lambda s: (s.snapshot_at, s.source),
        reverse=True,
    )
    newest_of_period: set[date] = set()
    for snap in snapshots:
        if snap.period_hint is not None:
            if snap.period_hint in newest_of_period:
                result.superseded.append(snap)
                continue
            newest_of_period.add(snap.period_hint)
        result.snapshots.append(snap)
    return result
