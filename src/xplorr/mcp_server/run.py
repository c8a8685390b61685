"""``xplorr mcp``: start the server on stdio or streamable HTTP."""

from typing import Literal

import uvicorn

from xplorr.mcp_server.config import ConfigError, McpConfig
from xplorr.mcp_server.server import build_server, http_app

Transport = Literal["stdio", "streamable-http"]


def run(transport: Transport, *, host: str, port: int, config: McpConfig) -> None:
    """Serve until stopped. stdio needs ``XPLORR_API_TOKEN``: a local client (Claude Desktop)
    starts one process per user, and stdio carries no per-request credentials."""
    if transport == "stdio":
        if config.api_token is None:
            raise ConfigError(
                "XPLORR_API_TOKEN is required with --transport stdio (stdio carries no "
                "Authorization header); set it to an xplorr_ API token"
            )
        build_server(config).run("stdio")
        return
    app = http_app(config, host=host)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


__all__ = ["ConfigError", "McpConfig", "Transport", "run"]
