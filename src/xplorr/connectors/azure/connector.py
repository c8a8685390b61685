"""The ``azure`` connector: a subscription's bill, from a Cost Management export or the Query API.

With an export configured (``exportStorageAccount`` + ``exportContainer``, or ``exportSasUrl``)
the bill comes from it (``connectors.azure.exports``: the precise source); without one, from the
Query API (``connectors.azure.query``). An export that cannot be listed at all for lack of
permission (or whose container does not exist) is a warning, and the Query API is read instead:
a sync fails only when nothing could be read. Everything blocking runs in worker threads, and
no transaction is open while Azure is read.
"""

from typing import Any

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.connectors import ConnectorError, SyncContext
from xplorr.connectors.azure.exports import import_export, where
from xplorr.connectors.azure.query import import_query
from xplorr.connectors.azure.session import AzureCallError, open_session
from xplorr.ingest.pipeline import ImportSummary, IngestError


async def run(
    ctx: SyncContext, account: CloudAccount, credentials: dict[str, Any]
) -> ImportSummary:
    session = open_session(ctx.settings, credentials)
    try:
        if not session.target.has_export:
            return await import_query(ctx, account, session)
        try:
            return await import_export(ctx, account, session)
        except IngestError as exc:  # bad data: names the blob, row and column
            raise ConnectorError(str(exc)) from exc
        except AzureCallError as exc:
            if exc.failure.bad_credentials or not (exc.failure.denied or exc.failure.not_found):
                raise
            warning = (
                f"The Cost Management export {where(session)} could not be read ({exc}); the "
                "bill was read from the Cost Management Query API instead."
            )
        summary = await import_query(ctx, account, session)
        summary.warnings.insert(0, warning)
        return summary
    finally:
        session.close()
