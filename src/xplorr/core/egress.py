"""Outbound HTTP to addresses users give us (Slack and Teams webhooks), safe from SSRF.

Security guide 1.11 (OWASP SSRF Prevention): a URL is checked when it is stored
(``validate_url``: the answer names the field) and again when it is used (``post_json``):

- ``https`` only; ``http`` only to a host listed in ``XPLORR_EGRESS_ALLOW_HOSTS`` (tests list
  their loopback receivers there; an operator may list an internal relay);
- no user info, no fragment, at most 2,048 characters, the default port (any port for an
  allowed host); optionally a host and path-prefix allowlist (Slack: ``hooks.slack.com`` and
  ``/services/``);
- the name is resolved and EVERY address must be global (``ipaddress``' ``is_global``: no
  loopback, private, link-local 169.254/16 including the cloud metadata address, CGNAT, ULA,
  IPv4-mapped forms of those), unless the host is allowed;
- the request connects to the address that was checked (the URL's host is sent as ``Host`` and
  as TLS SNI, so the certificate is still verified for the name): a DNS answer that changes
  between the check and the connection (rebinding) cannot redirect it;
- redirects are never followed (a 3xx is an answer like any other), 10 s timeouts, the answer
  read up to 64 KiB, no proxy from the environment.

Errors name the URL's host at most, never the whole URL (webhook URLs are secrets).
"""

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

import anyio
import httpx

from xplorr.core.settings import Settings

MAX_URL_LENGTH = 2048
TIMEOUT_SECONDS = 10.0
MAX_ANSWER_BYTES = 64 * 1024
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class EgressRefused(ValueError):
    """The URL may not be called: the message says why (safe to show the user)."""


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int
    text: str  # at most MAX_ANSWER_BYTES, decoded leniently


def _allowed_host(settings: Settings, host: str) -> bool:
    return host.lower().rstrip(".") in {h.lower().rstrip(".") for h in settings.egress_allow_hosts}


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def address_is_public(ip: IPAddress) -> bool:
    """Global unicast only; an IPv4-mapped/compatible IPv6 address is judged as its IPv4."""
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return address_is_public(mapped)
    return bool(ip.is_global) and not ip.is_multicast


def check_url(
    url: str,
    settings: Settings,
    *,
    hosts: Sequence[str] = (),
    path_prefixes: Sequence[str] = (),
) -> SplitResult:
    """The URL's syntax and host rules (no DNS): -> its parts, or ``EgressRefused``.
    ``hosts``/``path_prefixes``: the only hosts and paths accepted (empty: any), except for a
    host in ``XPLORR_EGRESS_ALLOW_HOSTS``."""
    if len(url) > MAX_URL_LENGTH:
        raise EgressRefused(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise EgressRefused("The URL is not valid.") from exc
    host = (parts.hostname or "").lower()
    if not host:
        raise EgressRefused("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise EgressRefused("The URL may not contain a user name or password.")
    if parts.fragment:
        raise EgressRefused("The URL may not contain a fragment (#...).")
    allowed = _allowed_host(settings, host)
    if parts.scheme != "https" and not (parts.scheme == "http" and allowed):
        raise EgressRefused("The URL must start with https://.")
    if allowed:
        return parts
    if port not in (None, 443):
        raise EgressRefused("The URL must use the default HTTPS port.")
    literal = _ip_literal(host)
    if literal is not None and not address_is_public(literal):
        raise EgressRefused(f"The URL points to a private or reserved address ({host}).")
    if hosts and host not in {h.lower() for h in hosts}:
        raise EgressRefused(f"The URL's host must be {' or '.join(hosts)}.")
    if path_prefixes and not any(parts.path.startswith(p) for p in path_prefixes):
        raise EgressRefused(f"The URL's path must start with {' or '.join(path_prefixes)}.")
    return parts


async def resolve(
    parts: SplitResult, settings: Settings, *, unresolved_ok: bool = False
) -> list[IPAddress]:
    """The addresses the URL's host resolves to, every one of them public unless the host is
    allowed; ``EgressRefused`` otherwise, or when it does not resolve (``unresolved_ok``: an
    empty list then, for a check at creation that the send will repeat)."""
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        if unresolved_ok:
            return []
        raise EgressRefused(f"The URL's host {host} does not resolve.") from exc
    found: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in found:
            found.append(ip)
    if not found:
        raise EgressRefused(f"The URL's host {host} does not resolve.")
    if not _allowed_host(settings, host):
        for ip in found:
            if not address_is_public(ip):
                raise EgressRefused(
                    f"The URL's host {host} resolves to a private or reserved address ({ip})."
                )
    return found


async def validate_url(
    url: str,
    settings: Settings,
    *,
    hosts: Sequence[str] = (),
    path_prefixes: Sequence[str] = (),
) -> str:
    """``check_url`` and ``resolve``: what a service calls before storing a webhook URL. A
    name that does not resolve from here is accepted (a server without outside DNS can still be
    configured); every send resolves and checks it again."""
    parts = check_url(url, settings, hosts=hosts, path_prefixes=path_prefixes)
    await resolve(parts, settings, unresolved_ok=True)
    return urlunsplit(parts)


def _pinned(parts: SplitResult, ip: IPAddress) -> tuple[str, str]:
    """(URL with the checked address as host, the Host header)."""
    literal = f"[{ip}]" if isinstance(ip, ipaddress.IPv6Address) else str(ip)
    default = 443 if parts.scheme == "https" else 80
    port = parts.port or default
    netloc = literal if port == default else f"{literal}:{port}"
    host_header = parts.hostname or ""
    if ":" in host_header:
        host_header = f"[{host_header}]"
    if port != default:
        host_header = f"{host_header}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")), host_header


async def post_json(
    url: str,
    body: Any,
    settings: Settings,
    *,
    hosts: Sequence[str] = (),
    path_prefixes: Sequence[str] = (),
    transport: httpx.AsyncBaseTransport | None = None,
) -> Answer:
    """POST ``body`` as JSON to ``url`` under the rules above. -> the answer (any status:
    the caller decides what is success); ``EgressRefused`` when the URL may not be called;
    ``httpx.HTTPError`` when the connection or the exchange failed (worth a retry)."""
    parts = check_url(url, settings, hosts=hosts, path_prefixes=path_prefixes)
    addresses = await resolve(parts, settings)
    pinned_url, host_header = _pinned(parts, addresses[0])
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    async with httpx.AsyncClient(
        follow_redirects=False,
        timeout=httpx.Timeout(TIMEOUT_SECONDS),
        trust_env=False,
        transport=transport,
    ) as client:
        request = client.build_request(
            "POST",
            pinned_url,
            json=body,
            headers={"Host": host_header, "User-Agent": "Xplorr-Notifications/1"},
            extensions=extensions,
        )
        response = await client.send(request, stream=True)
        try:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size >= MAX_ANSWER_BYTES:
                    break
        finally:
            await response.aclose()
    text = b"".join(chunks)[:MAX_ANSWER_BYTES].decode("utf-8", errors="replace")
    return Answer(response.status_code, text)
