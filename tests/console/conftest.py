"""The web console under test: HTML answers over the in-memory app (``console_for``), and real
pages in Debian's Chromium (``browse``) served by uvicorn on loopback from the test's own app.

Chromium starts once per xdist worker and each test connects to it over CDP (a fresh browser
context per person); every request a page makes outside the test server is aborted and fails
the test, as does any script error, failed request or CSP violation on the page.
"""

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from tests.factories.users import session_of

from xplorr.auth import browser
from xplorr.core.deps import AuthKit
from xplorr.users.models import User

CHROMIUM = os.environ.get("XPLORR_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
]
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
NONCE = "test-csrf-nonce"


def login_cookies(app: FastAPI, user: User) -> dict[str, str]:
    """The cookies of a browser signed in as ``user`` (its factory-made login session)."""
    kit: AuthKit = app.state.kit
    login = browser.BrowserLogin(user.id, user.org_id, session_of(user))
    return {
        browser.SESSION_COOKIE: browser.encode_login(kit, login, browser.default_lifetime(kit)),
        browser.CSRF_COOKIE: NONCE,
    }


def csrf_of(app: FastAPI) -> str:
    return browser.csrf_token(app.state.kit, NONCE)


class ConsoleClient(httpx.AsyncClient):
    """A browser without JavaScript: follows no redirect, posts forms with the CSRF token."""

    csrf: str

    async def submit(self, path: str, data: dict[str, Any] | None = None) -> httpx.Response:
        return await self.post(path, data={"csrf_token": self.csrf, **(data or {})})


@pytest.fixture
async def console_for(app: FastAPI) -> AsyncIterator[Any]:
    clients: list[ConsoleClient] = []

    def make(user: User | None = None) -> ConsoleClient:
        cookies = login_cookies(app, user) if user else {browser.CSRF_COOKIE: NONCE}
        client = ConsoleClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://127.0.0.1",
            cookies=cookies,
            headers={"accept": "text/html"},
        )
        client.csrf = csrf_of(app)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


# --- real Chromium --------------------------------------------------------------------------


def _chromium_path() -> str:
    found = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if found is None:
        message = f"Chromium not found at {CHROMIUM}: scripts/test installs Debian's chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def chromium_endpoint() -> Iterator[str]:
    """One headless Chromium per test worker, reached over the DevTools protocol."""
    profile = tempfile.mkdtemp(prefix="xplorr-chromium-")
    proc = subprocess.Popen(
        [_chromium_path(), *CHROMIUM_ARGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    port_file = Path(profile) / "DevToolsActivePort"
    for _ in range(400):
        if port_file.exists() and port_file.read_text().strip():
            break
        if proc.poll() is not None:
            pytest.fail(f"Chromium exited with {proc.returncode} at start")
        import time

        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("Chromium did not open its DevTools port in 20 s")
    yield f"http://127.0.0.1:{port_file.read_text().split()[0]}"
    proc.kill()
    proc.wait()
    shutil.rmtree(profile, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def live_server(app: FastAPI) -> AsyncIterator[str]:
    """The test's app served by uvicorn on loopback, in the test's own event loop."""
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@dataclass
class Browse:
    """Pages of the test server, each in a fresh context; problems fail the test at its end."""

    app: FastAPI
    url: str
    browser: Any
    outside: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)

    async def page(self, user: User | None = None, *, width: int = 1280, height: int = 900) -> Any:
        context = await self.browser.new_context(
            viewport={"width": width, "height": height},
            base_url=self.url,
            timezone_id="UTC",
            locale="en-US",
        )
        self.contexts.append(context)
        if user is not None:
            await context.add_cookies(
                [
                    {"name": name, "value": value, "url": self.url, "httpOnly": True}
                    for name, value in login_cookies(self.app, user).items()
                ]
            )

        async def guard(route: Any) -> None:
            if route.request.url.startswith(self.url):
                await route.continue_()
            else:
                self.outside.append(route.request.url)
                await route.abort()

        await context.route("**/*", guard)
        page = await context.new_page()
        page.set_default_timeout(10_000)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        # A page answered with a 4xx (a form with an error) is expected; a script, stylesheet or
        # htmx fragment that fails is not. Chromium logs both as "Failed to load resource".
        page.on(
            "console",
            lambda msg: (
                self.problems.append(f"console {msg.type}: {msg.text}")
                if msg.type == "error" and not msg.text.startswith("Failed to load resource")
                else None
            ),
        )
        page.on(
            "response",
            lambda r: (
                self.problems.append(f"{r.status} for {r.request.resource_type} {r.url}")
                if r.status >= 400
                and r.request.resource_type != "document"
                and not r.request.headers.get("hx-request")
                else None
            ),
        )
        return page

    async def axe(self, page: Any) -> list[str]:
        """axe-core's WCAG 2 A/AA violations on the page (run through the DevTools protocol,
        which the page's CSP does not apply to)."""
        await page.evaluate(AXE + "\n;0")
        result = await page.evaluate(
            "() => axe.run(document, {runOnly: {type: 'tag', values: "
            "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}}).then(r => r.violations.map("
            "v => v.id + ': ' + v.help + ' (' + v.nodes.map(n => n.target.join(' ')).join(', ') "
            "+ ')'))"
        )
        return list(result)


@pytest.fixture
async def browse(app: FastAPI, live_server: str, chromium_endpoint: str) -> AsyncIterator[Browse]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.connect_over_cdp(chromium_endpoint)
        session = Browse(app=app, url=live_server, browser=chromium)
        try:
            yield session
        finally:
            for context in session.contexts:
                await context.close()
    assert session.outside == [], f"the console reached outside the server: {session.outside}"
    assert session.problems == [], session.problems
