"""Closing an organization: the purge job."""

import uuid
from typing import Any

import structlog
from sqlalchemy import delete

from xplorr.core.jobs.registry import JobContext, job
from xplorr.orgs.models import Org

log = structlog.get_logger("xplorr.orgs")

PURGE_JOB = "orgs.purge"


@job(PURGE_JOB, max_attempts=10)
async def purge(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Delete the organization row; every tenant table cascades from it through its foreign
    keys (``tests/orgs`` checks each one). Idempotent: a re-run finds nothing to delete.

    The job row itself carries no ``org_id`` (it would cascade away under its own feet); the
    org comes from the payload, written by the owner's close request."""
    org_id = uuid.UUID(payload["org_id"])
    result = await ctx.db.execute(delete(Org).where(Org.id == org_id))
    log.info("org_purged", org_id=str(org_id), deleted=getattr(result, "rowcount", None))
