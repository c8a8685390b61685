"""The ``gcp`` connector: a Google Cloud bill from its BigQuery billing export.

The session (the account's service-account key) is opened once per sync
(``connectors.gcp.session``); the export is read by ``connectors.gcp.billing`` in a worker
thread, and no transaction is open while BigQuery answers. The inventory (Cloud Asset, or
Compute and Storage listing) is collected after the import by the inventory refresh the
import's ``CostDataChanged`` queues (``connectors.gcp.collector``).
"""

from typing import Any

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.connectors import ConnectorError, SyncContext
from xplorr.connectors.gcp.billing import import_bigquery
from xplorr.connectors.gcp.session import open_session, run
from xplorr.ingest.pipeline import ImportSummary, IngestError


async def run_sync(
    ctx: SyncContext, account: CloudAccount, credentials: dict[str, Any]
) -> ImportSummary:
    session = await run(open_session, ctx.settings, credentials)
    try:
        return await import_bigquery(ctx, account, session)
    except IngestError as exc:  # bad data: names the table, row and column
        raise ConnectorError(str(exc)) from exc
