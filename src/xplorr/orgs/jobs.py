"""Closing an organization: the purge, a subscriber of ``OrgClosing``."""

import structlog
from sqlalchemy import delete

from xplorr.core.db import rowcount
from xplorr.core.events import subscribe
from xplorr.core.jobs.registry import JobContext, Lane
from xplorr.orgs.events import OrgClosing
from xplorr.orgs.models import Org

log = structlog.get_logger("xplorr.orgs")

PURGE_JOB = "orgs.purge"


@subscribe(OrgClosing, PURGE_JOB, max_attempts=10, lane=Lane.BULK)
async def purge(ctx: JobContext, event: OrgClosing) -> None:
    """Delete the organization row; every tenant table cascades from it through its foreign
    keys (``tests/orgs`` checks each one). Idempotent: a re-run finds nothing to delete.

    The job row itself carries no ``org_id`` (``OrgClosing`` is not scoped: the job would
    cascade away under its own feet); the org comes from the event, emitted by the owner's
    close request."""
    org_id = event.org_id
    result = await ctx.db.execute(delete(Org).where(Org.id == org_id))
    log.info("org_purged", org_id=str(org_id), deleted=rowcount(result))
