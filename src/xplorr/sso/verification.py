"""Proof that an organization controls an email domain it claims for single sign-on: a DNS TXT
record at ``_xplorr-challenge.<domain>`` holding ``xplorr-verification=<the claim's token>``.

Lookups go to the system's resolvers, or to ``XPLORR_SSO_DNS_NAMESERVER`` (and
``XPLORR_SSO_DNS_PORT``) when set. A lookup that gets no answer at all (timeout, refused, SERVFAIL,
no resolver configured) is ``DnsUnavailable``: it says nothing about the record, so the caller
changes nothing. NXDOMAIN and an empty answer mean "no record".
"""

import anyio
import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver
from dns.rdtypes.ANY.TXT import TXT

from xplorr.core.settings import Settings

RECORD_PREFIX = "_xplorr-challenge"
VALUE_PREFIX = "xplorr-verification="
# The longest domain whose record name still fits in a DNS name (253 characters as text).
MAX_DOMAIN_LENGTH = 253 - len(RECORD_PREFIX) - 1


class DnsUnavailable(Exception):
    """The resolver gave no answer; the reason names what failed."""


def record_name(domain: str) -> str:
    return f"{RECORD_PREFIX}.{domain}"


def record_value(token: str) -> str:
    return f"{VALUE_PREFIX}{token}"


def _resolver(settings: Settings) -> dns.asyncresolver.Resolver:
    try:
        if settings.sso_dns_nameserver:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.port = settings.sso_dns_port
            resolver.nameservers = [settings.sso_dns_nameserver]
        else:
            resolver = dns.asyncresolver.Resolver()  # /etc/resolv.conf
    except dns.exception.DNSException as exc:
        raise DnsUnavailable(f"no DNS resolver configured ({type(exc).__name__})") from exc
    resolver.timeout = resolver.lifetime = settings.sso_dns_timeout_seconds
    return resolver


async def _txt_values(resolver: dns.asyncresolver.Resolver, domain: str) -> list[str]:
    try:
        name = dns.name.from_text(record_name(domain))
    except dns.exception.DNSException:
        return []  # no such name can exist (claims older than the length check may be too long)
    try:
        answer = await resolver.resolve(name, dns.rdatatype.TXT, search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.DNSException, OSError) as exc:
        raise DnsUnavailable(
            f"the lookup of {record_name(domain)} TXT failed: {type(exc).__name__}: {exc}"[:300]
        ) from exc
    # A TXT record longer than 255 bytes arrives as several strings: one value, concatenated.
    return [
        b"".join(rdata.strings).decode("utf-8", "replace")
        for rdata in answer
        if isinstance(rdata, TXT)
    ]


async def txt_values(settings: Settings, domains: list[str]) -> dict[str, list[str]]:
    """The TXT values at each domain's record name, looked up at once; ``DnsUnavailable`` if
    any lookup got no answer (then none of the results may be acted on)."""
    if not domains:
        return {}
    resolver = _resolver(settings)
    found: dict[str, list[str]] = {}
    failures: list[DnsUnavailable] = []

    async def look_up(domain: str) -> None:
        try:
            found[domain] = await _txt_values(resolver, domain)
        except DnsUnavailable as exc:
            failures.append(exc)

    async with anyio.create_task_group() as group:
        for domain in domains:
            group.start_soon(look_up, domain)
    if failures:
        raise failures[0]
    return found
