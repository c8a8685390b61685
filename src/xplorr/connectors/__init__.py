"""Connectors: where a cloud account's billing data comes from, one per provider.

A connector is ``async def run(ctx, account, credentials) -> ImportSummary``: it reads the
account's source with the decrypted ``credentials`` and hands the rows to ``ingest.pipeline``
with ``ctx.target``. It holds no transaction while it reads or downloads (the pipeline stages
the rows locally first, then replaces each billing period in a short transaction of the
target's); a read of its own goes in ``async with ctx.target.transaction() as db``. Connectors
never commit and never write cost tables themselves (ARCHITECTURE.md: data flows one way).

Errors: ``ConnectorError`` means retrying cannot help (bad credentials, a refused path, a
provider without a connector, bad data: connectors turn ``IngestError`` into it): the sync fails
at once with its message, which operators read,
so it says what to fix and never carries a secret. Anything else (an ``OSError`` on a file
share, a database hiccup) is treated as transient and retried by the job runner.

Registered today: ``focus`` (FOCUS export files in a local directory), ``demo`` (generated
data), ``aws`` (Data Exports in S3, or Cost Explorer: ``connectors.aws``), ``azure`` (Cost
Management exports in Blob storage, or the Query API: ``connectors.azure``) and ``gcp`` (the
BigQuery billing export: ``connectors.gcp``): every provider. A provider added to the enum
without a connector fails its syncs with ``UNAVAILABLE``'s message, pointing at a FOCUS export.
"""

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.core.settings import Settings

if TYPE_CHECKING:
    from xplorr.ingest.pipeline import ImportSummary, Target


class ConnectorError(Exception):
    """A permanent sync failure with a readable reason (no secret in the message)."""


@dataclass(frozen=True, slots=True)
class SyncContext:
    """What a connector may use: where the import writes (``ingest.pipeline.Target``: a sync's
    transaction per billing period, or one session committed by ``xplorr demo``), the settings,
    and an optional progress callback passed through to the ingest pipeline."""

    target: "Target"
    settings: Settings
    progress: Any = None


Connector = Callable[[SyncContext, CloudAccount, dict[str, Any]], Awaitable["ImportSummary"]]

# Modules that register a connector when imported (kept lazy: the API process never needs
# pyarrow or a cloud SDK, only workers and the CLI do).
MODULES: dict[Provider, str] = {
    Provider.FOCUS: "xplorr.connectors.focus.connector",
    Provider.DEMO: "xplorr.connectors.demo.connector",
    Provider.AWS: "xplorr.connectors.aws.connector",
    Provider.AZURE: "xplorr.connectors.azure.connector",
    Provider.GCP: "xplorr.connectors.gcp.connector",
}
REGISTRY: dict[Provider, Connector] = {}

_LABELS = {Provider.AWS: "AWS", Provider.AZURE: "Azure", Provider.GCP: "GCP"}
UNAVAILABLE = (
    "{label} billing sync is not available in this version; connect a FOCUS export "
    "(provider focus) instead."
)


def register(provider: Provider) -> Callable[[Connector], Connector]:
    """``@register(Provider.FOCUS)`` on a connector's ``run``."""

    def decorate(run: Connector) -> Connector:
        REGISTRY[provider] = run
        return run

    return decorate


def connector_for(provider: Provider) -> Connector:
    """The provider's connector, or ``ConnectorError`` saying why there is none."""
    if provider not in REGISTRY and provider in MODULES:
        importlib.import_module(MODULES[provider])
    if provider in REGISTRY:
        return REGISTRY[provider]
    label = _LABELS.get(provider, str(provider))
    raise ConnectorError(UNAVAILABLE.format(label=label))
