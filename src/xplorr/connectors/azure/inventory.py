"""The Azure resource inventory of one subscription: Resource Graph, Monitor CPU, Advisor.

- **Resources**: one Resource Graph query (KQL, ``POST /providers/Microsoft.ResourceGraph/
  resources``, azure-mgmt-resourcegraph), paged by ``$skipToken``, for the ARM types of
  ``SERVICES`` (VMs with their power state, managed disks and whether they are
  attached, public IPs and whether they are associated, load balancers, App Service plans, SQL
  databases, storage accounts, VNets and NAT gateways), with their tags. Ids are ARM ids
  lowercased (Azure's ids are case-insensitive; cost exports write them lowercased), the id as
  ARM spells it in ``attributes["arm_id"]``. Each resource's type is its ARM type (the
  inventory maps it onto its own types: ``inventory.types``).
- **CPU** of running VMs: Azure Monitor's ``Percentage CPU``, daily average and maximum over the
  last 14 days (``attributes["cpu_daily"]``, as the AWS collector's), where Monitoring Reader
  (or Reader) allows it; the first refusal is a warning and the other VMs are not asked.
- **Advisor** cost recommendations (``Category eq 'Cost'``), returned for the collector to
  store (``advisor`` area), for the savings area to read.

A refused Resource Graph query (Reader missing) is a warning and no scope is complete, so the
inventory keeps its rows; bad credentials raise ``AzureCallError``. Blocking: run in a thread.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from azure.mgmt.advisor import AdvisorManagementClient
from azure.mgmt.monitor import MonitorManagementClient
from azure.mgmt.resourcegraph import ResourceGraphClient
from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

from xplorr.connectors import ConnectorError
from xplorr.connectors.azure.session import AzureCallError, AzureSession, call

CPU_DAYS: Final = 14
PAGE: Final = 1000
PAGES_MAX: Final = 1000
ANY_REGION: Final = "*"
RESOURCE_GRAPH: Final = "Microsoft.ResourceGraph/resources/read"
METRICS: Final = "Microsoft.Insights/metrics/read"
ADVISOR: Final = "Microsoft.Advisor/recommendations/read"

VIRTUAL_MACHINE: Final = "Microsoft.Compute/virtualMachines"
DISK: Final = "Microsoft.Compute/disks"
PUBLIC_IP: Final = "Microsoft.Network/publicIPAddresses"
LOAD_BALANCER: Final = "Microsoft.Network/loadBalancers"
APP_SERVICE_PLAN: Final = "Microsoft.Web/serverFarms"
SQL_DATABASE: Final = "Microsoft.Sql/servers/databases"
STORAGE_ACCOUNT: Final = "Microsoft.Storage/storageAccounts"
VIRTUAL_NETWORK: Final = "Microsoft.Network/virtualNetworks"
NAT_GATEWAY: Final = "Microsoft.Network/natGateways"
# ARM type -> the service the inventory shows (Azure's product, as its bill names it)
SERVICES: Final[dict[str, str]] = {
    VIRTUAL_MACHINE: "Virtual Machines",
    DISK: "Storage",
    PUBLIC_IP: "Virtual Network",
    LOAD_BALANCER: "Load Balancer",
    APP_SERVICE_PLAN: "Azure App Service",
    SQL_DATABASE: "SQL Database",
    STORAGE_ACCOUNT: "Storage",
    VIRTUAL_NETWORK: "Virtual Network",
    NAT_GATEWAY: "NAT Gateway",
}
_CANONICAL: Final = {t.lower(): t for t in SERVICES}  # ARM types are case-insensitive

KQL: Final = (
    "Resources\n"
    "| where type in~ (" + ", ".join(f"'{t.lower()}'" for t in SERVICES) + ")\n"
    "| project id, name, type, location, resourceGroup, tags, sku, kind, properties\n"
    "| order by id asc"
)


@dataclass(frozen=True, slots=True)
class FoundResource:
    region: str | None
    service: str
    resource_type: str
    resource_id: str
    name: str | None
    status: str | None
    tags: dict[str, str]
    attributes: dict[str, Any]
    provider: str = "azure"


@dataclass(frozen=True, slots=True)
class AdvisorRecommendation:
    recommendation_id: str
    resource_id: str | None
    category: str
    impact: str | None
    problem: str | None
    solution: str | None
    savings_amount: Decimal | None
    annual_savings_amount: Decimal | None
    currency: str | None
    details: dict[str, Any]
    last_updated: datetime | None


@dataclass
class Scan:
    resources: list[FoundResource] = field(default_factory=list)
    scopes: set[tuple[str | None, str]] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    recommendations: list[AdvisorRecommendation] | None = None  # None: not read
    calls: dict[str, int] = field(default_factory=dict)


def _props(row: dict[str, Any]) -> dict[str, Any]:
    props = row.get("properties")
    return props if isinstance(props, dict) else {}


def _sku(row: dict[str, Any]) -> str | None:
    sku = row.get("sku")
    return str(sku.get("name")) if isinstance(sku, dict) and sku.get("name") else None


def _path(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _vnet_of(subnet_id: Any) -> str | None:
    """The VNet id of a subnet id (``.../virtualNetworks/<vnet>/subnets/<name>``)."""
    if not isinstance(subnet_id, str) or "/subnets/" not in subnet_id.lower():
        return None
    return subnet_id[: subnet_id.lower().index("/subnets/")].lower()


def _power(props: dict[str, Any]) -> str | None:
    code = _path(props, "extended", "instanceView", "powerState", "code")
    if not isinstance(code, str) or "/" not in code:
        return None
    return code.split("/", 1)[1].capitalize()  # PowerState/deallocated -> Deallocated


def describe(row: dict[str, Any]) -> FoundResource | None:
    """One Resource Graph row as an inventory resource (None: a type not collected)."""
    arm_type = _CANONICAL.get(str(row.get("type") or "").lower())
    arm_id = str(row.get("id") or "")
    if arm_type is None or not arm_id:
        return None
    props = _props(row)
    attrs: dict[str, Any] = {
        "arm_id": arm_id,
        "arm_type": arm_type.lower(),
        "resource_group": row.get("resourceGroup"),
    }
    if _sku(row):
        attrs["sku"] = _sku(row)
    status: str | None = None
    if arm_type == VIRTUAL_MACHINE:
        status = _power(props)
        attrs["vm_size"] = _path(props, "hardwareProfile", "vmSize")
        attrs["os_type"] = _path(props, "storageProfile", "osDisk", "osType")
    elif arm_type == DISK:
        state = props.get("diskState")
        status = str(state) if state else None
        attrs["size_gb"] = props.get("diskSizeGB")
        attrs["attached"] = str(state or "").lower() not in ("unattached", "")
        attrs["managed_by"] = row.get("managedBy") or props.get("managedBy")
    elif arm_type == PUBLIC_IP:
        associated = bool(props.get("ipConfiguration") or props.get("natGateway"))
        status = "Associated" if associated else "Unassociated"
        attrs["ip_address"] = props.get("ipAddress")
        attrs["allocation"] = props.get("publicIPAllocationMethod")
        attrs["associated"] = associated
    elif arm_type == LOAD_BALANCER:
        status = props.get("provisioningState")
        attrs["frontends"] = len(props.get("frontendIPConfigurations") or [])
        attrs["backend_pools"] = len(props.get("backendAddressPools") or [])
        subnet = _path(
            (props.get("frontendIPConfigurations") or [{}])[0], "properties", "subnet", "id"
        )
        attrs["vpc_id"] = _vnet_of(subnet)
    elif arm_type == APP_SERVICE_PLAN:
        status = props.get("status")
        attrs["sites"] = props.get("numberOfSites")
        attrs["tier"] = _path(row, "sku", "tier")
    elif arm_type == SQL_DATABASE:
        status = props.get("status")
        attrs["max_size_bytes"] = props.get("maxSizeBytes")
    elif arm_type == STORAGE_ACCOUNT:
        primary = props.get("statusOfPrimary")
        status = str(primary).capitalize() if primary else props.get("provisioningState")
        attrs["access_tier"] = props.get("accessTier")
        attrs["account_kind"] = row.get("kind")
    elif arm_type == VIRTUAL_NETWORK:
        status = props.get("provisioningState")
        attrs["vpc_id"] = arm_id.lower()
        attrs["address_space"] = _path(props, "addressSpace", "addressPrefixes")
    elif arm_type == NAT_GATEWAY:
        status = props.get("provisioningState")
        subnets = [s.get("id") for s in props.get("subnets") or [] if isinstance(s, dict)]
        attrs["vpc_id"] = next((v for v in map(_vnet_of, subnets) if v), None)
        attrs["public_ips"] = len(props.get("publicIpAddresses") or [])
    tags = row.get("tags")
    location = str(row.get("location") or "").lower() or None
    return FoundResource(
        region=None if location == "global" else location,
        service=SERVICES[arm_type],
        resource_type=arm_type,
        resource_id=arm_id.lower(),
        name=str(row["name"]) if row.get("name") else None,
        status=str(status) if status else None,
        tags={str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {},
        attributes={k: v for k, v in attrs.items() if v is not None},
    )


def _count(scan: Scan, operation: str) -> None:
    scan.calls[operation] = scan.calls.get(operation, 0) + 1


def _resources(session: AzureSession, scan: Scan) -> None:
    client = ResourceGraphClient(session.credential, **session.arm_options())
    try:
        token: str | None = None
        for _page in range(PAGES_MAX):
            request = QueryRequest(
                subscriptions=[session.target.subscription_id],
                query=KQL,
                options=QueryRequestOptions(
                    top=PAGE, skip_token=token, result_format="objectArray"
                ),
            )
            answer = call(RESOURCE_GRAPH, client.resources, request)
            _count(scan, RESOURCE_GRAPH)
            rows: Any = answer.data or []
            for row in rows:
                if isinstance(row, dict):
                    found = describe(row)
                    if found is not None:
                        scan.resources.append(found)
            token = answer.skip_token
            if not token:
                break
        else:
            raise ConnectorError(f"{RESOURCE_GRAPH}: more than {PAGES_MAX} pages; gave up.")
    finally:
        client.close()
    scan.scopes.update((ANY_REGION, t) for t in SERVICES)


def _cpu(session: AzureSession, scan: Scan) -> None:
    running = [
        r for r in scan.resources if r.resource_type == VIRTUAL_MACHINE and r.status == "Running"
    ]
    if not running:
        return
    client = MonitorManagementClient(
        session.credential, session.target.subscription_id, **session.arm_options()
    )
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    span = f"{(end - timedelta(days=CPU_DAYS)).isoformat()}/{end.isoformat()}"
    try:
        for r in running:
            try:
                answer = call(
                    METRICS,
                    client.metrics.list,
                    r.attributes["arm_id"],
                    timespan=span,
                    interval="P1D",
                    metricnames="Percentage CPU",
                    aggregation="Average,Maximum",
                )
            except AzureCallError as exc:
                if not exc.failure.denied:
                    raise
                scan.warnings.append(
                    f"VM CPU was not read ({exc}): grant Monitoring Reader for idle detection."
                )
                return
            _count(scan, METRICS)
            daily: list[dict[str, Any]] = []
            for metric in answer.value or []:
                for series in metric.timeseries or []:
                    for point in series.data or []:
                        if point.average is None or point.maximum is None:
                            continue
                        daily.append(
                            {
                                "date": point.time_stamp.date().isoformat(),
                                "average": round(float(point.average), 2),
                                "maximum": round(float(point.maximum), 2),
                            }
                        )
            daily.sort(key=lambda d: d["date"])
            r.attributes["cpu_daily"] = daily
            if daily:
                r.attributes["cpu_average_14d"] = round(
                    sum(d["average"] for d in daily) / len(daily), 2
                )
                r.attributes["cpu_maximum_14d"] = max(d["maximum"] for d in daily)
    finally:
        client.close()


def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _advisor(session: AzureSession, scan: Scan) -> None:
    client = AdvisorManagementClient(
        session.credential, session.target.subscription_id, **session.arm_options()
    )
    out: list[AdvisorRecommendation] = []
    try:

        def listing() -> list[Any]:
            return list(client.recommendations.list(filter="Category eq 'Cost'"))

        for item in call(ADVISOR, listing):
            extended = dict(item.extended_properties or {})
            short = item.short_description
            resource = item.resource_metadata.resource_id if item.resource_metadata else None
            out.append(
                AdvisorRecommendation(
                    recommendation_id=str(item.id or item.name),
                    resource_id=resource.lower() if resource else None,
                    category=str(item.category or "Cost"),
                    impact=item.impact,
                    problem=short.problem if short else None,
                    solution=short.solution if short else None,
                    savings_amount=_decimal(extended.get("savingsAmount")),
                    annual_savings_amount=_decimal(extended.get("annualSavingsAmount")),
                    currency=extended.get("savingsCurrency"),
                    details=json.loads(json.dumps(extended, default=str)),
                    last_updated=item.last_updated,
                )
            )
        _count(scan, ADVISOR)
    except AzureCallError as exc:
        if not exc.failure.denied:
            raise
        scan.warnings.append(f"Advisor recommendations were not read ({exc}).")
        return
    finally:
        client.close()
    scan.recommendations = out


def scan_subscription(session: AzureSession) -> Scan:
    """The subscription's inventory, CPU and Advisor (blocking; see the module docstring)."""
    scan = Scan()
    try:
        _resources(session, scan)
    except AzureCallError as exc:
        if not exc.failure.denied:
            raise
        scan.warnings.append(f"The inventory was not read ({exc}): grant Reader.")
        scan.resources.clear()
        return scan
    _cpu(session, scan)
    _advisor(session, scan)
    return scan
