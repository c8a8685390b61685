"""The ``xplorr`` command: serve, worker, migrate, demo, openapi, outbox, user create."""

import asyncio
import json
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console

from xplorr.core import logging as xlogging
from xplorr.core.errors import XplorrError
from xplorr.core.migrate import upgrade
from xplorr.core.settings import InvalidSetting, Settings

# Never print locals in tracebacks: they can hold passwords and keys.
app = typer.Typer(
    help="Xplorr: self-hostable cloud cost management.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
user_app = typer.Typer(help="Manage users (operators).", no_args_is_help=True)
app.add_typer(user_app, name="user")
keys_app = typer.Typer(help="Encryption keys of stored credentials.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
import_app = typer.Typer(help="Import billing data files.", no_args_is_help=True)
app.add_typer(import_app, name="import")
console = Console(stderr=True)
# Piped or redirected (CI logs, `| grep`): no wrapping at rich's default 80 columns, so a path,
# a link or a summary line stays one line.
console.soft_wrap = not console.is_terminal


def _settings(**overrides: Any) -> Settings:
    """The settings from the environment; a bad value ends the command with one line per
    setting naming it and what is wrong (never the value: it may be a secret)."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        for error in exc.errors():
            name = "XPLORR_" + "_".join(str(part) for part in error["loc"]).upper()
            message = f"Invalid setting {name}: {error['msg']}"
            console.print(message, style="red", markup=False, highlight=False)
        raise typer.Exit(2) from None


@app.callback()
def _configure_logging() -> None:
    """Every command logs through the same structlog setup as the API (no locals in tracebacks)."""
    settings = _settings()
    xlogging.configure(settings.log_level, settings.json_logs)


@app.command()
def migrate() -> None:
    """Upgrade the database to the newest schema (safe to run repeatedly)."""
    settings = _settings()
    upgrade(settings.db_url)
    console.print("[green]Database is up to date.[/green]")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    migrate_db: Annotated[
        bool | None,
        typer.Option(
            "--migrate/--no-migrate",
            help="Migrate before serving. Default: yes for the embedded SQLite database, "
            "no for PostgreSQL (run `xplorr migrate` as a deploy step).",
        ),
    ] = None,
) -> None:
    """Serve the API (and, when embedded, the background worker in the same process)."""
    from xplorr.app import create_app

    settings = _settings()
    try:
        application = create_app(settings)  # refuses a setting it cannot apply, before anything
    except InvalidSetting as exc:
        console.print(str(exc), style="red", markup=False, highlight=False)
        raise typer.Exit(2) from None
    if migrate_db if migrate_db is not None else settings.is_sqlite:
        upgrade(settings.db_url)
    console.print(
        f"Xplorr API on http://{host}:{port}/api/v1  docs: http://{host}:{port}/api/v1/docs"
    )
    uvicorn.run(application, host=host, port=port, log_level="warning", access_log=False)


@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(help="Jobs run at once.")] = None,
) -> None:
    """Run a background worker: claims jobs, fires schedules, reaps expired leases."""
    from xplorr.core.jobs.runner import run_worker

    settings = _settings()
    asyncio.run(run_worker(settings, concurrency=concurrency))


@app.command()
def demo() -> None:
    """Create the demo organization and its owner (the demo password is set only then) with
    three demo cloud accounts and 13 months of their costs, and print how to log in."""
    from xplorr.demo import load_demo

    settings = _settings()
    upgrade(settings.db_url)
    result = asyncio.run(load_demo(settings))
    for line in result.lines():
        console.print(line, highlight=False)
    for line in result.ownership:
        console.print(line, highlight=False)
    email = result.email
    if result.created:
        console.print(
            f"Demo organization ready. Log in as [bold]{email}[/bold] with password "
            f"[bold]{settings.demo_password.get_secret_value()}[/bold]"
        )
    else:
        console.print(
            f"Demo organization ready. Log in as [bold]{email}[/bold] with the password it "
            "has (the demo password is set only when the demo owner is created)."
        )


@app.command()
def openapi() -> None:
    """Print the OpenAPI document as JSON."""
    from xplorr.app import create_app

    settings = _settings(embedded_worker=False)
    typer.echo(json.dumps(create_app(settings).openapi(), indent=2))


@app.command()
def outbox(
    limit: Annotated[int, typer.Option(help="How many messages, newest first.")] = 20,
) -> None:
    """List the newest emails of the outbox with their links (for installations without SMTP)."""
    from xplorr.core.email import list_outbox_cli

    settings = _settings()
    for line in asyncio.run(list_outbox_cli(settings, limit)):
        typer.echo(line)


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option(help="The user's email.")],
    org: Annotated[str, typer.Option(help="Organization slug; created if it does not exist.")],
    role: Annotated[str, typer.Option(help="owner, admin, member or viewer.")] = "member",
    name: Annotated[
        str | None, typer.Option(help="Display name (default: from the email).")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(envvar="XPLORR_NEW_USER_PASSWORD", help="Password (prompted when omitted)."),
    ] = None,
) -> None:
    """Create a user in an organization (operators; no email needed)."""
    from xplorr.users.admin import create_user_cli

    settings = _settings()
    if settings.is_sqlite:
        upgrade(settings.db_url)  # the embedded database migrates itself, as `serve` does
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user_id = asyncio.run(
            create_user_cli(
                settings, email=email, org_slug=org, role=role, name=name, password=password
            )
        )
    except XplorrError as exc:
        console.print(f"[red]{exc.error_code}: {exc.message}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"[green]Created user {user_id} ({email}, {role}) in {org}.[/green]")


@keys_app.command("rotate")
def keys_rotate(
    org: Annotated[
        str | None, typer.Option(help="Organization slug (default: every organization).")
    ] = None,
) -> None:
    """New data key per organization with every sealed secret (cloud-account credentials,
    authenticator apps...) re-sealed under it; data keys wrapped by a previous secret key
    (XPLORR_PREVIOUS_SECRET_KEYS) re-wrapped under the current XPLORR_SECRET_KEY."""
    from xplorr.cloud_accounts.keys_cli import rotate_keys_cli

    settings = _settings()
    if settings.is_sqlite:
        upgrade(settings.db_url)
    try:
        report = asyncio.run(rotate_keys_cli(settings, org))
    except XplorrError as exc:
        console.print(f"[red]{exc.error_code}: {exc.message}[/red]")
        raise typer.Exit(2) from exc
    for r in report.rotations:
        counts = ", ".join(f"{n} {label}" for label, n in sorted(r.resealed.items()))
        console.print(f"org {r.org_id}: data key v{r.version}, re-sealed {counts or 'nothing'}")
    console.print(f"{report.rewrapped} data keys re-wrapped under the current secret key.")
    for item in report.unavailable:
        console.print(f"[yellow]not re-wrapped (master key unknown): {item}[/yellow]")
    for item in report.failed:
        console.print(f"[red]not rotated: {item}[/red]")
    if report.failed:
        raise typer.Exit(1)


@import_app.command("focus")
def import_focus(
    path: Annotated[Path, typer.Argument(help="A FOCUS export file or a directory of them.")],
    account: Annotated[str, typer.Option(help="The cloud account's id (UUID).")],
) -> None:
    """Import FOCUS exports (CSV, CSV.gz, Parquet) into a cloud account: each billing period
    from its newest snapshot, replacing what the account had for it; unchanged files are
    skipped."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from xplorr.ingest.command import IngestError, UnknownAccount, summary_lines
    from xplorr.ingest.command import import_focus as run_import

    try:
        account_id = uuid.UUID(account)
    except ValueError as exc:
        console.print(f"[red]--account must be a cloud account id (a UUID), not {account!r}.[/red]")
        raise typer.Exit(2) from exc
    settings = _settings()
    if settings.is_sqlite:
        upgrade(settings.db_url)  # the embedded database migrates itself, as `serve` does
    columns = (TextColumn("Importing"), BarColumn(), TextColumn("{task.completed:,} rows"))
    with Progress(*columns, TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("import", total=None)
        try:
            summary = asyncio.run(
                run_import(settings, account_id, path, progress=lambda n: bar.advance(task, n))
            )
        except (IngestError, UnknownAccount, OSError) as exc:
            # OSError: a file that vanished or a share that stalled (ReadTimeout names it).
            bar.stop()
            # No markup: the message quotes file content ("[1, 2] is not a JSON object").
            console.print(str(exc), style="red", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(1) from exc
    for line in summary_lines(summary):
        typer.echo(line)


@app.command()
def mcp(
    transport: Annotated[
        str, typer.Option(help="stdio (a local assistant starts it) or streamable-http (/mcp).")
    ] = "stdio",
    host: Annotated[str, typer.Option(help="Interface to bind (streamable-http).")] = "127.0.0.1",
    port: Annotated[
        int | None, typer.Option(help="Port (streamable-http). Default: $PORT, else 3005.")
    ] = None,
    allow_writes: Annotated[
        bool, typer.Option("--allow-writes", help="Add the tools that change something.")
    ] = False,
) -> None:
    """Serve the MCP server for AI assistants: tools over the API at $XPLORR_API_URL, acting
    with $XPLORR_API_TOKEN (single-tenant) or each request's own bearer token (multi-tenant)."""
    from xplorr.mcp_server.config import ConfigError, McpConfig, port_from_env
    from xplorr.mcp_server.run import run

    if transport not in ("stdio", "streamable-http"):
        console.print("--transport must be stdio or streamable-http", style="red")
        raise typer.Exit(2)
    try:
        config = McpConfig.from_env(allow_writes=allow_writes)
        run(
            transport,  # type: ignore[arg-type]
            host=host,
            port=port if port is not None else port_from_env(),
            config=config,
        )
    except ConfigError as exc:
        console.print(str(exc), style="red", markup=False, highlight=False)
        raise typer.Exit(2) from None


def main() -> None:
    app()
