"""``xplorr mcp``: a Model Context Protocol server that lets an AI assistant (Claude Desktop, any
MCP client) read an organization's costs, guardrails, savings and inventory.

It is a client of the Xplorr REST API, nothing more: every tool is one or two API calls made with
the caller's ``xplorr_`` token (exchanged for a short-lived JWT), so the API's roles, account
grants, token scopes and rate limits hold for the assistant exactly as for any other caller. It
never opens the database (an import-linter contract in ``pyproject.toml`` keeps it that way).

Named ``mcp_server``, not ``mcp``: a package ``xplorr.mcp`` would be found before the ``mcp`` SDK
by code run from inside this folder.
"""
