"""A local HTTP server speaking Slack's OAuth v2 token exchange and the Web API methods Xplorr
calls, as Slack does (slack_sdk's own tests use the same kind of server): form or JSON bodies,
Bearer tokens, client credentials as HTTP Basic for ``oauth.v2.access``, errors as HTTP 200
``{"ok": false, "error": ...}``. Real slack_sdk clients reach it through ``base_url``."""

import base64
import itertools
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "fake-client-secret"
SIGNING_SECRET = "fake-signing-secret"
STATUS = "_http_status"  # an answer's HTTP status when it is not 200 (taken out before sending)


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None
    basic: tuple[str, str] | None


@dataclass
class FakeSlack:
    server: ThreadingHTTPServer
    calls: list[Call] = field(default_factory=list)
    grants: dict[str, dict[str, Any]] = field(default_factory=dict)  # code -> install answer
    tokens: dict[str, str] = field(default_factory=dict)  # valid bot token -> team id
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # user id -> users.info user
    errors: dict[str, str] = field(default_factory=dict)  # method -> error for its next call
    # users.lookupByEmail of these addresses fails: (HTTP status, error), e.g. Slack's rate
    # limit (429 "ratelimited", with Retry-After) or a token without the scope (200
    # "missing_scope").
    lookup_failures: dict[str, tuple[int, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ts: Any = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.grants.clear()
            self.tokens.clear()
            self.users.clear()
            self.errors.clear()
            self.lookup_failures.clear()

    def grant(self, team_id: str = "T001", team_name: str = "Acme Slack") -> str:
        """Consent given on Slack's page for ``team_id``: the code the browser brings back."""
        code = secrets.token_hex(8)
        token = f"xoxb-{team_id}-{secrets.token_hex(12)}"
        self.grants[code] = {
            "ok": True,
            "access_token": token,
            "token_type": "bot",
            "scope": "chat:write,users:read,users:read.email,incoming-webhook",
            "bot_user_id": "UBOT",
            "app_id": "A001",
            "team": {"id": team_id, "name": team_name},
            "enterprise": None,
            "authed_user": {"id": "U0ADMIN"},
            "incoming_webhook": {
                "channel": "#cost-alerts",
                "channel_id": "C0HOOK",
                "configuration_url": "https://acme.slack.com/services/B1",
                "url": f"https://hooks.slack.com/services/{team_id}/B1/{secrets.token_hex(8)}",
            },
            "is_enterprise_install": False,
        }
        return code

    def add_user(self, user_id: str, email: str, *, confirmed: bool = True) -> None:
        self.users[user_id] = {
            "id": user_id,
            "is_bot": False,
            "deleted": False,
            "is_email_confirmed": confirmed,
            "profile": {"email": email},
        }

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    # -- the methods ------------------------------------------------------------------------

    def answer(self, method: str, args: dict[str, Any], token: str | None,
               basic: tuple[str, str] | None) -> dict[str, Any]:  # fmt: skip
        with self.lock:
            self.calls.append(Call(method, args, token, basic))
            if method in self.errors:
                return {"ok": False, "error": self.errors.pop(method)}
            if method == "oauth.v2.access":
                if basic != (CLIENT_ID, CLIENT_SECRET):
                    return {"ok": False, "error": "invalid_client_id"}
                grant = self.grants.pop(str(args.get("code")), None)
                if grant is None:
                    return {"ok": False, "error": "invalid_code"}
                self.tokens[grant["access_token"]] = grant["team"]["id"]
                return grant
            if token not in self.tokens:
                return {"ok": False, "error": "invalid_auth"}
            if method == "auth.revoke":
                del self.tokens[token]
                return {"ok": True, "revoked": True}
            if method == "chat.postMessage":
                if not args.get("channel"):
                    return {"ok": False, "error": "channel_not_found"}
                ts = f"1700000000.{next(self._ts):06d}"
                return {"ok": True, "channel": args["channel"], "ts": ts,
                        "message": {"text": args.get("text"), "ts": ts}}  # fmt: skip
            if method == "chat.postEphemeral":
                return {"ok": True, "message_ts": f"1700000001.{next(self._ts):06d}"}
            if method == "chat.update":
                return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
            if method == "users.lookupByEmail":
                wanted = str(args.get("email") or "").lower()
                if wanted in self.lookup_failures:
                    status, error = self.lookup_failures[wanted]
                    return {"ok": False, "error": error, STATUS: status}
                found = [u for u in self.users.values()
                         if str(u["profile"]["email"]).lower() == wanted]  # fmt: skip
                if not found:
                    return {"ok": False, "error": "users_not_found"}
                return {"ok": True, "user": found[0]}
            if method == "users.info":
                user = self.users.get(str(args.get("user")))
                if user is None:
                    return {"ok": False, "error": "user_not_found"}
                return {"ok": True, "user": user}
            return {"ok": False, "error": "unknown_method"}


def start_fake_slack() -> FakeSlack:
    fake: FakeSlack

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # slack_sdk sends some methods (users.info) as GET
            path, _, query = self.path.partition("?")
            self._serve(path, {k: v[0] for k, v in parse_qs(query).items()})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            if self.headers.get("Content-Type", "").startswith("application/json"):
                args = json.loads(raw or "{}")
            else:
                args = {k: v[0] for k, v in parse_qs(raw).items()}
            path, _, query = self.path.partition("?")
            args.update({k: v[0] for k, v in parse_qs(query).items()})
            self._serve(path, args)

        def _serve(self, path: str, args: dict[str, Any]) -> None:
            token = None
            basic = None
            auth = self.headers.get("Authorization") or ""
            if auth.startswith("Bearer "):
                token = auth.removeprefix("Bearer ")
            elif auth.startswith("Basic "):
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                basic = (user, password)
            token = token or args.pop("token", None)
            if not path.startswith("/api/"):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            answer = fake.answer(path[5:], args, token, basic)
            status = answer.pop(STATUS, 200)
            body = json.dumps(answer).encode()
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", "30")
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake = FakeSlack(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake
