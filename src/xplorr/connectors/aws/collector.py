"""The AWS inventory collector: ``connectors.aws.inventory`` read in a thread, recorded as one
snapshot of the (region, AWS type) scopes it read completely, AWS's types under the inventory's
(``inventory.service.record_scan``, ``inventory.types``).

The account's credentials are decrypted in memory for the scan only; the job's transaction is
ended before the first AWS call (no lock or connection held while AWS answers) and the account
read again afterwards. Refused calls (a permission the role lacks) are logged as warnings and
leave their rows as they were; bad credentials fail the job at once (``PermanentJobError``);
AWS being unavailable is retried with the job's backoff.
"""

from dataclasses import dataclass

from xplorr.cloud_accounts.credentials import job_credentials
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.connectors.aws import session as aws
from xplorr.connectors.aws.inventory import Scan, scan_account
from xplorr.core import clock
from xplorr.core.jobs.registry import JobContext, PermanentJobError
from xplorr.inventory.service import SnapshotResult, record_scan

PROVIDER = "aws"


@dataclass(frozen=True, slots=True)
class AwsRefresh:
    result: SnapshotResult
    regions: list[str]
    warnings: list[str]


async def collect_from_aws(ctx: JobContext, account: CloudAccount) -> AwsRefresh | None:
    """Scan ``account`` and record the snapshot; None when it was disconnected meanwhile."""
    started = clock.now()
    account_id, provider_account_id = account.id, account.provider_account_id
    credentials = await job_credentials(ctx, account)
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
    recorded = await record_scan(
        ctx, account_id, scan.resources, provider=PROVIDER, scopes=scan.scopes, now=started
    )
    if recorded is None:
        return None
    return AwsRefresh(recorded[1], scan.regions, scan.warnings)
