"""The MCP server object and its HTTP application.

Transports: stdio (Claude Desktop and other local clients start ``xplorr mcp`` themselves) and
streamable HTTP at ``/mcp``, stateless (no session kept between requests: any replica can answer
any request, and each request is authorised on its own), with ``GET /health`` beside it."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from xplorr.mcp_server import tools
from xplorr.mcp_server.api import ApiError, XplorrApi
from xplorr.mcp_server.config import McpConfig, api_token_of

log = structlog.get_logger("xplorr.mcp")

SERVICE = "xplorr-mcp"
MCP_PATH = "/mcp"
INSTRUCTIONS = """\
Xplorr answers questions about an organization's cloud spend (AWS, Azure, GCP and FOCUS imports).
Call get_context first: it gives today's date and weekday (to turn "last Tuesday" into a date),
the accounts and how far each one's cost data reaches. To explain a jump, call get_top_movers
for that day (it compares with the day before by default), then again with the top mover as a
filter and a finer group_by (resource, sku, region), and list_anomalies for that day's root
causes. Amounts in different currencies are never added together: each answer names its
currency. All amounts are exact; costs of the current day are incomplete."""


def build_server(config: McpConfig, api: XplorrApi | None = None) -> MCPServer:
    """The MCP server with every tool registered (write tools only with ``allow_writes``)."""
    server: MCPServer = MCPServer(
        SERVICE,
        title="Xplorr",
        description="Cloud cost management: costs, guardrails, savings, inventory.",
        instructions=INSTRUCTIONS,
        log_level="WARNING",
    )
    tools.register(server, api or XplorrApi(config), config)

    @server.prompt(title="Explain a change in spend")
    def explain_spend_change(day: str, scope: str = "the whole organization") -> str:
        """Why did spend jump (or drop) on a day? The tool calls that answer it, in order."""
        return (
            f"Explain why our cloud spend changed on {day} for {scope}. Call get_context first "
            "(today's date turns words like 'last Tuesday' into YYYY-MM-DD, and it says how far "
            "each account's data reaches). Then get_top_movers with start_date set to that day "
            "(compared with the day before), get_top_movers again with the largest mover as a "
            "filter and group_by resource, sku or region, and list_anomalies for the anomalies "
            "of that day with their root causes. Answer with the amounts and their currency, "
            "the services and resources behind the change, and whether it continued since "
            "(get_cost_trend over the following days)."
        )

    return server


def _unauthorized(message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": "UNAUTHORIZED", "message": message, "status": 401}},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


class BearerRequired:
    """Multi-tenant: every request to ``/mcp`` must carry ``Authorization: Bearer xplorr_...``
    that the API accepts (checked through the token exchange, whose JWT the tools then reuse
    from the cache). Refused with 401 before any MCP message is read."""

    def __init__(self, app: ASGIApp, api: XplorrApi) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(MCP_PATH):
            await self.app(scope, receive, send)
            return
        token = api_token_of(Request(scope).headers.get("authorization"))
        response: Response | None = None
        if token is None:
            response = _unauthorized(
                "This Xplorr MCP server is multi-tenant: send 'Authorization: Bearer xplorr_...' "
                "with an API token of your organization."
            )
        else:
            try:
                await self.api.jwt(token)
            except ApiError as exc:
                if exc.status == 401:
                    response = _unauthorized(str(exc))
                else:
                    status = exc.status if exc.status in (429, 502, 503) else 502
                    headers = {"Retry-After": exc.retry_after} if exc.retry_after else None
                    response = JSONResponse(
                        {"error": {"code": exc.code, "message": str(exc), "status": status}},
                        status_code=status,
                        headers=headers,
                    )
        if response is not None:
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def http_app(
    config: McpConfig,
    *,
    api: XplorrApi | None = None,
    host: str = "127.0.0.1",
    server: MCPServer | None = None,
) -> ASGIApp:
    """Streamable HTTP at ``/mcp`` plus ``GET /health``. Bound to a loopback ``host``, the SDK
    also refuses other Host and Origin headers (DNS rebinding)."""
    client = api or XplorrApi(config)
    mcp = server or build_server(config, client)
    inner = mcp.streamable_http_app(
        streamable_http_path=MCP_PATH, stateless_http=True, json_response=True, host=host
    )

    async def health(_request: Request) -> JSONResponse:
        count = len(await mcp.list_tools())
        return JSONResponse(
            {"status": "ok", "service": SERVICE, "tools": count, "mode": config.mode}
        )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # Mounted, the inner app's own lifespan does not run: its session manager runs here.
        async with mcp.session_manager.run():
            yield
        await client.aclose()

    app: Any = Starlette(
        routes=[Route("/health", health, methods=["GET"]), Mount("/", app=inner)],
        lifespan=lifespan,
    )
    if config.mode == "multi-tenant":
        return BearerRequired(app, client)
    return app  # type: ignore[no-any-return]
