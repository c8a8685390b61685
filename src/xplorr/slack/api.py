"""Slack's Web API through slack_sdk's ``WebClient``, pointed at ``{XPLORR_SLACK_BASE_URL}/api/``.

The client is synchronous (its async twin needs aiohttp): every call runs in a worker thread
(``anyio.to_thread``), with a bounded timeout. Slack answers errors as HTTP 200 with
``{"ok": false, "error": "..."}``; slack_sdk raises ``SlackApiError`` for them, which is mapped
here to ``SlackError`` carrying Slack's error code (never the token or the request body), and
``transient`` for what a retry may fix (rate limits, Slack's own 5xx, the network).
"""

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import anyio
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from xplorr.core.settings import Settings

TIMEOUT_SECONDS = 10
# Errors a retry cannot fix are most; these are the ones it may (Slack's docs, "errors").
_TRANSIENT = frozenset({"ratelimited", "rate_limited", "service_unavailable", "fatal_error",
                        "internal_error", "request_timeout"})  # fmt: skip
# The token is gone on Slack's side: nothing left to revoke.
GONE = frozenset({"token_revoked", "invalid_auth", "account_inactive", "not_authed"})

T = TypeVar("T")


class SlackError(Exception):
    """A Web API call failed: ``code`` is Slack's error (``invalid_code``, ``channel_not_found``)
    or ``unreachable``; ``status_code`` the HTTP status Slack answered with (None: not
    reached)."""

    def __init__(
        self, method: str, code: str, *, transient: bool, status_code: int | None = None
    ) -> None:
        super().__init__(f"Slack {method} failed: {code}")
        self.method = method
        self.code = code
        self.transient = transient
        self.status_code = status_code


def api_url(settings: Settings) -> str:
    return settings.slack.base_url.rstrip("/") + "/api/"


def authorize_url(settings: Settings) -> str:
    return settings.slack.base_url.rstrip("/") + "/oauth/v2/authorize"


def client(settings: Settings, token: str | None = None) -> WebClient:
    return WebClient(token=token, base_url=api_url(settings), timeout=TIMEOUT_SECONDS)


async def call(method: str, fn: Callable[[], T]) -> T:
    """Run one blocking slack_sdk call in a thread, errors as ``SlackError``."""
    try:
        return await anyio.to_thread.run_sync(fn)
    except SlackApiError as exc:
        code = str(exc.response.get("error") or f"http_{exc.response.status_code}")
        transient = code in _TRANSIENT or exc.response.status_code >= 500
        raise SlackError(
            method, code, transient=transient, status_code=exc.response.status_code
        ) from None
    except (SlackClientError, OSError) as exc:
        # URLError / timeouts (OSError) and the SDK's own client errors: Slack not reached.
        raise SlackError(method, f"unreachable ({type(exc).__name__})", transient=True) from None


def _data(response: Any) -> dict[str, Any]:
    data = response.data
    return dict(data) if isinstance(data, Mapping) else {}


async def oauth_v2_access(settings: Settings, code: str, redirect_uri: str) -> dict[str, Any]:
    """Exchange the authorization code (client id and secret sent as HTTP Basic by slack_sdk)."""
    secret = settings.slack.client_secret
    web = client(settings)
    fn = functools.partial(
        web.oauth_v2_access,
        client_id=settings.slack.client_id or "",
        client_secret=secret.get_secret_value() if secret else "",
        code=code,
        redirect_uri=redirect_uri,
    )
    return _data(await call("oauth.v2.access", fn))


async def auth_revoke(settings: Settings, token: str) -> None:
    await call("auth.revoke", client(settings, token).auth_revoke)


async def post_message(
    settings: Settings,
    token: str,
    channel: str,
    text: str,
    blocks: Sequence[Mapping[str, Any]] | None = None,
    thread_ts: str | None = None,
) -> dict[str, Any]:
    web = client(settings, token)
    fn = functools.partial(
        web.chat_postMessage,
        channel=channel,
        text=text,
        blocks=[dict(b) for b in blocks] if blocks else None,
        thread_ts=thread_ts,
    )
    return _data(await call("chat.postMessage", fn))


async def post_ephemeral(
    settings: Settings, token: str, channel: str, user: str, text: str
) -> None:
    web = client(settings, token)
    fn = functools.partial(web.chat_postEphemeral, channel=channel, user=user, text=text)
    await call("chat.postEphemeral", fn)


async def update_message(
    settings: Settings,
    token: str,
    channel: str,
    ts: str,
    text: str,
    blocks: Sequence[Mapping[str, Any]],
) -> None:
    web = client(settings, token)
    fn = functools.partial(
        web.chat_update, channel=channel, ts=ts, text=text, blocks=[dict(b) for b in blocks]
    )
    await call("chat.update", fn)


def _person(user: Mapping[str, Any]) -> bool:
    """A person with a confirmed address (not a bot, a deleted account, an unconfirmed one)."""
    return not (
        user.get("is_bot") or user.get("deleted") or user.get("is_email_confirmed") is False
    )


async def user_id_by_email(settings: Settings, token: str, email: str) -> str | None:
    """The workspace member whose confirmed email is ``email`` (``users.lookupByEmail``,
    scope ``users:read.email``); None when Slack knows no such person."""
    web = client(settings, token)
    fn = functools.partial(web.users_lookupByEmail, email=email)
    try:
        data = _data(await call("users.lookupByEmail", fn))
    except SlackError as exc:
        if exc.code == "users_not_found":
            return None
        raise
    user = data.get("user") or {}
    ident = user.get("id")
    return ident if _person(user) and isinstance(ident, str) and ident else None


async def user_email(settings: Settings, token: str, user_id: str) -> str | None:
    """The Slack user's email, if Slack holds a confirmed one (``users.info``, scope
    ``users:read.email``); None for bots and unconfirmed addresses."""
    web = client(settings, token)
    data = _data(await call("users.info", functools.partial(web.users_info, user=user_id)))
    user = data.get("user") or {}
    if not _person(user):
        return None
    email = (user.get("profile") or {}).get("email")
    return email if isinstance(email, str) and email else None
