"""The ``focus`` connector: FOCUS export files in a local directory (or one file).

The path comes from the account's credentials (``{"path": ...}``), set by an organization admin;
the server must not read whatever an admin types. So at every sync, not only when the account
is saved, the path is resolved (symlinks followed) and must lie inside one of
``settings.focus_root_dirs`` (``XPLORR_FOCUS_ROOTS``); so must every symlink found inside the
directory. Then ``ingest.pipeline.import_path`` does the rest: discovery of the snapshots, the
newest snapshot per billing period, unchanged periods skipped, the rows staged locally with no
transaction open, then each period replaced in a transaction of its own.
"""

import os
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.connectors import ConnectorError, SyncContext
from xplorr.ingest.pipeline import ImportSummary, IngestError, ReadTimeout, import_path

NO_FILES_WARNING = (
    "No export files (.csv, .csv.gz or .parquet) were found at this account's export path: "
    "nothing was imported. Check the path, or wait for the first export to be delivered."
)


def _inside(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def check_export_path(raw: object, roots: tuple[Path, ...]) -> Path:
    """The resolved export location, or ``ConnectorError``. Blocking (file system): call it
    in a thread. The message never lists the allowed roots (server layout stays private)."""
    if not isinstance(raw, str) or not raw.strip():
        raise ConnectorError(
            'This focus account has no export path; update its credentials with {"path": ...}.'
        )
    given = Path(raw.strip()).expanduser()
    if not given.is_absolute():
        raise ConnectorError(f"The export path {raw!r} must be absolute.")
    resolved = given.resolve()
    if not _inside(resolved, roots):
        raise ConnectorError(
            f"The export path {raw!r} is outside the directories this server may read "
            "(XPLORR_FOCUS_ROOTS); ask the operator to allow it."
        )
    if not resolved.exists():
        raise ConnectorError(f"The export path {raw!r} does not exist.")
    if resolved.is_dir():
        for top, dirs, files in os.walk(resolved, followlinks=False):
            for name in (*dirs, *files):
                entry = Path(top) / name
                if entry.is_symlink() and not _inside(entry.resolve(), roots):
                    relative = entry.relative_to(resolved)
                    raise ConnectorError(
                        f"{relative} in the export path {raw!r} links outside the directories "
                        "this server may read (XPLORR_FOCUS_ROOTS)."
                    )
    elif not resolved.is_file():
        raise ConnectorError(f"The export path {raw!r} is neither a file nor a directory.")
    return resolved


async def run(
    ctx: SyncContext, account: CloudAccount, credentials: dict[str, Any]
) -> ImportSummary:
    """Import every export file of the account's location (newest snapshot per period)."""
    roots = ctx.settings.focus_root_dirs
    timeout = ctx.settings.ingest_read_timeout_seconds
    try:
        with anyio.fail_after(timeout):  # a stalled share: the walk is abandoned, retried
            path = await anyio.to_thread.run_sync(
                check_export_path, credentials.get("path"), roots, abandon_on_cancel=True
            )
    except TimeoutError:
        raise ReadTimeout(
            f"The export path could not be checked within {timeout:g} s (a stalled file "
            "share?); gave up on it."
        ) from None
    try:
        summary = await import_path(
            ctx.target, account, path, progress=ctx.progress, read_timeout=timeout
        )
    except IngestError as exc:  # bad data: names the file, row and column
        raise ConnectorError(str(exc)) from exc
    if summary.files == 0:
        # Not a failure (a new export folder is empty until the cloud's first delivery), but
        # never a silent success either: the run says so.
        summary.warnings.append(NO_FILES_WARNING)
    return summary
