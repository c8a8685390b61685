"""The ``aws`` connector: an AWS account's bill, from a Data Export in S3 or Cost Explorer.

With ``exportBucket`` in the account's credentials the bill comes from that Data Export
(``connectors.aws.exports``: FOCUS or CUR 2.0, the precise source); without it, from Cost
Explorer (``connectors.aws.cost_explorer``). If the export cannot be read at all for lack of
permission (or its bucket does not exist), the sync says so in a warning and reads Cost
Explorer instead: a sync fails only when nothing could be read.

The session (access keys, or the IAM role assumed from the org's base keys when it saved some,
else from the server's own credentials) is opened
once per sync (``connectors.aws.session``); everything blocking runs in worker threads, and no
transaction is open while AWS is read.
"""

from typing import Any

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.connectors import ConnectorError, SyncContext
from xplorr.connectors.aws.cost_explorer import import_cost_explorer
from xplorr.connectors.aws.exports import import_export
from xplorr.connectors.aws.session import AwsCallError, connect, org_base_keys
from xplorr.ingest.pipeline import ImportSummary, IngestError

# Failures of the export source after which Cost Explorer is tried instead.
FALL_BACK_CODES = frozenset({"NoSuchBucket", "PermanentRedirect", "AuthorizationHeaderMalformed"})


async def run(
    ctx: SyncContext, account: CloudAccount, credentials: dict[str, Any]
) -> ImportSummary:
    async with ctx.target.transaction() as db:  # closed again before AWS is called
        base = await org_base_keys(db, ctx.settings, account.org_id, credentials)
    session = await connect(ctx.settings, account.provider_account_id, credentials, base=base)
    tag_keys = [str(k) for k in credentials.get("costTagKeys") or []]
    bucket = credentials.get("exportBucket")
    if not bucket:
        return await import_cost_explorer(ctx, account, session, tag_keys)
    prefix = str(credentials.get("exportPrefix") or "")
    region = credentials.get("exportRegion") or None
    try:
        return await import_export(ctx, account, session, str(bucket), prefix, region)
    except IngestError as exc:  # bad data: names the S3 key, row and column
        raise ConnectorError(str(exc)) from exc
    except AwsCallError as exc:
        if not (exc.failure.denied or exc.failure.code in FALL_BACK_CODES):
            raise
        warning = (
            f"The Data Export s3://{bucket}/{prefix} could not be read ({exc}); the bill was "
            "read from Cost Explorer instead."
        )
    summary = await import_cost_explorer(ctx, account, session, tag_keys)
    summary.warnings.insert(0, warning)
    return summary
