"""FOCUS export files in a local directory (``connector``), registered with the connectors'
registry: a bill only (no inventory), and a connection test that checks the export path the way
a sync will (inside ``XPLORR_FOCUS_ROOTS``, present, no symlink out) and counts its export files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from xplorr.cloud_accounts.models import Provider
from xplorr.connectors import Check, ConnectorError, ProbeResult, lazily, register_provider

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from xplorr.core.settings import Settings
    from xplorr.core.tenancy import Principal

PATH_GROUP = "Export path"
FILES_GROUP = "Export files"


async def check_connection(
    _db: AsyncSession,
    settings: Settings,
    _who: Principal,
    _account_id: str,
    credentials: dict[str, Any],
) -> ProbeResult:
    """The export path as the next sync would see it, and the export files found there (not
    read). ``ok`` false with the reason when the path is refused; an empty folder is ``ok``
    (exports may not have been delivered yet) with its files check answered ``error``."""
    from xplorr.connectors.focus.connector import NO_FILES_WARNING, check_export_path
    from xplorr.ingest.discovery import discover
    from xplorr.ingest.pipeline import IngestError

    def look() -> tuple[int, int]:
        path = check_export_path(credentials.get("path"), settings.focus_root_dirs)
        found = discover(path)
        return found.files, len(found.snapshots)

    timeout = settings.ingest_read_timeout_seconds
    try:
        with anyio.fail_after(timeout):
            files, snapshots = await anyio.to_thread.run_sync(look, abandon_on_cancel=True)
    except TimeoutError:
        message = f"The export path could not be read within {timeout:g} s."
        return ProbeResult(ok=False, error=message, error_code="PATH_TIMEOUT")
    except (ConnectorError, IngestError) as exc:
        return ProbeResult(
            ok=False,
            error=str(exc),
            error_code="PATH_REFUSED",
            checks=[Check(PATH_GROUP, "read the export path", "denied", "PATH_REFUSED", str(exc))],
        )
    path_ok = Check(PATH_GROUP, "read the export path", "ok")
    if files == 0:
        empty = Check(
            FILES_GROUP, "find export files", "error", "NO_EXPORT_FILES", NO_FILES_WARNING
        )
        return ProbeResult(ok=True, checks=[path_ok, empty])
    found = (
        f"{files} export file{'s' if files != 1 else ''} in {snapshots} "
        f"export run{'s' if snapshots != 1 else ''}."
    )
    return ProbeResult(
        ok=True, checks=[path_ok, Check(FILES_GROUP, "find export files", "ok", None, found)]
    )


register_provider(
    Provider.FOCUS,
    label="FOCUS",
    sync=lazily("xplorr.connectors.focus.connector", "run"),
    test_connection=check_connection,
)
