"""The console's "Test connection" for Google Cloud: the key, then the BigQuery grants.

As product notes section 8 says, the test checks only the service-account key (a token is
obtained from it) and BigQuery: the billing dataset is listed (``bigquery.tables.list``) and
the export table found, then one query of it over one day (``bigquery.jobs.create`` and read
access to the table; a partition-filtered ``COUNT(*)``, so it scans one day). Cloud Asset and
Recommender are first used by the first sync: a missing role there costs data, not the
connection. Each call once, no retry; nothing saved; no secret in the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from google.auth.transport.requests import Request

# The answer has the AWS probe's shape: one ``ConnectionTestOut`` for every provider.
from xplorr.connectors import Check, ProbeResult
from xplorr.connectors.gcp.billing import (
    LIST_OP,
    QUERY_OP,
    BillPlan,
    _Reader,
    resolve_tables,
)
from xplorr.connectors.gcp.session import (
    GcpCallError,
    GcpFailure,
    GcpUnavailable,
    call,
    open_session,
)
from xplorr.core import clock
from xplorr.core.settings import Settings


def _failed(operation: str, exc: GcpCallError | GcpUnavailable) -> Check:
    status = "denied" if exc.failure.denied else "error"
    return Check("BigQuery", operation, status, exc.failure.code, exc.failure.message)


def probe(settings: Settings, project_id: str, credentials: Mapping[str, Any]) -> ProbeResult:
    """Test the credentials (blocking: run in a thread)."""
    try:
        session = open_session(settings, credentials)
        call("google-auth:token", session.credentials.refresh, Request())
    except (GcpCallError, GcpUnavailable) as exc:
        return ProbeResult(ok=False, error=str(exc), error_code=exc.failure.code)
    email = str(dict(credentials["keyfileJson"]).get("client_email") or "") or None
    result = ProbeResult(ok=True, account_id=project_id, arn=email, account_matches=True)
    today = clock.now().date()
    plan = BillPlan(today, today, [today.replace(day=1)])
    reader = _Reader(session, plan)
    try:
        names = reader.tables()
    except (GcpCallError, GcpUnavailable) as exc:
        result.checks.append(_failed(LIST_OP, exc))
        return result
    tables = resolve_tables(names, session.table, session.billing_account)
    candidates = tables.focus or tables.detailed or tables.standard
    if not candidates:
        failure = GcpFailure(
            LIST_OP,
            "NOT_FOUND",
            f"Not found: Table {session.project}:{session.dataset}.{session.table} (no table "
            "of the dataset matches billingTable).",
            False,
            not_found=True,
        )
        result.checks.append(_failed(LIST_OP, GcpCallError(failure)))
        return result
    chosen = candidates[0]
    result.checks.append(Check("BigQuery", LIST_OP, "ok"))
    column = "ChargePeriodStart" if chosen in tables.focus else "usage_start_time"
    # Identifiers: the project and dataset as the credentials' schema validated them, the table
    # as BigQuery listed it; values go as query parameters.
    sql = (
        f"SELECT COUNT(*) AS n FROM `{session.project}.{session.dataset}.{chosen}` AS t\n"  # noqa: S608
        f"WHERE t.{column} >= TIMESTAMP(@start)"
    )
    try:
        reader.query(sql, {"start": (today - timedelta(days=1)).isoformat()})
    except GcpCallError as exc:
        result.checks.append(_failed(QUERY_OP, reader.not_found_table(exc, chosen)))
        return result
    except GcpUnavailable as exc:
        result.checks.append(_failed(QUERY_OP, exc))
        return result
    result.checks.append(Check("BigQuery", QUERY_OP, "ok"))
    return result
