"""Every MCP tool through the SDK's own ``Client``, in-process, against the real API served on
loopback (``conftest.stack``): what an assistant gets back, and what it is refused."""

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from mcp import Client
from sqlalchemy import update

from tests.mcp_server.conftest import Stack
from xplorr.core import clock, security
from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.costs import service as cost_service
from xplorr.costs.query import ChargeCategory
from xplorr.kubernetes import query as cluster_query
from xplorr.mcp_server import tools
from xplorr.mcp_server.api import XplorrApi
from xplorr.mcp_server.config import ConfigError, McpConfig
from xplorr.mcp_server.run import run
from xplorr.mcp_server.server import build_server
from xplorr.tokens.models import ApiToken

Check = Callable[[dict[str, Any], Stack], None]
WRITE_TOOLS = {"acknowledge_anomaly"}
# The services as the API names them (the shown names of the FOCUS ServiceName the rows carry).
EC2 = "Amazon Elastic Compute Cloud"
S3 = "Amazon Simple Storage Service"
RDS = "Amazon Relational Database Service"


class Counting(httpx.AsyncBaseTransport):
    """The real network transport, counting the paths it was asked for."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def result(client: Client, name: str, args: dict[str, Any] | None = None) -> Any:
    answer = await client.call_tool(name, args or {})
    assert not answer.is_error, f"{name}: {answer.content}"
    assert answer.structured_content is not None, name
    return answer.structured_content


async def refusal(client: Client, name: str, args: dict[str, Any]) -> str:
    answer = await client.call_tool(name, args)
    assert answer.is_error, f"{name} should have failed: {answer.structured_content}"
    return " ".join(getattr(c, "text", "") for c in answer.content)


@asynccontextmanager
async def connect(
    stack: Stack, token: str, *, allow_writes: bool = False, api: XplorrApi | None = None
) -> AsyncIterator[Client]:
    """The SDK's client on the server in-process (entered in the test's own task: anyio's
    cancel scopes must be left in the task that entered them, which a fixture's teardown is
    not)."""
    config = McpConfig.of(stack.url, token, allow_writes=allow_writes)
    api = api or XplorrApi(config)
    try:
        async with Client(build_server(config, api)) as client:
            yield client
    finally:
        await api.aclose()


def _names(data: list[dict[str, Any]]) -> list[str]:
    return [d["name"] for d in data]


def _last_month(s: Stack) -> date:
    """The last day of the month before today's (its data is complete: 40 days are held)."""
    return s.today.replace(day=1) - timedelta(days=1)


def _spike(s: Stack) -> str:
    return s.spike_day.isoformat()


# The cost tools' filter arguments (as /costs takes them), each a flat argument of the tool.
FILTERS = (
    "start_date", "end_date", "provider", "account_id", "service", "region", "charge_category",
    "service_category", "resource_id", "tag", "metric", "currency",
)  # fmt: skip
RANGE_AND_ACCOUNT = ("start_date", "end_date", "account_id")
COST_TOOL_FILTERS = {
    "get_cost_breakdown": FILTERS,
    "get_cost_trend": FILTERS,
    "get_top_movers": FILTERS,  # its start_date and end_date are the period's, described so
    "list_cost_dimensions": ("start_date", "end_date", "provider", "account_id", "currency"),
    "list_cost_tag_keys": RANGE_AND_ACCOUNT,
    "list_cost_tag_values": RANGE_AND_ACCOUNT,
}

# (tool, arguments from the stack, what the answer must show)
CASES: list[tuple[str, Callable[[Stack], dict[str, Any]], Check]] = [
    (
        "get_context",
        lambda _s: {},
        lambda r, s: (
            r["today"] == s.today.isoformat()
            and r["organization"]["name"] == "Acme"
            and r["user"]["role"] == "admin"
            and sorted(a["name"] for a in r["accounts"]) == ["prod", "staging"]
            and all(
                a["dataThrough"] == (s.today - timedelta(days=1)).isoformat() for a in r["accounts"]
            )
        ),
    ),
    (
        "get_cost_breakdown",
        lambda s: {
            "group_by": "service",
            "then_by": "region",
            "start_date": _spike(s),
            "end_date": _spike(s),
        },
        lambda r, _s: (
            r["totalCost"] == 430
            and [(g["name"], g["cost"]) for g in r["data"]] == [(EC2, 400), (S3, 20), (RDS, 10)]
            and {g["name"]: g["cost"] for g in r["data"][0]["groups"]}
            == {"eu-west-1": 300, "us-east-1": 100}
        ),
    ),
    (
        "get_cost_breakdown",
        lambda s: {
            "group_by": "resource",
            "account_id": s.prod_id,
            "service": [EC2],
            "region": ["eu-west-1"],
            "tag": ["env:prod"],
            "charge_category": ["Usage"],
            "service_category": ["Compute"],
            "resource_id": ["i-spike", "i-steady"],
            "provider": "aws",
            "metric": "effective",
            "currency": "usd",
            "start_date": _spike(s),
            "end_date": _spike(s),
        },
        lambda r, _s: (
            [(g["key"], g["cost"]) for g in r["data"]] == [("i-spike", 300)]
            and r["metric"] == "effective"
            and r["currency"] == "USD"
        ),
    ),
    (
        "get_cost_breakdown",
        lambda _s: {"group_by": "tag:team", "allocate": True, "limit": 5},
        lambda r, _s: (
            r["groupBy"] == "tag:team"
            and {g["name"] for g in r["data"]} >= {"api"}
            and all("allocated" in g for g in r["data"])
        ),
    ),
    (
        "get_cost_trend",
        lambda s: {"start_date": _spike(s), "end_date": _spike(s), "service": [EC2]},
        lambda r, s: (
            r["data"] == [{"date": _spike(s), "cost": 400}]
            and r["previousPeriodTotal"] == 100
            and r["changePercent"] == 300
        ),
    ),
    (
        "get_top_movers",
        lambda s: {"start_date": _spike(s)},
        lambda r, s: (
            r["currency"] == "USD"
            and r["period"]["totalCost"] == 430
            and r["baseline"]["totalCost"] == 130
            and r["baseline"]["startDate"] == (s.spike_day - timedelta(days=1)).isoformat()
            and r["change"] == 300
            and r["changePercent"] == 230.77
            and r["movers"]
            == [
                {
                    "key": EC2,
                    "name": EC2,
                    "current": 400,
                    "previous": 100,
                    "change": 300,
                    "changePercent": 300,
                }
            ]
        ),
    ),
    (
        "get_top_movers",
        lambda s: {
            "start_date": _spike(s),
            "group_by": "resource",
            "service": [EC2],
            "compare_start_date": (s.spike_day - timedelta(days=8)).isoformat(),
            "compare_end_date": (s.spike_day - timedelta(days=8)).isoformat(),
        },
        lambda r, _s: (
            [(m["key"], m["previous"], m["changePercent"]) for m in r["movers"]]
            == [("i-spike", 0, None)]
        ),
    ),
    (
        "get_cost_forecast",
        lambda _s: {},
        lambda r, s: (
            r["month"] == s.today.strftime("%Y-%m")
            and r["currencies"][0]["currency"] == "USD"
            and set(r["currencies"][0]["forecast"]) >= {"forecast", "low", "high", "method"}
        ),
    ),
    (
        "get_cost_forecast",
        lambda s: {"month": _last_month(s).strftime("%Y-%m"), "account_id": s.prod_id},
        lambda r, s: (
            (f := r["currencies"][0]["forecast"])["through"] == _last_month(s).isoformat()
            and f["forecast"] == f["actual"] > 0
        ),
    ),
    (
        "list_cost_dimensions",
        lambda s: {"start_date": _spike(s), "end_date": _spike(s)},
        lambda r, _s: (
            _names(r["services"]) == [EC2, S3, RDS]
            and _names(r["regions"]) == ["eu-west-1", "us-east-1"]
            and sorted(_names(r["accounts"])) == ["prod", "staging"]
        ),
    ),
    (
        "list_cost_tag_keys",
        lambda s: {"start_date": _spike(s), "end_date": _spike(s)},
        lambda r, _s: {d["key"]: d["cost"] for d in r["data"]} == {"env": 400, "team": 120},
    ),
    (
        "list_cost_tag_values",
        lambda s: {"key": "team", "start_date": _spike(s), "end_date": _spike(s)},
        lambda r, _s: (
            [(d["name"], d["cost"]) for d in r["data"]]
            == [("untagged", 310), ("api", 100), ("data", 20)]
        ),
    ),
    (
        "get_network_costs",
        lambda s: {"days": 7, "account_id": s.prod_id},
        lambda r, s: r["days"] == 7 and r["account_id"] == s.prod_id and "categories" in r,
    ),
    (
        "list_kubernetes_clusters",
        lambda _s: {},
        lambda r, s: (
            [(c["id"], c["name"], c["state"]) for c in r["data"]]
            == [(s.cluster_id, "prod-eks", "receiving")]
        ),
    ),
    (
        "get_kubernetes_costs",
        lambda s: {"cluster_id": s.cluster_id, "start_date": _spike(s), "end_date": _spike(s)},
        lambda r, _s: (
            r["totalCost"] == 11
            and [(g["key"], g["cost"]) for g in r["data"]]
            == [("shop", 5.5), ("__idle__", 3), ("data", 2.5)]
        ),
    ),
    (
        "list_anomalies",
        lambda _s: {"severity": "high", "status": "open"},
        lambda r, s: (
            r["total"] == 1
            and r["data"][0]["id"] == s.anomaly_id
            and r["data"][0]["date"] == _spike(s)
            and r["data"][0]["excess_cost"] == 300
        ),
    ),
    (
        "list_budgets",
        lambda _s: {},
        lambda r, _s: [(b["name"], b["amount"]) for b in r["data"]] == [("AWS prod", 5000)],
    ),
    (
        "list_alert_rules",
        lambda _s: {},
        lambda r, _s: [a["name"] for a in r["data"]] == ["Daily > 300"],
    ),
    (
        "list_recommendations",
        lambda _s: {"status": "open"},
        lambda r, s: (
            (r["data"][0]["id"], r["data"][0]["estimated_monthly_savings"])
            == (s.recommendation_id, 700)
            and [x["category"] for x in r["data"]] == ["idle", "unused", "modernization"]
            and r["data"][0]["evidence"] == {"cpu_average_percent": "1.5"}
        ),
    ),
    (
        "get_savings_summary",
        lambda _s: {},
        lambda r, s: (
            r["totals"]
            == [
                {
                    "status": "applied",
                    "currency": "USD",
                    "count": 1,
                    "monthlySavings": 90,
                    "byCategory": {"idle": 90},
                    "byType": {"stop_idle_instance": 90},
                },
                {
                    "status": "open",
                    "currency": "USD",
                    "count": 3,
                    "monthlySavings": 740.5,  # vol-1's gp3 migration is an alternative
                    "byCategory": {"idle": 700, "unused": 40.5, "modernization": 8.1},
                    "byType": {
                        "stop_idle_instance": 700,
                        "delete_unattached_volume": 40.5,
                        "migrate_gp2_to_gp3": 8.1,
                    },
                },
            ]
            and r["largestOpen"][0]["id"] == s.recommendation_id
        ),
    ),
    (
        "get_ai_recommendations",
        lambda _s: {},
        lambda r, _s: r["source"] == "rules" and r["model"] is None and r["insights"],
    ),
    (
        "list_approvals",
        lambda _s: {"status": "pending"},
        lambda r, s: (
            [(a["id"], a["recommendation_id"]) for a in r["data"]]
            == [(s.approval_id, s.recommendation_id)]
        ),
    ),
    (
        "get_approval",
        lambda s: {"approval_id": s.approval_id},
        lambda r, _s: (
            (r["status"], r["estimated_monthly_savings"], r["threshold"]) == ("pending", 700, 500)
        ),
    ),
    (
        "get_commitment_analysis",
        lambda s: {"account_id": s.prod_id, "days": 30},
        lambda r, s: (
            r["days"] == 30
            and r["account_id"] == s.prod_id
            and [c["commitment_id"] for c in r["commitments"]] == ["ri-0123456789"]
        ),
    ),
    (
        "search_inventory",
        lambda _s: {"search": "BATCH", "region": "eu-west-1", "status": "Running"},
        lambda r, _s: (
            [(d["resource_id"], d["name"]) for d in r["data"]] == [("i-spike", "batch-runner")]
        ),
    ),
    (
        "list_inventory_filters",
        lambda _s: {},
        lambda r, _s: sorted(v["value"] for v in r["regions"]) == ["eu-west-1", "us-east-1"],
    ),
    (
        "list_tagging_policies",
        lambda _s: {},
        lambda r, _s: [p["tag_key"] for p in r["data"]] == ["team"],
    ),
    (
        "list_tagging_violations",
        lambda _s: {},
        lambda r, _s: (
            [v["resource"]["id"] for v in r["data"]] == ["i-spike"]
            and r["data"][0]["kind"] == "missing"
        ),
    ),
    (
        "list_allocation_rules",
        lambda _s: {},
        lambda r, _s: [a["name"] for a in r["data"]] == ["Shared S3"],
    ),
    (
        "get_unit_economics",
        lambda s: {
            "metric_name": "Active Customers",
            "account_id": s.prod_id,
            "start_date": (s.today - timedelta(days=7)).isoformat(),
            "end_date": (s.today - timedelta(days=1)).isoformat(),
        },
        lambda r, _s: r["metric_name"] == "Active Customers" and r["totals"]["units"] == 350,
    ),
    (
        "get_cost_summary",
        lambda s: {"start_date": _spike(s), "end_date": _spike(s)},
        lambda r, _s: (
            r["currencies"][0]["totalCost"] == 430
            and r["currencies"][0]["topMovers"][0]["name"] == EC2
        ),
    ),
    (
        "get_cost_report",
        lambda s: {"start_date": _spike(s), "end_date": _spike(s), "account_id": s.prod_id},
        lambda r, _s: r["orgName"] == "Acme" and r["currencies"][0]["totalCost"] == 420,
    ),
    (
        "list_scheduled_reports",
        lambda _s: {},
        lambda r, _s: [x["name"] for x in r["data"]] == ["Monthly CFO Report"],
    ),
    (
        "list_cloud_accounts",
        lambda _s: {},
        lambda r, _s: sorted(a["name"] for a in r["data"]) == ["prod", "staging"],
    ),
    (
        "get_sync_status",
        lambda _s: {},
        lambda r, _s: sorted(a["accountName"] for a in r["data"]) == ["prod", "staging"],
    ),
    (
        "list_sync_jobs",
        lambda _s: {},
        lambda r, _s: r["total"] == 0 and r["data"] == [],
    ),
]


async def test_every_tool_answers_from_the_api(stack: Stack) -> None:
    async with connect(stack, stack.admin_token) as admin:
        await _walk(admin, stack)


async def _walk(admin: Client, stack: Stack) -> None:
    listed = {t.name: t for t in (await admin.list_tools()).tools}
    pending = set(listed) - {name for name, _, _ in CASES}
    assert pending == set(), f"tools without a case: {pending}"
    assert len(listed) >= 26
    assert not WRITE_TOOLS & set(listed)
    for tool in listed.values():
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is True, tool.name
        assert len(tool.description or "") > 40, tool.name
    # Every cost tool lists its filters as arguments of their own, described alike.
    descriptions: dict[str, set[str]] = {}
    for name, filters in COST_TOOL_FILTERS.items():
        properties = listed[name].input_schema["properties"]
        assert "filters" not in properties, name
        assert set(filters) <= set(properties), (name, set(filters) - set(properties))
        for arg in filters:
            if not (name == "get_top_movers" and arg in ("start_date", "end_date")):
                descriptions.setdefault(arg, set()).add(properties[arg]["description"])
    assert all(len(d) == 1 and len(next(iter(d))) > 10 for d in descriptions.values())
    assert set(listed["get_top_movers"].input_schema["required"]) == {"start_date"}
    for name, args, check in CASES:
        answer = await result(admin, name, args(stack))
        assert check(answer, stack), f"{name}({args(stack)}) answered {answer}"


async def test_refusals_come_back_as_tool_errors_naming_why(stack: Stack) -> None:
    async with connect(stack, stack.admin_token) as admin:
        await _refusals(admin, stack)
        # The prompt an assistant offers for the question names the tools to call.
        prompt = await admin.get_prompt("explain_spend_change", {"day": "last Tuesday"})
        text = prompt.messages[0].content.text  # type: ignore[union-attr]
        assert "last Tuesday" in text
        assert all(name in text for name in ("get_context", "get_top_movers", "list_anomalies"))


async def _refusals(admin: Client, stack: Stack) -> None:
    # Argument validation by the SDK, before any API call.
    assert "group_by" in await refusal(admin, "get_cost_breakdown", {"group_by": "colour"})
    assert "start_date" in await refusal(admin, "get_top_movers", {})
    # The API's own refusals, with its code.
    text = await refusal(admin, "get_cost_breakdown", {"account_id": stack.other_account_id})
    assert "404 CLOUD_ACCOUNT_NOT_FOUND" in text
    text = await refusal(admin, "get_unit_economics", {"metric_name": "Nope"})
    assert "404 UNIT_METRIC_NOT_FOUND" in text
    text = await refusal(
        admin, "get_cost_breakdown", {"start_date": "2020-01-01", "end_date": "2024-01-01"}
    )
    assert "422 VALIDATION_ERROR" in text
    assert "future" in await refusal(admin, "get_cost_forecast", {"month": "2999-01"})
    text = await refusal(
        admin, "get_top_movers", {"start_date": "2024-01-02", "compare_start_date": "2024-01-01"}
    )
    assert "compare_end_date" in text


async def test_a_rate_limited_call_says_when_to_retry(stack: Stack) -> None:
    """The package's API allows one network summary a minute per user (conftest)."""
    async with connect(stack, stack.other_token) as globex:
        first = await result(globex, "get_network_costs", {"days": 3})
        assert (first["days"], first["total_cost"]) == (3, 0)  # Globex has no network cost
        text = await refusal(globex, "get_network_costs", {"days": 3})
        assert "429 RATE_LIMITED" in text
        assert re.search(r"Retry after [1-9][0-9]* seconds", text), text


async def test_a_member_sees_only_the_granted_account(stack: Stack) -> None:
    async with connect(stack, stack.member_token) as member:
        accounts = await result(member, "list_cloud_accounts")
        assert [a["name"] for a in accounts["data"]] == ["prod"]
        breakdown = await result(
            member, "get_cost_breakdown",
            {"group_by": "account", "start_date": _spike(stack), "end_date": _spike(stack)},
        )  # fmt: skip
        assert [(g["name"], g["cost"]) for g in breakdown["data"]] == [("prod", 420)]
        text = await refusal(member, "get_cost_trend", {"account_id": stack.staging_id})
        assert "404 CLOUD_ACCOUNT_NOT_FOUND" in text


async def test_writes_need_the_flag_and_a_write_token(stack: Stack) -> None:
    reads = McpConfig.of(stack.url, stack.admin_token)
    assert "acknowledge_anomaly" not in {t.name for t in await build_server(reads).list_tools()}

    async with connect(stack, stack.read_token, allow_writes=True) as client:
        text = await refusal(client, "acknowledge_anomaly", {"anomaly_id": stack.anomaly_id})
        assert "403 READ_ONLY_TOKEN" in text

    async with connect(stack, stack.admin_token, allow_writes=True) as client:
        tool = next(t for t in (await client.list_tools()).tools if t.name == "acknowledge_anomaly")
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is False
        done = await result(client, "acknowledge_anomaly", {"anomaly_id": stack.anomaly_id})
        assert (done["id"], done["status"]) == (stack.anomaly_id, "acknowledged")
        listed = await result(client, "list_anomalies", {"status": "acknowledged"})
        assert [a["id"] for a in listed["data"]] == [stack.anomaly_id]
        done = await result(
            client, "acknowledge_anomaly", {"anomaly_id": stack.anomaly_id, "status": "open"}
        )
        assert done["status"] == "open"


async def test_the_jwt_is_exchanged_once_and_again_a_minute_before_it_expires(
    stack: Stack,
) -> None:
    now = [1000.0]
    transport = Counting()
    config = McpConfig.of(stack.url, stack.admin_token)
    api = XplorrApi(config, transport=transport, clock=lambda: now[0])
    async with connect(stack, stack.admin_token, api=api) as client:
        for _ in range(3):
            await result(client, "list_budgets")
        assert transport.paths.count("/api/v1/tokens/exchange") == 1
        now[0] += 900 - 61  # 61 s before the 900 s JWT expires: still cached
        await result(client, "list_budgets")
        assert transport.paths.count("/api/v1/tokens/exchange") == 1
        now[0] += 1  # within the last minute: exchanged again
        await result(client, "list_budgets")
        assert transport.paths.count("/api/v1/tokens/exchange") == 2
        assert transport.paths.count("/api/v1/budgets") == 5

        # Revoked: the cached JWT stops working at once, the re-exchange says why.
        engine = make_engine(stack.db_url)
        async with make_sessionmaker(engine)() as db:
            await db.execute(
                update(ApiToken)
                .where(ApiToken.token_sha256 == security.sha256_hex(stack.admin_token))
                .values(revoked_at=clock.now())
            )
            await db.commit()
        try:
            text = await refusal(client, "list_budgets", {})
            assert "401" in text
            assert "refused" in text
            assert stack.admin_token not in text
            # Nothing is kept for a refused token (a stream of unknown ones grows nothing).
            assert not api._jwts
            assert not api._locks
        finally:
            async with make_sessionmaker(engine)() as db:
                await db.execute(
                    update(ApiToken)
                    .where(ApiToken.token_sha256 == security.sha256_hex(stack.admin_token))
                    .values(revoked_at=None)
                )
                await db.commit()
            await engine.dispose()


async def test_an_unreachable_api_is_named() -> None:
    config = McpConfig.of("http://127.0.0.1:9", "xplorr_unused")
    api = XplorrApi(config)
    try:
        async with Client(build_server(config, api)) as client:
            text = await refusal(client, "list_budgets", {})
            assert "API_UNREACHABLE" in text
            assert "XPLORR_API_URL" in text
    finally:
        await api.aclose()


def test_settings_are_checked_before_serving() -> None:
    assert McpConfig.from_env({}).api_url == "https://api.xplorr.io"
    assert McpConfig.from_env({}).mode == "multi-tenant"
    config = McpConfig.from_env(
        {"XPLORR_API_URL": "http://h:8000/api/v1/", "XPLORR_API_TOKEN": "xplorr_x"}
    )
    assert (config.api_url, config.mode) == ("http://h:8000", "single-tenant")
    for env, field in [
        ({"XPLORR_API_URL": "ftp://h"}, "XPLORR_API_URL"),
        ({"XPLORR_API_TOKEN": "eyJhbGciOi"}, "XPLORR_API_TOKEN"),
    ]:
        with pytest.raises(ConfigError, match=field):
            McpConfig.from_env(env)
    with pytest.raises(ConfigError, match="XPLORR_API_TOKEN is required"):
        run("stdio", host="127.0.0.1", port=3005, config=McpConfig.from_env({}))


def test_the_tools_offer_what_the_cost_api_accepts() -> None:
    """The copies in ``mcp_server.tools`` (it may not import the API's code) match the API."""
    assert set(tools.GROUP_BYS) == set(cost_service.GROUP_BYS)
    assert set(tools.ChargeCategory.__args__) == {c.value for c in ChargeCategory}
    assert set(tools.CLUSTER_GROUP_BYS) == set(cluster_query.GROUP_BYS)


def test_exact_numbers() -> None:
    from xplorr.mcp_server.values import exact

    assert exact(Decimal("430")) == 430
    assert exact(Decimal("230.77")) == 230.77
    assert exact(Decimal("12345678901234567.89")) == "12345678901234567.89"
    assert exact(Decimal("-0.01")) == -0.01
