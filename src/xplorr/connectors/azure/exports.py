"""Azure Cost Management exports in Blob storage (FocusCost, ActualCost, AmortizedCost).

Layout (Cost Management "File partitioning for large datasets", finops-toolkit hubs):
``{container}/{exportPath}/{export name}/{YYYYMMDD-YYYYMMDD}/[{export time}/]{run id}/`` holds
one run: its parts (``part_{n}_{nnnn}.csv``, ``.csv.gz`` or ``.snappy.parquet``, each with a
header) and, written once the run is delivered, its ``manifest.json``:
``exportConfig{exportName, type, dataVersion}``, ``runInfo{submittedTime, startDate, endDate}``
and ``blobs[{blobName, byteCount, dataRowCount}]``. Microsoft: "avoid hardcoding or guessing
partition names", so only manifests are read: a run without one is still being written.

What is imported:

1. The blobs under ``exportPath`` are listed (``list_blobs``, paged by the SDK) and every
   ``manifest.json`` read (at most ``MANIFEST_MAX_BYTES``). Its ``blobs`` are the run's files,
   which must be in the listing (a run half-deleted fails, naming the file).
2. A run's billing period is its ``runInfo.startDate``'s month; its time is ``submittedTime``.
   Per period one run counts: a FocusCost run before an ActualCost one before an AmortizedCost
   one (FocusCost carries both invoiced and amortized cost), then the newest. So the re-run of
   last month during days 1-5 of this month (a daily export's month-end rerun) replaces the
   month; older runs are skipped (``older snapshot``) without being downloaded. Exports of
   other types (PriceSheet, Reservation*) are not cost data and are skipped by name.
3. A run's fingerprint is a SHA-256 of its files' names, sizes and ETags: a run already imported
   is skipped (``unchanged``) without being downloaded.
4. The files of a run to import are downloaded (streamed to the sync's staging directory in the
   SDK's chunks, never whole in memory), then imported through ``ingest.pipeline``: FocusCost
   (1.0, 1.0r2, 1.2-preview) as FOCUS files, cost details through ``costdetails`` (mapped to
   FOCUS). The downloads are deleted once the run is imported.

Read as the service principal (``exportStorageAccount``: Storage Blob Data Reader on the
container) or with a container SAS URL alone (``exportSasUrl``, checked by ``core.egress``'s
URL rules: https, a public address). A run whose files are refused is a warning naming its
period (a partial sync); a container that cannot be listed at all is an ``AzureCallError`` the
connector answers by reading the Query API instead.
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
from typing import Any, Final

import pyarrow as pa
import structlog
from azure.storage.blob import ContainerClient

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.connectors import ConnectorError, SyncContext
from xplorr.connectors.azure import costdetails
from xplorr.connectors.azure.session import (
    BLOB_ENDPOINT,
    AzureCallError,
    AzureSession,
    call,
    run,
)
from xplorr.core import egress
from xplorr.costs import store
from xplorr.ingest.focus import IngestError, file_format
from xplorr.ingest.pipeline import ImportSummary, import_batches, import_files

log = structlog.get_logger("xplorr.connectors.azure")

OLDER: Final = "older snapshot"
UNCHANGED: Final = "unchanged"
MANIFEST_NAME: Final = "manifest.json"
MANIFEST_MAX_BYTES: Final = 16 << 20
FOCUS: Final = "FocusCost"
# Datasets imported, in the order of preference for one billing period.
DATASETS: Final = (FOCUS, costdetails.ACTUAL, costdetails.AMORTIZED)
FOCUS_VERSIONS: Final = ("1.0", "1.0r2", "1.2-preview")


@dataclass(frozen=True, slots=True)
class BlobFile:
    name: str
    size: int
    etag: str
    last_modified: datetime


@dataclass(frozen=True, slots=True)
class Run:
    """One export run, from its manifest."""

    manifest: str
    export_name: str
    dataset: str
    version: str | None
    period: date
    submitted: datetime
    files: tuple[BlobFile, ...]
    fingerprint: str


@dataclass(slots=True)
class Discovery:
    runs: list[Run] = field(default_factory=list)  # one per period: the one that counts
    superseded: list[Run] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _timestamp(text: Any, where: str) -> datetime:
    """Azure's timestamps: ``2024-02-03T08:15:25.3493455Z`` (7 digits), or no zone (UTC)."""
    if not isinstance(text, str) or not text:
        raise ConnectorError(f"{where}: the manifest has no run time.")
    value = text.strip().replace("Z", "+00:00")
    if "." in value:
        head, _, rest = value.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits) :]
        value = f"{head}.{digits[:6]}{zone}"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConnectorError(f"{where}: {text[:40]!r} is not a timestamp.") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def fingerprint(files: tuple[BlobFile, ...]) -> str:
    digest = hashlib.sha256(b"azure-export-v1\n")
    for f in sorted(files, key=lambda f: f.name):
        digest.update(f"{f.name}\0{f.size}\0{f.etag}\n".encode())
    return digest.hexdigest()


async def check_sas_url(session: AzureSession) -> None:
    """A SAS URL is user-given: the same rules as a webhook's (https, no user info, a host
    resolving to public addresses only, unless ``XPLORR_EGRESS_ALLOW_HOSTS`` lists it)."""
    url = session.target.export_sas_url
    if not url:
        return
    try:
        parts = egress.check_url(url, session.settings)
        await egress.resolve(parts, session.settings)
    except egress.EgressRefused as exc:
        raise ConnectorError(f"exportSasUrl refused: {exc}") from None


def container_client(session: AzureSession) -> ContainerClient:
    """The export's container, by SAS URL or as the service principal (no call made; the
    SAS URL checked by ``check_sas_url`` first)."""
    target = session.target
    options = session.transport_options()
    if target.export_sas_url:
        return ContainerClient.from_container_url(target.export_sas_url, **options)
    account_url = (session.settings.azure_blob_endpoint or BLOB_ENDPOINT).format(
        account=target.export_storage_account
    )
    return ContainerClient(
        account_url, str(target.export_container), credential=session.credential, **options
    )


def where(session: AzureSession) -> str:
    """How messages name the export (never the SAS token)."""
    target = session.target
    if target.export_sas_url:
        base = target.export_sas_url.split("?", 1)[0]
    else:
        base = f"{target.export_storage_account}/{target.export_container}"
    return f"{base}/{target.export_path}".rstrip("/")


def list_blobs(container: ContainerClient, prefix: str) -> list[BlobFile]:
    def listing() -> list[BlobFile]:
        out = []
        for blob in container.list_blobs(name_starts_with=prefix or None):
            modified = blob.last_modified
            out.append(
                BlobFile(
                    blob.name,
                    int(blob.size or 0),
                    str(blob.etag or "").strip('"'),
                    modified.astimezone(UTC) if modified else datetime.now(UTC),
                )
            )
        return out

    return call("Microsoft.Storage/blobs/read (list)", listing)


def _read_manifest(container: ContainerClient, blob: BlobFile) -> Any:
    if blob.size > MANIFEST_MAX_BYTES:
        raise ConnectorError(
            f"{blob.name}: a manifest of {blob.size:,} bytes is too large to be a Cost "
            "Management export manifest."
        )
    data = call(
        "Microsoft.Storage/blobs/read",
        lambda: container.download_blob(blob.name).readall(),
    )
    try:
        return json.loads(data[:MANIFEST_MAX_BYTES])
    except ValueError as exc:
        raise ConnectorError(f"{blob.name}: not a readable manifest (bad JSON: {exc}).") from exc


def _run(document: Any, manifest: BlobFile, by_name: dict[str, BlobFile]) -> Run | str:
    """The run a manifest describes, or why it is not cost data (a string)."""
    name = manifest.name
    if not isinstance(document, dict):
        raise ConnectorError(f"{name}: the manifest is not a JSON object.")
    config = document.get("exportConfig") or {}
    info = document.get("runInfo") or {}
    listed = document.get("blobs")
    if not isinstance(config, dict) or not isinstance(info, dict) or not isinstance(listed, list):
        raise ConnectorError(f"{name}: the manifest lacks exportConfig, runInfo or blobs.")
    dataset = str(config.get("type") or "")
    if dataset not in DATASETS:
        return f"{name}: a {dataset or 'untyped'} export is not cost data; not imported."
    start = _timestamp(info.get("startDate"), name)
    submitted = _timestamp(info.get("submittedTime"), name)
    folder = posixpath.dirname(name)
    files: list[BlobFile] = []
    for entry in listed:
        blob_name = entry.get("blobName") if isinstance(entry, dict) else None
        if not isinstance(blob_name, str) or not blob_name:
            raise ConnectorError(f"{name}: a blobs entry has no blobName.")
        found = by_name.get(blob_name) or by_name.get(
            posixpath.join(folder, posixpath.basename(blob_name))
        )
        if found is None:
            raise ConnectorError(
                f"{name}: data file {blob_name} is listed but not in the container."
            )
        if file_format(Path(found.name)) is None:
            raise ConnectorError(f"{name}: data file {blob_name} is not CSV or Parquet.")
        files.append(found)
    ordered = tuple(sorted(files, key=lambda f: f.name))
    return Run(
        manifest=name,
        export_name=str(config.get("exportName") or ""),
        dataset=dataset,
        version=str(config["dataVersion"]) if config.get("dataVersion") else None,
        period=start.date().replace(day=1),
        submitted=submitted,
        files=ordered,
        fingerprint=fingerprint(ordered),
    )


def discover(container: ContainerClient, prefix: str) -> Discovery:
    """Every run the manifests under ``prefix`` describe, the one per period that counts first
    (blocking)."""
    blobs = list_blobs(container, prefix)
    by_name = {b.name: b for b in blobs}
    found = Discovery()
    runs: list[Run] = []
    for blob in sorted(blobs, key=lambda b: b.name):
        if posixpath.basename(blob.name).lower() != MANIFEST_NAME:
            continue
        described = _run(_read_manifest(container, blob), blob, by_name)
        if isinstance(described, str):
            found.skipped.append(described)
        elif described.files:
            runs.append(described)
    runs.sort(key=lambda r: (DATASETS.index(r.dataset), -r.submitted.timestamp(), r.manifest))
    taken: set[date] = set()
    for r in runs:
        if r.period in taken:
            found.superseded.append(r)
            continue
        taken.add(r.period)
        found.runs.append(r)
    found.runs.sort(key=lambda r: r.period)
    return found


def _download(container: ContainerClient, run_: Run, directory: Path) -> list[Path]:
    paths: list[Path] = []
    for index, blob in enumerate(run_.files):
        path = directory / f"{index:05d}-{posixpath.basename(blob.name)}"

        def fetch(target: Path = path, name: str = blob.name) -> None:
            with target.open("wb") as out:
                container.download_blob(name).readinto(out)

        call(f"Microsoft.Storage/blobs/read {blob.name}", fetch)
        paths.append(path)
    return paths


def _details_batches(paths: list[Path], names: list[str]) -> Iterator[pa.RecordBatch]:
    for path, name in zip(paths, names, strict=True):
        yield from costdetails.normalised(path, name=name)


async def _check_header(paths: list[Path], names: list[str], run_: Run) -> None:
    """A FocusCost run must hold FOCUS files, a cost details run cost details files."""
    for path, name in zip(paths, names, strict=True):
        try:
            columns = await run(costdetails.header, path)
        except (pa.ArrowException, OSError, EOFError, UnicodeDecodeError) as exc:
            raise IngestError(f"{name}: cannot read the file: {exc}", file=name) from exc
        details = costdetails.is_cost_details(columns)
        if details == (run_.dataset == FOCUS):
            raise IngestError(
                f"{name}: the manifest says {run_.dataset} but the file's columns are "
                f"{'cost details' if details else 'FOCUS'}'.",
                file=name,
            )


async def import_export(
    ctx: SyncContext, account: CloudAccount, session: AzureSession
) -> ImportSummary:
    """Import the account's Cost Management export (see the module docstring)."""
    await check_sas_url(session)
    container = container_client(session)
    label = where(session)
    try:
        found = await run(discover, container, session.target.export_path)
        async with ctx.target.transaction() as db:
            known = await store.known_imports(db, account.id)
        imported = {printed for printed, _at in known.values()}
        summary = ImportSummary(files_skipped=list(found.skipped))
        if not found.runs:
            summary.warnings.append(
                f"No Cost Management export runs (manifest.json) under {label} yet (Azure "
                "delivers a new export within 24 hours; a run without its manifest is still "
                "being written)."
            )
        staging = ctx.target.staging_dir or ctx.settings.data_dir / "staging"
        await run(lambda: staging.mkdir(parents=True, exist_ok=True))
        denied: list[str] = []
        read_any = False
        for r in found.runs:
            month = r.period.strftime("%Y-%m")
            if r.fingerprint in imported:
                periods = sorted(p for p, (fp, _at) in known.items() if fp == r.fingerprint)
                summary.merge(ImportSummary(periods_skipped=dict.fromkeys(periods, UNCHANGED)))
                read_any = True
                continue
            if r.dataset == FOCUS and r.version and r.version not in FOCUS_VERSIONS:
                summary.warnings.append(
                    f"{r.manifest}: FocusCost version {r.version} is newer than the ones "
                    f"known here ({', '.join(FOCUS_VERSIONS)}); its FOCUS columns were read."
                )
            if r.dataset == costdetails.AMORTIZED:
                summary.warnings.append(
                    f"Billing period {month} came from an AmortizedCost export: its billed "
                    "cost is the amortized cost (export FocusCost to get both)."
                )
            directory = Path(
                await run(tempfile.mkdtemp, f"azure-{uuid.uuid4().hex[:8]}-", str(staging))
            )
            try:
                try:
                    paths = await run(_download, container, r, directory)
                except AzureCallError as exc:
                    if not exc.failure.denied and not exc.failure.not_found:
                        raise
                    denied.append(f"Billing period {month} of {label} was not imported: {exc}")
                    log.warning("azure_export_period_denied", account=str(account.id))
                    continue
                names = [f"{label.split('/', 1)[0]}/{f.name}" for f in r.files]
                await _check_header(paths, names, r)
                source = f"azure-export:{r.manifest}"
                if r.dataset == FOCUS:
                    part = await import_files(
                        ctx.target,
                        account,
                        paths,
                        source=source,
                        snapshot_at=r.submitted,
                        fingerprint=r.fingerprint,
                        progress=ctx.progress,
                        names=names,
                        read_timeout=ctx.settings.ingest_read_timeout_seconds,
                    )
                else:
                    part = await import_batches(
                        ctx.target,
                        account,
                        _details_batches(paths, names),
                        source=source,
                        snapshot_at=r.submitted,
                        fingerprint=r.fingerprint,
                        progress=ctx.progress,
                        read_timeout=ctx.settings.ingest_read_timeout_seconds,
                    )
                    part.files = len(paths)
                summary.merge(part)
                read_any = True
            finally:
                await run(shutil.rmtree, directory, True)
        for r in found.superseded:
            summary.merge(ImportSummary(periods_skipped={r.period: OLDER}))
        if denied and not read_any:
            raise ConnectorError(" ".join(denied))
        summary.warnings += denied
        return summary
    finally:
        await run(container.close)


__all__ = ["BlobFile", "Discovery", "Run", "discover", "import_export"]
