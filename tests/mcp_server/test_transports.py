"""The server as assistants reach it: ``xplorr mcp`` over stdio (a child process, as Claude
Desktop starts it) and streamable HTTP at ``/mcp`` (uvicorn on loopback, multi-tenant: each
request's own token), with ``GET /health``; the real API behind both."""

import sys
from collections.abc import Iterator
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tests.mcp_server.conftest import Stack, serve_in_thread, stop
from tests.mcp_server.test_tools import EC2, result
from xplorr.mcp_server.config import McpConfig
from xplorr.mcp_server.server import http_app

READ_TOOLS = 32


@pytest.fixture(scope="module")
def mcp_url(stack: Stack) -> Iterator[str]:
    """A multi-tenant MCP server (no XPLORR_API_TOKEN) served over HTTP on loopback."""
    url, server, thread = serve_in_thread(http_app(McpConfig.of(stack.url, None)))
    yield url
    stop(server, thread)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _spike_movers(client: Client, stack: Stack) -> Any:
    return await result(client, "get_top_movers", {"start_date": stack.spike_day.isoformat()})


async def test_streamable_http_each_request_acts_as_its_own_token(
    stack: Stack, mcp_url: str
) -> None:
    async with httpx.AsyncClient(base_url=mcp_url) as web:
        health = await web.get("/health")
        assert health.json() == {
            "status": "ok",
            "service": "xplorr-mcp",
            "tools": READ_TOOLS,
            "mode": "multi-tenant",
        }
        hello = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        for headers in ({}, {"Authorization": "Basic eDp5"}, _bearer("xplorr_unknown0000")):
            refused = await web.post("/mcp", json=hello, headers=headers)
            assert refused.status_code == 401, headers
            assert refused.headers["www-authenticate"] == "Bearer"
            assert refused.json()["error"]["code"] in ("UNAUTHORIZED", "INVALID_TOKEN")
        assert "xplorr_unknown" not in refused.text

    async with (
        httpx2.AsyncClient(headers=_bearer(stack.admin_token)) as acme_http,
        Client(streamable_http_client(f"{mcp_url}/mcp", http_client=acme_http)) as acme,
    ):
        assert len((await acme.list_tools()).tools) == READ_TOOLS
        movers = await _spike_movers(acme, stack)
        assert [(m["name"], m["change"]) for m in movers["movers"]] == [(EC2, 300)]
        accounts = await result(acme, "list_cloud_accounts")
        assert sorted(a["name"] for a in accounts["data"]) == ["prod", "staging"]

    async with (
        httpx2.AsyncClient(headers=_bearer(stack.other_token)) as globex_http,
        Client(streamable_http_client(f"{mcp_url}/mcp", http_client=globex_http)) as globex,
    ):
        accounts = await result(globex, "list_cloud_accounts")
        assert [a["name"] for a in accounts["data"]] == ["globex-main"]
        movers = await _spike_movers(globex, stack)
        assert movers["movers"] == []


async def test_health_in_single_tenant_mode_counts_the_write_tools(stack: Stack) -> None:
    for allow_writes, tools in ((False, READ_TOOLS), (True, READ_TOOLS + 1)):
        app = http_app(McpConfig.of(stack.url, stack.admin_token, allow_writes=allow_writes))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as web:
            health = (await web.get("/health")).json()
        assert (health["mode"], health["tools"]) == ("single-tenant", tools)


@pytest.mark.slow
async def test_stdio_child_process(stack: Stack) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "xplorr", "mcp", "--transport", "stdio"],
        env={"XPLORR_API_URL": stack.url, "XPLORR_API_TOKEN": stack.admin_token},
    )
    async with Client(params) as client:
        assert len((await client.list_tools()).tools) == READ_TOOLS
        context = await result(client, "get_context")
        assert context["organization"]["name"] == "Acme"
        movers = await _spike_movers(client, stack)
        assert movers["movers"][0]["name"] == EC2
