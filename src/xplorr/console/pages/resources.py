"""Resources: the inventory (filters from ``/inventory/filters``, pages, CSV export), network
costs (``/network/summary``), Kubernetes clusters (register with the ingest token shown once,
rotate, delete, rightsizing) and tagging policies with their violations."""

from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import Response

from xplorr.console.api import ApiError, all_of
from xplorr.console.pages.savings import PAGE_SIZE, page_number, params
from xplorr.console.web import Console, NavItem, Signed

router = APIRouter()
NAV = (
    NavItem("Resources", "Inventory", "/inventory", 10),
    NavItem("Resources", "Network", "/network", 20),
    NavItem("Resources", "Kubernetes", "/kubernetes", 30),
    NavItem("Resources", "Tagging", "/tagging", 40),
)

INVENTORY_FILTERS = ("provider", "accountId", "region", "type", "status", "search")


# --- inventory --------------------------------------------------------------------------------


def inventory_query(c: Console) -> dict[str, Any]:
    return params(**{name: c.query(name).strip() for name in INVENTORY_FILTERS})


@router.get("/inventory")
async def inventory(c: Signed) -> Response:
    query = inventory_query(c)
    page = page_number(c)
    try:
        found, choices = await all_of(
            c.api.get("/inventory", {**query, "page": page, "limit": PAGE_SIZE}),
            c.api.get("/inventory/filters"),
        )
    except ApiError as error:
        return c.error_page(error)
    export = "/inventory/export" + (f"?{urlencode(query)}" if query else "")
    return c.render(
        "resources/inventory.html",
        found=found,
        choices={
            k: [(v["value"], f"{v['label']} ({v['count']})") for v in vs]
            for k, vs in choices.items()
        },
        query=query,
        page=page,
        pages=max(1, -(-int(found["total"]) // PAGE_SIZE)),
        export=export,
    )


@router.get("/inventory/export")
async def inventory_export(c: Signed) -> Response:
    """The API's CSV of the same filters, handed to the browser as a download."""
    try:
        file = await c.api.download("/inventory/export", inventory_query(c))
    except ApiError as error:
        return c.error_page(error)
    response = Response(file.content, media_type=file.media_type)
    response.headers["content-disposition"] = (
        f'attachment; filename="{file.filename or "xplorr-inventory.csv"}"'
    )
    return c.finish(response)


# --- network ----------------------------------------------------------------------------------

NETWORK_DAYS = (("7", "Last 7 days"), ("30", "Last 30 days"), ("90", "Last 90 days"))


@router.get("/network")
async def network(c: Signed) -> Response:
    days = c.query("days", "30")
    try:
        summary = await c.api.get("/network/summary", params(days=days))
    except ApiError as error:
        return c.error_page(error)
    names = {cat["category"]: cat["name"] for cat in summary["categories"]}
    shown = [cat["category"] for cat in summary["categories"] if cat["cost"]]
    chart = {
        "type": "bar",
        "data": {
            "labels": [d["date"] for d in summary["daily"]],
            "datasets": [
                {
                    "label": names.get(key, key),
                    "data": [float(d["categories"].get(key, 0)) for d in summary["daily"]],
                }
                for key in shown
            ],
        },
        "options": {"scales": {"x": {"stacked": True}, "y": {"stacked": True}}},
    }
    return c.render(
        "resources/network.html",
        s=summary,
        days=days,
        day_choices=NETWORK_DAYS,
        chart=chart,
        names=names,
    )


# --- kubernetes -------------------------------------------------------------------------------


async def clusters_page(
    c: Console,
    *,
    error: ApiError | None = None,
    form: dict[str, str] | None = None,
    created: dict[str, Any] | None = None,
    rotated: bool = False,
    status: int = 200,
) -> Response:
    try:
        found = await c.api.get("/kubernetes/clusters", {"page": page_number(c), "limit": 100})
    except ApiError as failure:
        return c.error_page(failure)
    return c.render(
        "resources/kubernetes.html",
        status=status,
        found=found,
        error=error,
        field_errors=error.field_errors() if error else {},
        form=form or {"name": "", "currency": c.currency},
        created=created,
        rotated=rotated,
        server=str(c.request.base_url).rstrip("/"),
    )


@router.get("/kubernetes")
async def kubernetes(c: Signed) -> Response:
    return await clusters_page(c)


@router.post("/kubernetes")
async def register_cluster(c: Signed) -> Response:
    form = await c.form()
    values = {
        "name": str(form.get("name") or "").strip(),
        "currency": str(form.get("currency") or "").strip(),
    }
    try:
        created = await c.api.post(
            "/kubernetes/clusters", params(name=values["name"], currency=values["currency"])
        )
    except ApiError as error:
        return await clusters_page(c, error=error, form=values, status=error.status)
    # The token exists only in this answer: it is shown here, once, and never again.
    return await clusters_page(c, created=created, status=201)


@router.post("/kubernetes/{cluster_id}/token")
async def rotate_token(c: Signed, cluster_id: str) -> Response:
    try:
        created = await c.api.post(f"/kubernetes/clusters/{cluster_id}/token")
    except ApiError as error:
        return await clusters_page(c, error=error, status=error.status)
    return await clusters_page(c, created=created, rotated=True)


@router.post("/kubernetes/{cluster_id}/delete")
async def delete_cluster(c: Signed, cluster_id: str) -> Response:
    try:
        await c.api.delete(f"/kubernetes/clusters/{cluster_id}")
    except ApiError as error:
        return await clusters_page(c, error=error, status=error.status)
    return c.redirect("/kubernetes", notice="Cluster deleted, with its token and cost data.")


async def find_cluster(c: Console, cluster_id: str) -> dict[str, Any] | None:
    page = 1
    while True:
        found = await c.api.get("/kubernetes/clusters", {"page": page, "limit": 100})
        for cluster in found["data"]:
            if cluster["id"] == cluster_id:
                return dict(cluster)
        if page * 100 >= int(found["total"]):
            return None
        page += 1


def cores(value: Any) -> str:
    return "—" if value is None else f"{Decimal(str(value)) * 1000:.0f}m"


def mebibytes(value: Any) -> str:
    return "—" if value is None else f"{Decimal(str(value)) / (1024 * 1024):,.0f} MiB"


@router.get("/kubernetes/{cluster_id}")
async def cluster(c: Signed, cluster_id: str) -> Response:
    try:
        advice, found = await all_of(
            c.api.get(f"/kubernetes/clusters/{cluster_id}/rightsizing"),
            find_cluster(c, cluster_id),
        )
    except ApiError as error:
        return c.error_page(error)
    if found is None:
        return c.error_page(ApiError(404, "NOT_FOUND", "There is no such cluster."))
    return c.render(
        "resources/cluster.html", cluster=found, r=advice, cores=cores, mebibytes=mebibytes
    )


# --- tagging ----------------------------------------------------------------------------------

APPLIES_TO = (
    ("all", "Every resource"),
    ("ec2", "EC2 instances"),
    ("rds", "RDS databases"),
    ("s3", "S3 buckets"),
    ("compute", "Compute (every cloud)"),
    ("storage", "Storage (every cloud)"),
)


async def tagging_page(
    c: Console,
    *,
    error: ApiError | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    vpage = c.query("vpage", "1")
    vpage_number = int(vpage) if vpage.isdigit() and 0 < int(vpage) < 1000 else 1
    try:
        policies, violations = await all_of(
            c.api.get("/tagging-policies", {"limit": 100}),
            c.api.get("/tagging-policies/violations", {"page": vpage_number, "limit": PAGE_SIZE}),
        )
    except ApiError as failure:
        return c.error_page(failure)
    return c.render(
        "resources/tagging.html",
        status=status,
        policies=policies,
        v=violations,
        vpage=vpage_number,
        vpages=max(1, -(-int(violations["total"]) // PAGE_SIZE)),
        applies=APPLIES_TO,
        applies_names=dict(APPLIES_TO),
        error=error,
        field_errors=error.field_errors() if error else {},
        form=form or {"tag_key": "", "allowed_values": "", "applies_to": "all", "required": True},
    )


@router.get("/tagging")
async def tagging(c: Signed) -> Response:
    return await tagging_page(c)


@router.post("/tagging")
async def create_policy(c: Signed) -> Response:
    form = await c.form()
    key = str(form.get("tag_key") or "").strip()
    allowed_text = str(form.get("allowed_values") or "")
    applies_to = str(form.get("applies_to") or "all")
    required = form.get("required") == "on"
    values: dict[str, Any] = {
        "tag_key": key,
        "allowed_values": allowed_text,
        "applies_to": applies_to,
        "required": required,
    }
    allowed = [v.strip() for v in allowed_text.replace("\n", ",").split(",")]
    body = {
        "tag_key": key,
        "required": required,
        "allowed_values": [v for v in allowed if v] or None,
        "applies_to": applies_to,
    }
    try:
        await c.api.post("/tagging-policies", body)
    except ApiError as error:
        return await tagging_page(c, error=error, form=values, status=error.status)
    return c.redirect("/tagging", notice=f"Policy for the tag {key} created.")


@router.post("/tagging/{policy_id}/delete")
async def delete_policy(c: Signed, policy_id: str) -> Response:
    try:
        await c.api.delete(f"/tagging-policies/{policy_id}")
    except ApiError as error:
        return await tagging_page(c, error=error, status=error.status)
    return c.redirect("/tagging", notice="Policy deleted.")
