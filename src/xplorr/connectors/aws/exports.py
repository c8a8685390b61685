"""AWS Data Exports in S3 (FOCUS 1.0/1.2 and CUR 2.0; CSV, gzip CSV or Parquet).

Layout (docs.aws.amazon.com/cur, "Data Exports delivery"): data files under
``<prefix>/<export>/data/BILLING_PERIOD=YYYY-MM/[<run>/]<export>-<n>.csv.gz|.snappy.parquet``
and, written once a run's files are all delivered, a manifest per billing period under
``<prefix>/<export>/metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json`` listing them
(``dataFiles``, full ``s3://`` URIs). Every run re-delivers the whole month so far.

What is imported, by the same rules as a local folder (``ingest.discovery``):

1. Everything under the prefix is listed (``ListObjectsV2``, paginated).
2. Where a billing period has a manifest, its snapshot is exactly the manifest's
   ``dataFiles`` (AWS: read the manifest, not the listing: a run being delivered is not
   half-read); the manifest's time (a run stamp in the data path, else its LastModified) is
   the snapshot's. Periods without a manifest (hand-made exports, older layouts) fall back to
   the folders: the files of one folder are one snapshot, its time from the path or the newest
   LastModified.
3. Per billing period only the newest snapshot counts; older runs are skipped (``older
   snapshot``) without being downloaded.
4. A snapshot's fingerprint is a SHA-256 of its keys, sizes and ETags: a run already imported
   is skipped (``unchanged``) without being downloaded.
5. The files of a snapshot to import are downloaded (streamed to disk by boto3's transfer
   manager, never whole in memory) into the sync's staging directory, with no transaction
   open, then read like local exports: FOCUS files through ``ingest.pipeline.import_files``,
   CUR 2.0 files through ``connectors.aws.cur`` (mapped to FOCUS) and ``import_batches``.
   The downloads are deleted once the snapshot is imported.

A snapshot whose files cannot be read for lack of permission (``s3:GetObject`` denied, a KMS
key not granted) is a warning naming the period and the file, and the other periods are
still imported (a partial sync). Bad data (a value that is not a number...) fails the sync,
naming the S3 key, the data row and the column.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import structlog

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.connectors import ConnectorError, SyncContext
from xplorr.connectors.aws import cur
from xplorr.connectors.aws.session import AwsCallError, AwsSession, call, run
from xplorr.costs import store
from xplorr.ingest.discovery import _hidden, _period_hint, _stamp
from xplorr.ingest.focus import IngestError, file_format
from xplorr.ingest.pipeline import ImportSummary, import_batches, import_files

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = structlog.get_logger("xplorr.connectors.aws")

OLDER = "older snapshot"
UNCHANGED = "unchanged"
MANIFEST_SUFFIX = "manifest.json"
MANIFEST_MAX_BYTES = 16 << 20


@dataclass(frozen=True, slots=True)
class S3File:
    key: str
    size: int
    etag: str
    last_modified: datetime

    @property
    def is_manifest(self) -> bool:
        return self.key.lower().endswith(MANIFEST_SUFFIX)


@dataclass(frozen=True, slots=True)
class S3Snapshot:
    """The data files of one export run (one billing period, usually)."""

    source: str  # s3://bucket/folder, or the manifest's URI
    files: tuple[S3File, ...]
    snapshot_at: datetime
    fingerprint: str
    period_hint: date | None


@dataclass(slots=True)
class S3Discovery:
    snapshots: list[S3Snapshot] = field(default_factory=list)  # newest first
    superseded: list[S3Snapshot] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _relative(key: str, prefix: str) -> tuple[str, ...]:
    rest = key[len(prefix) :] if prefix and key.startswith(prefix) else key
    return tuple(part for part in rest.split("/") if part)


def fingerprint(files: tuple[S3File, ...] | list[S3File], extra: str = "") -> str:
    digest = hashlib.sha256(extra.encode())
    for f in sorted(files, key=lambda f: f.key):
        digest.update(f"{f.key}\0{f.size}\0{f.etag}\n".encode())
    return digest.hexdigest()


def list_files(s3: S3Client, bucket: str, prefix: str) -> list[S3File]:
    """Every object under the prefix (blocking)."""
    out: list[S3File] = []
    paginator = s3.get_paginator("list_objects_v2")
    pages = paginator.paginate(Bucket=bucket, Prefix=prefix)
    for page in call("s3:ListBucket", lambda: list(pages)):
        for obj in page.get("Contents", []):
            out.append(
                S3File(
                    obj["Key"],
                    int(obj.get("Size", 0)),
                    str(obj.get("ETag", "")).strip('"'),
                    obj["LastModified"].astimezone(UTC),
                )
            )
    return out


def _data_file(f: S3File, prefix: str) -> bool:
    parts = _relative(f.key, prefix)
    if not parts or any(_hidden(p) for p in parts):
        return False
    return file_format(Path(parts[-1])) is not None


def _folder_snapshot(bucket: str, folder: str, files: list[S3File], prefix: str) -> S3Snapshot:
    parts = _relative(folder + "/", prefix) if folder else ()
    stamp = _stamp(parts) or max(f.last_modified for f in files)
    ordered = tuple(sorted(files, key=lambda f: f.key))
    return S3Snapshot(
        f"s3://{bucket}/{folder}", ordered, stamp, fingerprint(ordered), _period_hint(parts)
    )


def _manifest_snapshot(
    s3: S3Client, bucket: str, manifest: S3File, by_key: dict[str, S3File], prefix: str
) -> S3Snapshot:
    def read() -> Any:
        if manifest.size > MANIFEST_MAX_BYTES:
            raise ConnectorError(
                f"s3://{bucket}/{manifest.key}: a manifest of {manifest.size:,} bytes is too "
                "large to be an AWS Data Exports manifest."
            )
        body = s3.get_object(Bucket=bucket, Key=manifest.key)["Body"]
        try:
            return json.loads(body.read(MANIFEST_MAX_BYTES))
        finally:
            body.close()

    uri = f"s3://{bucket}/{manifest.key}"
    try:
        document = call("s3:GetObject", read)
    except ValueError as exc:
        raise ConnectorError(f"{uri}: not a readable manifest (bad JSON: {exc}).") from exc
    listed = document.get("dataFiles") if isinstance(document, dict) else None
    if not isinstance(listed, list) or not all(isinstance(x, str) for x in listed):
        raise ConnectorError(f"{uri}: the manifest has no dataFiles list.")
    files: list[S3File] = []
    for entry in listed:
        key = entry.removeprefix(f"s3://{bucket}/")
        if key == entry and entry.startswith("s3://"):
            raise ConnectorError(f"{uri}: data file {entry} is in another bucket.")
        found = by_key.get(key)
        if found is None:
            raise ConnectorError(f"{uri}: data file {entry} is listed but not in the bucket.")
        files.append(found)
    ordered = tuple(sorted(files, key=lambda f: f.key))
    data_parts: tuple[str, ...] = ()
    if ordered:
        data_parts = _relative(posixpath.dirname(ordered[0].key) + "/", prefix)
    manifest_parts = _relative(posixpath.dirname(manifest.key) + "/", prefix)
    stamp = _stamp(data_parts) or manifest.last_modified
    period = _period_hint(data_parts) or _period_hint(manifest_parts)
    # The data files' ETags, not the manifest's: AWS refreshes a manifest daily even when the
    # run it lists is unchanged, which must not re-import the period.
    return S3Snapshot(uri, ordered, stamp, fingerprint(ordered), period)


def discover(s3: S3Client, bucket: str, prefix: str) -> S3Discovery:
    """The export's snapshots (blocking): manifests first, folders for the rest."""
    files = list_files(s3, bucket, prefix)
    by_key = {f.key: f for f in files}
    result = S3Discovery()
    candidates: list[S3Snapshot] = []
    covered: set[date] = set()
    for manifest in sorted((f for f in files if f.is_manifest), key=lambda f: f.key):
        snap = _manifest_snapshot(s3, bucket, manifest, by_key, prefix)
        if not snap.files:
            continue
        candidates.append(snap)
        if snap.period_hint is not None:
            covered.add(snap.period_hint)
    folders: dict[str, list[S3File]] = {}
    for f in files:
        if not f.is_manifest and _data_file(f, prefix):
            folders.setdefault(posixpath.dirname(f.key), []).append(f)
    for folder, members in sorted(folders.items()):
        snap = _folder_snapshot(bucket, folder, members, prefix)
        if snap.period_hint is not None and snap.period_hint in covered:
            continue  # a manifest says which files of that period count
        candidates.append(snap)
    candidates.sort(key=lambda s: (s.snapshot_at, s.source), reverse=True)
    newest: set[date] = set()
    for snap in candidates:
        if snap.period_hint is not None:
            if snap.period_hint in newest:
                result.superseded.append(snap)
                continue
            newest.add(snap.period_hint)
        result.snapshots.append(snap)
    return result


def _download(s3: S3Client, bucket: str, files: tuple[S3File, ...], directory: Path) -> list[Path]:
    """The snapshot's files on local disk (blocking; streamed, never whole in memory)."""
    paths: list[Path] = []
    for index, f in enumerate(files):
        name = posixpath.basename(f.key)
        path = directory / f"{index:05d}-{name}"
        call(f"s3:GetObject s3://{bucket}/{f.key}", s3.download_file, bucket, f.key, str(path))
        paths.append(path)
    return paths


def _cur_batches(paths: list[Path], names: list[str]) -> Iterator[pa.RecordBatch]:
    for path, name in zip(paths, names, strict=True):
        yield from cur.normalised_cur(path, name=name)


async def _is_cur(paths: list[Path], names: list[str]) -> bool:
    kinds: set[bool] = set()
    for path, name in zip(paths, names, strict=True):
        try:
            columns = await run(cur.header, path)
        except (pa.ArrowException, OSError, EOFError, UnicodeDecodeError) as exc:
            raise IngestError(f"{name}: cannot read the file: {exc}", file=name) from exc
        kinds.add(cur.is_cur(columns))
    if len(kinds) > 1:
        raise IngestError(
            f"{names[0]}: the run mixes CUR 2.0 and FOCUS files; one export has one format.",
            file=names[0],
        )
    return kinds == {True}


async def import_export(
    ctx: SyncContext,
    account: CloudAccount,
    session: AwsSession,
    bucket: str,
    prefix: str,
    region: str | None,
) -> ImportSummary:
    """Import the account's Data Export (see the module docstring)."""
    s3 = await run(session.client, "s3", region)
    found = await run(discover, s3, bucket, prefix)
    async with ctx.target.transaction() as db:
        known = await store.known_imports(db, account.id)
    imported_prints = {printed for printed, _at in known.values()}
    summary = ImportSummary(warnings=list(found.warnings))
    staging = ctx.target.staging_dir or ctx.settings.data_dir / "staging"
    await run(lambda: staging.mkdir(parents=True, exist_ok=True))
    read_any = False
    denied: list[str] = []
    if not found.snapshots and not found.superseded:
        summary.warnings.append(
            f"No export files under s3://{bucket}/{prefix} yet (AWS delivers a new Data Export "
            "within 24 hours)."
        )
    for snap in found.snapshots:
        if snap.fingerprint in imported_prints:
            periods = sorted(
                p for p, (printed, _at) in known.items() if printed == snap.fingerprint
            )
            summary.merge(ImportSummary(periods_skipped=dict.fromkeys(periods, UNCHANGED)))
            read_any = True
            continue
        directory = Path(await run(tempfile.mkdtemp, f"aws-{uuid.uuid4().hex[:8]}-", str(staging)))
        try:
            try:
                paths = await run(_download, s3, bucket, snap.files, directory)
            except AwsCallError as exc:
                if not exc.failure.denied:
                    raise
                period = snap.period_hint.strftime("%Y-%m") if snap.period_hint else "?"
                denied.append(
                    f"Billing period {period} of s3://{bucket}/{prefix} was not imported: {exc}"
                )
                log.warning("aws_export_period_denied", account=str(account.id), period=period)
                continue
            names = [f"s3://{bucket}/{f.key}" for f in snap.files]
            if await _is_cur(paths, names):
                part = await import_batches(
                    ctx.target,
                    account,
                    _cur_batches(paths, names),
                    source=snap.source,
                    snapshot_at=snap.snapshot_at,
                    fingerprint=snap.fingerprint,
                    progress=ctx.progress,
                    read_timeout=ctx.settings.ingest_read_timeout_seconds,
                )
                part.files = len(paths)
            else:
                part = await import_files(
                    ctx.target,
                    account,
                    paths,
                    source=snap.source,
                    snapshot_at=snap.snapshot_at,
                    fingerprint=snap.fingerprint,
                    progress=ctx.progress,
                    names=names,
                    read_timeout=ctx.settings.ingest_read_timeout_seconds,
                )
            summary.merge(part)
            read_any = True
        finally:
            await run(shutil.rmtree, directory, True)
    for snap in found.superseded:
        if snap.period_hint is not None:
            summary.merge(ImportSummary(periods_skipped={snap.period_hint: OLDER}))
    if denied and not read_any:
        raise ConnectorError(" ".join(denied))
    summary.warnings += denied
    return summary


__all__ = ["S3Discovery", "S3File", "S3Snapshot", "discover", "import_export"]
