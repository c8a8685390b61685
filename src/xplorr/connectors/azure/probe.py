"""The console's "Test connection" for Azure: the sign-in, the subscription, then each role.

The service principal signs in (Entra ID) and reads the subscription (``GET
/subscriptions/{id}``, Reader): a refused sign-in is "Azure authentication failed", a
subscription the tenant does not have "That Azure subscription was not found in this tenant",
a refused read "The Azure service principal signed in but cannot read the subscription"; in
those cases nothing else is tried. Then one cheap call per role of product notes section 8,
each once (no retries): Resource Graph (Reader: inventory), a one-day Cost Management query
(Cost Management Reader), the Advisor listing (Reader), and the export container's listing
when one is configured (Storage Blob Data Reader, or the SAS). Each answers ``ok``, ``denied``
or ``error`` with Azure's error code. Nothing is saved; no secret is in the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.rest import HttpRequest
from azure.mgmt.advisor import AdvisorManagementClient
from azure.mgmt.costmanagement import CostManagementClient
from azure.mgmt.costmanagement.models import (
    QueryAggregation,
    QueryDataset,
    QueryDefinition,
    QueryTimePeriod,
)
from azure.mgmt.resourcegraph import ResourceGraphClient
from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

from xplorr.connectors import Check, ConnectorError, ProbeResult
from xplorr.connectors.azure import exports
from xplorr.connectors.azure.session import (
    CANNOT_READ_SUBSCRIPTION,
    AzureCallError,
    AzureSession,
    AzureUnavailable,
    call,
    open_session,
)
from xplorr.core import clock
from xplorr.core.settings import Settings

PROBE_ATTEMPTS = 1
SUBSCRIPTION_API = "2022-12-01"


def _check(group: str, operation: str, func: Callable[[], Any]) -> Check:
    try:
        call(operation, func)
    except (AzureCallError, AzureUnavailable) as exc:
        failure = exc.failure
        status = "denied" if failure.denied else "error"
        return Check(group, operation, status, failure.code, failure.message)
    except ConnectorError as exc:
        return Check(group, operation, "error", type(exc).__name__, str(exc))
    return Check(group, operation, "ok")


def _subscription(session: AzureSession, client: ResourceGraphClient) -> dict[str, Any]:
    url = f"{session.arm_url}/subscriptions/{session.target.subscription_id}"
    request = HttpRequest("GET", url, params={"api-version": SUBSCRIPTION_API})

    def read() -> dict[str, Any]:
        response = client._send_request(request)
        response.raise_for_status()
        answer = response.json()
        return answer if isinstance(answer, dict) else {}

    return call("Microsoft.Resources/subscriptions/read", read)


def _probes(session: AzureSession, graph: ResourceGraphClient) -> list[tuple[str, str, Any]]:
    target = session.target
    options = session.arm_options()
    costs = CostManagementClient(session.credential, **options)
    advisor = AdvisorManagementClient(session.credential, target.subscription_id, **options)
    today = clock.now().date()
    yesterday = today - timedelta(days=1)
    definition = QueryDefinition(
        type="ActualCost",
        timeframe="Custom",
        time_period=QueryTimePeriod(
            from_property=datetime(yesterday.year, yesterday.month, yesterday.day, tzinfo=UTC),
            to=datetime(yesterday.year, yesterday.month, yesterday.day, 23, 59, 59, tzinfo=UTC),
        ),
        dataset=QueryDataset(
            granularity="None",
            aggregation={"totalCost": QueryAggregation(name="Cost", function="Sum")},
        ),
    )
    probes: list[tuple[str, str, Any]] = [
        (
            "Reader",
            "Microsoft.ResourceGraph/resources/read",
            lambda: graph.resources(
                QueryRequest(
                    subscriptions=[target.subscription_id],
                    query="Resources | take 1",
                    options=QueryRequestOptions(top=1),
                )
            ),
        ),
        (
            "Cost Management Reader",
            "Microsoft.CostManagement/query",
            lambda: costs.query.usage(target.scope, definition),
        ),
        (
            "Reader",
            "Microsoft.Advisor/recommendations/read",
            lambda: next(iter(advisor.recommendations.list(top=1)), None),
        ),
    ]
    if target.has_export:

        def listing() -> None:
            container = exports.container_client(session)
            try:
                next(iter(container.list_blobs(name_starts_with=target.export_path or None)), None)
            finally:
                container.close()

        group = "SAS URL" if target.export_sas_url else "Storage Blob Data Reader"
        probes.append((group, "Microsoft.Storage/blobs/read (list)", listing))
    return probes


def probe(settings: Settings, credentials: Mapping[str, Any]) -> ProbeResult:
    """Test the credentials (blocking: run in a thread; the SAS URL checked before)."""
    try:
        session = open_session(settings, credentials, attempts=PROBE_ATTEMPTS)
    except ConnectorError as exc:
        return ProbeResult(ok=False, error=str(exc), error_code="InvalidCredentials")
    graph = ResourceGraphClient(session.credential, **session.arm_options())
    try:
        try:
            subscription = _subscription(session, graph)
        except (AzureCallError, AzureUnavailable) as exc:
            failure = exc.failure
            message = failure.message
            if isinstance(exc, AzureCallError) and failure.denied:
                message = f"{CANNOT_READ_SUBSCRIPTION} ({failure.message})."
            return ProbeResult(ok=False, error=message, error_code=failure.code)
        found = str(subscription.get("subscriptionId") or session.target.subscription_id)
        result = ProbeResult(
            ok=True,
            account_id=found,
            arn=f"{session.target.scope} (client {session.target.client_id})",
            account_matches=found.lower() == session.target.subscription_id,
        )
        for group, operation, func in _probes(session, graph):
            result.checks.append(_check(group, operation, func))
        return result
    finally:
        graph.close()
        session.close()
