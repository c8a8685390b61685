"""core.egress: the SSRF rules on URLs users give (webhooks), checked without and with DNS,
and a POST to a real local HTTP server (allowed by XPLORR_EGRESS_ALLOW_HOSTS) that pins the
checked address, follows no redirect and caps the answer."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import make_settings
from xplorr.core import egress
from xplorr.core.settings import Settings


@pytest.fixture
def plain(tmp_path: Path) -> Settings:
    return make_settings("sqlite+aiosqlite:///unused.db", tmp_path)


@pytest.fixture
def allowing(tmp_path: Path) -> Settings:
    return make_settings(
        "sqlite+aiosqlite:///unused.db", tmp_path, egress_allow_hosts="127.0.0.1, Example.Test"
    )


@pytest.mark.parametrize(
    ("url", "phrase"),
    [
        ("http://hooks.slack.com/services/x", "https://"),
        ("ftp://hooks.slack.com/x", "https://"),
        ("https://169.254.169.254/latest/meta-data/", "private or reserved"),
        ("https://10.0.0.1/x", "private or reserved"),
        ("https://192.168.1.1/x", "private or reserved"),
        ("https://100.64.0.1/x", "private or reserved"),
        ("https://[::1]/x", "private or reserved"),
        ("https://[fd00::1]/x", "private or reserved"),
        ("https://[::ffff:127.0.0.1]/x", "private or reserved"),
        ("https://user:pw@hooks.slack.com/services/x", "user name"),
        ("https://hooks.slack.com/services/x#frag", "fragment"),
        ("https://hooks.slack.com:444/services/x", "default HTTPS port"),
        ("https:///nohost", "no host"),
        ("https://hooks.slack.com/" + "a" * 2100, "longer than"),
        ("https://127.0.0.1:99999/x", "not valid"),
    ],
)
def test_check_url_refuses(url: str, phrase: str, plain: Settings) -> None:
    with pytest.raises(egress.EgressRefused, match=phrase):
        egress.check_url(url, plain)


def test_host_and_path_allowlists(plain: Settings) -> None:
    rules = {"hosts": ("hooks.slack.com",), "path_prefixes": ("/services/",)}
    egress.check_url("https://hooks.slack.com/services/T/B/x", plain, **rules)
    with pytest.raises(egress.EgressRefused, match="host must be"):
        egress.check_url("https://hooks.slack.com.evil.test/services/x", plain, **rules)
    with pytest.raises(egress.EgressRefused, match="path must start"):
        egress.check_url("https://hooks.slack.com/api/x", plain, **rules)


def test_allowed_hosts_may_use_http_loopback_and_any_port(allowing: Settings) -> None:
    egress.check_url("http://127.0.0.1:8080/x", allowing)
    egress.check_url("http://example.test:1/x", allowing)
    with pytest.raises(egress.EgressRefused):
        egress.check_url("http://localhost:8080/x", allowing)  # not listed by that name


async def test_names_are_judged_by_every_address_they_resolve_to(plain: Settings) -> None:
    with pytest.raises(egress.EgressRefused, match="resolves to a private"):
        await egress.validate_url("https://localhost/x", plain)
    with pytest.raises(egress.EgressRefused, match="resolves to a private"):
        await egress.validate_url("https://2130706433/x", plain)  # 127.0.0.1 as one number
    # A name this machine cannot resolve is accepted when stored; every send resolves again.
    assert await egress.validate_url("https://hooks.slack.com/services/x", plain)
    with pytest.raises(egress.EgressRefused, match="does not resolve"):
        await egress.post_json("https://no-such-host.invalid/x", {}, plain)


class _Server:
    def __init__(self, status: int, body: bytes, location: str | None = None) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests.append((self.path, dict(self.headers.items())))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def big() -> Iterator[_Server]:
    server = _Server(200, b"x" * (egress.MAX_ANSWER_BYTES * 4))
    yield server
    server.close()


@pytest.fixture
def redirecting() -> Iterator[_Server]:
    server = _Server(307, b"", location="http://169.254.169.254/latest/meta-data/")
    yield server
    server.close()


async def test_post_to_an_allowed_host_caps_the_answer(big: _Server, allowing: Settings) -> None:
    answer = await egress.post_json(big.url + "/hook?a=1", {"text": "hi"}, allowing)
    assert answer.status_code == 200
    assert len(answer.text) == egress.MAX_ANSWER_BYTES
    (path, headers) = big.requests[0]
    assert path == "/hook?a=1"
    assert headers["Host"] == big.url.removeprefix("http://")


async def test_redirects_are_answers_not_followed(redirecting: _Server, allowing: Settings) -> None:
    answer = await egress.post_json(redirecting.url + "/hook", {}, allowing)
    assert answer.status_code == 307
    assert len(redirecting.requests) == 1


async def test_loopback_is_refused_unless_allowed(big: _Server, plain: Settings) -> None:
    with pytest.raises(egress.EgressRefused):
        await egress.post_json(big.url + "/hook", {}, plain)
    assert big.requests == []
