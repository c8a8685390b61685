"""A local HTTP server speaking the Microsoft identity platform's v2 token endpoint
(authorization-code and refresh-token grants, form-encoded, errors as ``{"error": ...}`` with
HTTP 400) and Graph's ``POST /v1.0/teams/{team}/channels/{channel}/messages`` (Bearer)."""

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

import jwt

CLIENT_ID = "00000000-aaaa-bbbb-cccc-000000000001"
CLIENT_SECRET = "fake-teams-secret"
TENANT = "11111111-2222-3333-4444-555555555555"


@dataclass
class FakeMicrosoft:
    server: ThreadingHTTPServer
    codes: dict[str, str] = field(default_factory=dict)  # code -> redirect_uri
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
            self.access.clear()
            self.refresh.clear()
            self.token_calls.clear()
            self.messages.clear()
            self.expires_in = 3600

    def consent(self, redirect_uri: str) -> str:
        code = secrets.token_hex(8)
        self.codes[code] = redirect_uri
        return code

    def _issue(self) -> dict[str, Any]:
        access, refresh = f"eyJ.access.{secrets.token_hex(8)}", f"0.refresh.{secrets.token_hex(8)}"
        self.access.add(access)
        self.refresh.add(refresh)
        id_token = jwt.encode({"tid": TENANT, "iat": int(time.time())}, "k" * 32, "HS256")
        return {"token_type": "Bearer", "scope": "ChannelMessage.Send Team.ReadBasic.All",
                "expires_in": self.expires_in, "access_token": access, "refresh_token": refresh,
                "id_token": id_token}  # fmt: skip

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.token_calls.append(form)
            if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
                return 401, {"error": "invalid_client"}
            if form.get("grant_type") == "authorization_code":
                if self.codes.pop(form.get("code", ""), None) != form.get("redirect_uri"):
                    return 400, {"error": "invalid_grant"}
                return 200, self._issue()
            if form.get("grant_type") == "refresh_token":
                if form.get("refresh_token") not in self.refresh:
                    return 400, {"error": "invalid_grant"}
                self.refresh.discard(form["refresh_token"])  # rotated
                return 200, self._issue()
            return 400, {"error": "unsupported_grant_type"}


def start_fake_microsoft() -> FakeMicrosoft:
    fake: FakeMicrosoft

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            parts = self.path.split("/")
            if self.path.endswith("/oauth2/v2.0/token"):
                status, body = fake.token({k: v[0] for k, v in parse_qs(raw).items()})
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
