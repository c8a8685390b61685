"""``create_app(settings)``: the whole API, explicitly configured (no import-time globals)."""

import asyncio
import copy
import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from xplorr import api
from xplorr.auth.deps import enforce_rate_limit, get_authenticated
from xplorr.core import logging as xlogging
from xplorr.core import openapi as openapi_kit
from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.core.deps import AuthKit
from xplorr.core.errors import ErrorEnvelope, install_error_handlers
from xplorr.core.jobs.registry import discover
from xplorr.core.middleware import RequestContextMiddleware
from xplorr.core.money import ExactNumbersMiddleware
from xplorr.core.ratelimit import RateLimiter
from xplorr.core.settings import Settings

API_PREFIX = "/api/v1"
READ_POOL_SIZE = 4

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": text}
    for status, text in {
        400: "The request body could not be read (BAD_REQUEST).",
        401: "Missing or invalid credentials (UNAUTHORIZED).",
        403: "The caller's role does not allow this (FORBIDDEN); any write with a read-only "
        "API token answers READ_ONLY_TOKEN.",
        404: "Not found, or not in the caller's organization.",
        413: "The request body is over 1 MiB (PAYLOAD_TOO_LARGE).",
        422: "Invalid input (VALIDATION_ERROR); `details` names the fields.",
        429: "Rate limited (RATE_LIMITED); see Retry-After.",
        431: "The request headers are over 16 KiB in all (REQUEST_HEADER_FIELDS_TOO_LARGE).",
        500: "Internal error (INTERNAL_ERROR); quote X-Request-ID.",
        503: "The database is busy (DATABASE_BUSY); nothing changed, see Retry-After.",
    }.items()
}


# The docs list these groups first, in this order: what a new user needs first.
TAG_ORDER = ("costs", "cloud-accounts", "sync")
TAG_DESCRIPTIONS = {
    "costs": "What you spend: totals, breakdowns and trends over the synced cost data.",
    "cloud-accounts": "The cloud accounts (and FOCUS export folders) whose costs are synced.",
    "sync": "Cost data syncs: run one, follow its job, see each account's status.",
    "auth": "Sign-up, login, tokens of a session, two-factor, passkeys and SSO.",
    "tokens": "Personal API tokens (`xplorr_...`): read or write, optionally per account.",
}


# Swagger UI 5 (OpenAPI 3.1), shipped as files by the swagger-ui-py package: the docs work with
# no network (never a CDN).
def _swagger_ui_dir() -> Path:
    """Found without importing the package (its import pulls in yaml, jinja2 and urllib)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed: the API docs are served from its files")
    return Path(spec.submodule_search_locations[0]) / "static"


SWAGGER_UI_DIR = _swagger_ui_dir()
DOCS_ASSETS = f"{API_PREFIX}/docs/assets"


def _needs_caller(dependant: Dependant) -> bool:
    return any(d.call is get_authenticated or _needs_caller(d) for d in dependant.dependencies)


def _public_operations() -> set[tuple[str, str]]:
    """``(METHOD, path)`` of the routes that take no bearer token (login, signup, health...)."""
    mounted = [(API_PREFIX, r) for r in api.ROUTERS] + [("", r) for r in api.ROOT_ROUTERS]
    return {
        (method, prefix + route.path)
        for prefix, router in mounted
        for route in router.routes
        if isinstance(route, APIRoute) and not _needs_caller(route.dependant)
        for method in route.methods or ()
    }


def _install_docs(app: FastAPI) -> None:
    """``/api/v1/docs``: Swagger UI from local files, Authorize remembered across reloads."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=SWAGGER_UI_DIR), name="docs-assets")

    @app.get(f"{API_PREFIX}/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=f"{API_PREFIX}/openapi.json",
            title="Xplorr API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
            swagger_ui_parameters={
                "persistAuthorization": True,
                "displayRequestDuration": True,
                "docExpansion": "list",
                "filter": True,
                "tryItOutEnabled": True,
                "validatorUrl": None,  # no call to an online validator
            },
        )


def _operation_id(route: APIRoute) -> str:
    return f"{route.tags[0] if route.tags else 'api'}_{route.name}"


async def shutdown(app: FastAPI) -> None:
    """Release what ``bind`` opened: database pools and rate-limit storage."""
    await app.state.engine.dispose()
    if app.state.read_engine is not app.state.engine:
        await app.state.read_engine.dispose()
    await app.state.kit.limiter.aclose()


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    if not settings.run_embedded_worker:
        try:
            yield
        finally:
            await shutdown(app)
        return
    from xplorr.core.jobs.runner import run_embedded

    # An engine of its own, as `xplorr worker` has: a job holding its connection for a whole
    # import must not hold the API's, and it waits for SQLite's writer as long as background
    # work may (the API's requests answer 503 sooner).
    worker_engine = make_engine(settings.db_url)
    worker_task = asyncio.create_task(run_embedded(settings, worker_engine))
    try:
        yield
    finally:
        worker_task.cancel()
        await asyncio.gather(worker_task, return_exceptions=True)
        await worker_engine.dispose()
        await shutdown(app)


def build_app() -> FastAPI:
    """The routing, error handlers and middleware: everything that does not depend on settings.

    Building it costs FastAPI's per-route analysis (most of an app's construction time), so a
    process that serves several configurations in turn (the test suite) builds it once and
    ``bind``s it to each; nothing in it holds a database, a limiter or a setting."""
    app = FastAPI(
        title="Xplorr API",
        version="1.0.0",
        description="Self-hostable cloud cost management: the Xplorr REST API.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # served by _install_docs from files shipped in a pip package
        redoc_url=None,
        lifespan=_lifespan,
        generate_unique_id_function=_operation_id,
    )
    install_error_handlers(app)
    v1 = APIRouter(prefix=API_PREFIX, responses=_ERRORS, dependencies=[Depends(enforce_rate_limit)])
    for router in api.ROUTERS:
        v1.include_router(router)
    app.include_router(v1)
    for router in api.ROOT_ROUTERS:
        app.include_router(router)
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        # FastAPI caches the routes' schema; the limits shown depend on the bound settings.
        documented: dict[str, Any] | None = app.state.openapi
        if documented is None:
            limiter: RateLimiter = app.state.kit.limiter
            documented = limiter.document(copy.deepcopy(build_openapi()), API_PREFIX)
            openapi_kit.add_bearer_security(documented, _public_operations())
            openapi_kit.order_tags(documented, TAG_ORDER, TAG_DESCRIPTIONS)
            openapi_kit.add_examples(documented)
            app.state.openapi = documented
        return documented

    app.openapi = openapi  # type: ignore[method-assign]
    _install_docs(app)
    app.add_middleware(ExactNumbersMiddleware)
    app.add_middleware(RequestContextMiddleware)
    return app


def bind(app: FastAPI, settings: Settings) -> FastAPI:
    """Give ``app`` its settings and what they open: database engine, sessions, rate limiter
    (with its storage) and the auth kit. A rebound app shares nothing with its previous
    binding; ``shutdown`` releases what this opened."""
    xlogging.configure(settings.log_level, settings.json_logs)
    # Every job name and event subscriber known before the first request enqueues anything.
    discover(settings.job_modules)
    wait = settings.db_busy_timeout_seconds
    engine = make_engine(settings.db_url, busy_timeout_ms=int(wait * 1000), pool_timeout=wait)
    # Reads on SQLite: deferred transactions, which WAL runs beside the one writer (a few
    # connections, so reads need not queue behind a write). PostgreSQL: the same engine.
    read_engine = (
        make_engine(
            settings.db_url,
            sqlite_immediate=False,
            busy_timeout_ms=int(wait * 1000),
            pool_timeout=wait,
            pool_size=READ_POOL_SIZE,
        )
        if settings.is_sqlite
        else engine
    )
    limiter = RateLimiter(settings)
    limiter.install(api.ROUTERS, read=settings.rate_limit_read, write=settings.rate_limit_write)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.read_engine = read_engine
    app.state.read_sessionmaker = make_sessionmaker(read_engine)
    app.state.kit = AuthKit.build(settings, limiter)
    app.state.openapi = None
    return app


def create_app(settings: Settings | None = None) -> FastAPI:
    return bind(build_app(), settings or Settings())
