"""The AWS inventory collector: ``connectors.aws.inventory`` read in a thread, recorded as one
snapshot of the (region, resource type) scopes it read completely.

The account's credentials are decrypted in memory for the scan only; the job's transaction is
ended before the first AWS call (no lock or connection held while AWS answers) and the account
read again afterwards. Refused calls (a permission the role lacks) are logged as warnings and
leave their rows as they were; bad credentials fail the job at once (``PermanentJobError``);
AWS being unavailable is retried with the job's backoff.
"""

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from xplorr.cloud_accounts.credentials import decrypt_credentials
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.connectors.aws import session as aws
from xplorr.connectors.aws.inventory import Scan, scan_account
from xplorr.core import clock
from xplorr.core.crypto import CryptoError
from xplorr.core.jobs.registry import JobContext, PermanentJobError
from xplorr.inventory.service import Observed, SnapshotResult, apply_snapshot, native_scopes

SOURCE = "api"
PROVIDER = "aws"


@dataclass(frozen=True, slots=True)
class AwsRefresh:
    result: SnapshotResult
    regions: list[str]
    warnings: list[str]


async def _account(ctx: JobContext, account_id: uuid.UUID) -> CloudAccount | None:
    return await ctx.db.scalar(
        select(CloudAccount).where(CloudAccount.id == account_id, CloudAccount.org_id == ctx.org_id)
    )


async def collect_from_aws(ctx: JobContext, account: CloudAccount) -> AwsRefresh | None:
    """Scan ``account`` and record the snapshot; None when it was disconnected meanwhile."""
    started = clock.now()
    account_id, provider_account_id = account.id, account.provider_account_id
    try:
        credentials = await decrypt_credentials(ctx.db, ctx.settings, account)
    except CryptoError as exc:
        raise PermanentJobError(
            "The account's stored credentials cannot be decrypted; update the credentials."
        ) from exc
    try:
        base = await aws.org_base_keys(ctx.db, ctx.settings, account.org_id, credentials)
    except aws.AwsCallError as exc:
        raise PermanentJobError(str(exc)) from exc
    await ctx.release_connection()
    try:
        session = await aws.connect(
            ctx.settings, provider_account_id, credentials, base=base, purpose="inventory"
        )
        scan: Scan = await aws.run(scan_account, session)
    except aws.AwsCallError as exc:
        raise PermanentJobError(str(exc)) from exc
    current = await _account(ctx, account_id)
    if current is None:
        return None
    result = await apply_snapshot(
        ctx.db,
        current,
        (Observed.of(r) for r in scan.resources),
        source=SOURCE,
        scopes=native_scopes(PROVIDER, scan.scopes),
        now=started,
    )
    return AwsRefresh(result, scan.regions, scan.warnings)
