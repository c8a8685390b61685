"""The ``demo`` connector: generated FOCUS data (``connectors.demo.generator``) fed through the
same ingest pipeline as real exports (``ingest.pipeline.import_batches``).

Credentials: ``{"seed": N}`` (``{}``: seed 0). The account's ``provider_account_id`` picks
which of the generator's demo accounts it is (its AWS account, Azure subscription or GCP
project id, as ``xplorr demo`` creates them); any other id gets an account of a cloud chosen by
the seed, under that id. The data covers the last ``MONTHS`` calendar months up to yesterday.

The fingerprint names everything the data depends on (the generator's code, seed, account and
date range): syncing again the same day skips every period as unchanged, without generating
anything; the next day re-imports them (each period replaced, never added to).
"""

import hashlib
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.connectors import ConnectorError, SyncContext
from xplorr.connectors.demo import generator
from xplorr.connectors.demo.generator import DEFAULT_ACCOUNTS, DemoAccountSpec
from xplorr.core import clock
from xplorr.costs import store
from xplorr.ingest.pipeline import UNCHANGED, ImportSummary, IngestError, import_batches

MONTHS = 13
SCALE = 1.0


def spec_for(account: CloudAccount, seed: int) -> DemoAccountSpec:
    for spec in DEFAULT_ACCOUNTS:
        if spec.sub_account_id == account.provider_account_id:
            return spec
    template = DEFAULT_ACCOUNTS[seed % len(DEFAULT_ACCOUNTS)]
    return DemoAccountSpec(
        template.provider,
        template.billing_account_id,
        template.billing_account_name,
        account.provider_account_id,
        account.name[:100],
        template.weight,
    )


def date_range(today: date) -> tuple[date, date]:
    """(first day of the month ``MONTHS - 1`` months before yesterday's, today): ``MONTHS``
    calendar months whose last one ends yesterday. Counted from yesterday, not today: on the
    first of a month, today's month has no day of data yet and would leave one month short."""
    last = today - timedelta(days=1)
    months_back = last.year * 12 + last.month - 1 - (MONTHS - 1)
    return date(months_back // 12, months_back % 12 + 1, 1), today


@cache
def _generator_digest() -> str:
    return hashlib.sha256(Path(generator.__file__).read_bytes()).hexdigest()


def seed_of(credentials: dict[str, Any]) -> int:
    """``{"seed": N}``; ``{}`` means seed 0."""
    seed = credentials.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConnectorError(
            'A demo account\'s credentials are {} or {"seed": N}, N a non-negative integer.'
        )
    return seed


async def run(
    ctx: SyncContext, account: CloudAccount, credentials: dict[str, Any]
) -> ImportSummary:
    """Generate the account's data and import it like an export."""
    seed = seed_of(credentials)
    spec = spec_for(account, seed)
    now = clock.now()
    start, end = date_range(now.date())
    fingerprint = hashlib.sha256(
        f"{_generator_digest()}|{seed}|{spec}|{start}|{end}|{MONTHS}|{SCALE}".encode()
    ).hexdigest()
    # Already imported from this very data (a sync the same day): skip without generating it,
    # as ``import_files`` skips a snapshot it knows.
    async with ctx.target.transaction() as db:
        known = await store.known_imports(db, account.id)
    seen = [period for period, (printed, _at) in known.items() if printed == fingerprint]
    if seen:
        return ImportSummary(periods_skipped=dict.fromkeys(sorted(seen), UNCHANGED))
    batches = generator.generate(
        seed=seed, start=start, months=MONTHS, accounts=[spec], scale=SCALE, end=end
    )
    try:
        return await import_batches(
            ctx.target,
            account,
            batches,
            source=f"demo generator (seed {seed}, {spec.provider} {spec.sub_account_id})",
            snapshot_at=now,
            fingerprint=fingerprint,
            progress=ctx.progress,
        )
    except IngestError as exc:
        raise ConnectorError(str(exc)) from exc
