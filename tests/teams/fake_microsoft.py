"""A local HTTP server speaking the Microsoft identity platform's v2 endpoints and Graph's
``POST /v1.0/teams/{team}/channels/{channel}/messages`` (Bearer).

The two browser pages answer as a signed-in directory admin of ``TENANT`` would, with the 302
Microsoft sends back to the ``redirect_uri``:

- ``GET /{tenant}/v2.0/adminconsent``: the admin approves (``admin_consent=True&tenant=&scope=
  &state=``, the tenant then holds a grant for the app) or, with ``deny_admin_consent``,
  cancels (``error=permission_denied&error_description=...&state=``);
- ``GET /{tenant}/oauth2/v2.0/authorize``: a code bound to the redirect URI and the tenant, when
  the tenant granted the app; without a grant ``error=consent_required`` (a tenant whose users
  may not consent themselves, which is why the install asks a directory admin first).

``POST /{tenant}/oauth2/v2.0/token`` takes the authorization-code and refresh-token grants,
form-encoded; a code is redeemed only at its own tenant (or ``organizations``), and the ID token's
``tid`` is that tenant. Errors are ``{"error": ...}`` with HTTP 400."""

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import jwt

CLIENT_ID = "00000000-aaaa-bbbb-cccc-000000000001"
CLIENT_SECRET = "fake-teams-secret"
TENANT = "11111111-2222-3333-4444-555555555555"


@dataclass
class FakeMicrosoft:
    server: ThreadingHTTPServer
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (redirect, tenant)
    granted: set[str] = field(default_factory=set)  # tenants whose admin consented
    deny_admin_consent: bool = False
    pages: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # browser GETs
    access: set[str] = field(default_factory=set)
    refresh: set[str] = field(default_factory=set)
    token_calls: list[dict[str, str]] = field(default_factory=list)
    messages: list[tuple[str, str, dict[str, Any], str]] = field(default_factory=list)
    expires_in: int = 3600
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def reset(self) -> None:
        with self.lock:
            self.codes.clear()
            self.granted.clear()
            self.deny_admin_consent = False
            self.pages.clear()
            self.access.clear()
            self.refresh.clear()
            self.token_calls.clear()
            self.messages.clear()
            self.expires_in = 3600

    def consent(self, redirect_uri: str, tenant: str = TENANT) -> str:
        """A code as the authorize page would give it (for callbacks built by hand)."""
        code = secrets.token_hex(8)
        self.codes[code] = (redirect_uri, tenant)
        return code

    def page(self, path: str, query: dict[str, str]) -> tuple[int, str]:
        """A browser GET: (status, Location or an error text)."""
        with self.lock:
            self.pages.append((path, query))
            parts = path.split("/")
            if query.get("client_id") != CLIENT_ID or not query.get("redirect_uri"):
                return 400, "AADSTS700016: application not found, or no redirect_uri"
            back = {"state": query["state"]} if "state" in query else {}
            if parts[2:] == ["v2.0", "adminconsent"]:
                if self.deny_admin_consent:
                    back |= {"error": "permission_denied",
                             "error_description": "The admin canceled the request"}  # fmt: skip
                else:
                    self.granted.add(TENANT)
                    back |= {"admin_consent": "True", "tenant": TENANT,
                             "scope": query.get("scope", "")}  # fmt: skip
            elif parts[2:] == ["oauth2", "v2.0", "authorize"]:
                tenant = unquote(parts[1])
                if TENANT not in self.granted or tenant not in (TENANT, "organizations"):
                    back |= {"error": "consent_required", "error_description": "AADSTS65001"}
                else:
                    code = secrets.token_hex(8)
                    self.codes[code] = (query["redirect_uri"], TENANT)
                    back |= {"code": code, "session_state": secrets.token_hex(4)}
            else:
                return 404, "not found"
            return 302, f"{query['redirect_uri']}?{urlencode(back)}"

    def _issue(self, tenant: str) -> dict[str, Any]:
        access, refresh = f"eyJ.access.{secrets.token_hex(8)}", f"0.refresh.{secrets.token_hex(8)}"
        self.access.add(access)
        self.refresh.add(refresh)
        id_token = jwt.encode({"tid": tenant, "iat": int(time.time())}, "k" * 32, "HS256")
        return {"token_type": "Bearer", "scope": "ChannelMessage.Send Team.ReadBasic.All",
                "expires_in": self.expires_in, "access_token": access, "refresh_token": refresh,
                "id_token": id_token}  # fmt: skip

    def token(self, tenant: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.token_calls.append({"tenant": tenant, **form})
            if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
                return 401, {"error": "invalid_client"}
            if form.get("grant_type") == "authorization_code":
                redirect, issued_in = self.codes.pop(form.get("code", ""), ("", ""))
                if redirect != form.get("redirect_uri") or tenant not in (
                    issued_in,
                    "organizations",
                ):
                    return 400, {"error": "invalid_grant"}
                return 200, self._issue(issued_in)
            if form.get("grant_type") == "refresh_token":
                if form.get("refresh_token") not in self.refresh:
                    return 400, {"error": "invalid_grant"}
                self.refresh.discard(form["refresh_token"])  # rotated
                return 200, self._issue(tenant)
            return 400, {"error": "unsupported_grant_type"}


def start_fake_microsoft() -> FakeMicrosoft:
    fake: FakeMicrosoft

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            status, text = fake.page(url.path, query)
            self.send_response(status)
            if status == 302:
                self.send_header("Location", text)
            data = b"" if status == 302 else text.encode()
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            parts = self.path.split("/")
            if self.path.endswith("/oauth2/v2.0/token"):
                form = {k: v[0] for k, v in parse_qs(raw).items()}
                status, body = fake.token(unquote(parts[1]), form)
            elif len(parts) == 7 and parts[1:3] == ["v1.0", "teams"] and parts[6] == "messages":
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                if token not in fake.access:
                    status, body = 401, {"error": {"code": "InvalidAuthenticationToken"}}
                else:
                    message = json.loads(raw)
                    fake.messages.append((unquote(parts[3]), unquote(parts[5]), message, token))
                    status, body = 201, {"id": secrets.token_hex(6), **message}
            else:
                status, body = 404, {"error": {"code": "NotFound"}}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake = FakeMicrosoft(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake
