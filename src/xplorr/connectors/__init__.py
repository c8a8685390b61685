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

What a provider brings is registered by its own package: ``xplorr.connectors.<name>.plugin``
calls ``register_provider`` with its sync source, its inventory collector and its connection
test (each optional). ``plugins()`` finds every such module (no list of providers anywhere), so
the sync job, the inventory refresh and the connection test know a new provider without an edit
(its ``Provider`` value and credential checks still live in ``cloud_accounts``). The plugin
modules are light: they name their connector, collector and probe through ``lazily``, imported
when first called (the API process never needs pyarrow or a cloud SDK unless it tests a
connection). A provider without a sync source fails its syncs with ``UNAVAILABLE``'s message,
pointing at a FOCUS export; one without a connection test gets a readable refusal from
``POST /cloud-accounts/test``.
"""

import importlib
import importlib.util
import pkgutil
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.core.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from xplorr.core.jobs.registry import JobContext
    from xplorr.core.tenancy import Principal
    from xplorr.ingest.pipeline import ImportSummary, Target
    from xplorr.inventory.service import SnapshotResult


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


@dataclass(frozen=True, slots=True)
class Check:
    """One permission group tried by a connection test."""

    group: str  # the policy's Sid, or the role's name
    operation: str  # the action tried
    status: str  # ok | denied | error
    error_code: str | None = None
    message: str | None = None


@dataclass(slots=True)
class ProbeResult:
    """What a connection test found (``POST /cloud-accounts/test``)."""

    ok: bool
    account_id: str | None = None
    arn: str | None = None
    account_matches: bool | None = None
    error: str | None = None
    error_code: str | None = None
    checks: list[Check] = field(default_factory=list)


class Refreshed(Protocol):
    """What an inventory collector recorded: the snapshot's counts and what it could not read."""

    @property
    def result(self) -> "SnapshotResult": ...
    @property
    def warnings(self) -> Sequence[str]: ...


Connector = Callable[[SyncContext, CloudAccount, dict[str, Any]], Awaitable["ImportSummary"]]
# Collect the account's inventory and record it (inventory.service.apply_snapshot) in the job's
# unit of work; None when the account was disconnected meanwhile.
InventoryCollector = Callable[["JobContext", CloudAccount], Awaitable[Refreshed | None]]
# (session, settings, caller, provider account id, validated credentials): nothing saved.
ConnectionTest = Callable[
    ["AsyncSession", Settings, "Principal", str, dict[str, Any]], Awaitable[ProbeResult]
]


@dataclass(slots=True)
class ProviderPlugin:
    """What one provider brings (``register_provider``)."""

    provider: Provider
    label: str  # how messages name it: "AWS", "Azure", "GCP"...
    sync: Connector | None = None
    collect_inventory: InventoryCollector | None = None
    test_connection: ConnectionTest | None = None


PLUGINS: dict[Provider, ProviderPlugin] = {}
_discovered = False
UNAVAILABLE = (
    "{label} billing sync is not available in this version; connect a FOCUS export "
    "(provider focus) instead."
)


@dataclass(frozen=True, slots=True)
class Lazily:
    """The async function ``function`` of ``module``, imported when first called (``lazily``)."""

    module: str
    function: str

    def resolve(self) -> Callable[..., Awaitable[Any]]:
        found: Callable[..., Awaitable[Any]] = getattr(
            importlib.import_module(self.module), self.function
        )
        return found

    async def __call__(self, *args: Any) -> Any:
        return await self.resolve()(*args)


def lazily(module: str, function: str) -> Lazily:
    """A plugin's connector, collector or probe, registered without loading its SDK: imported
    when first called. The module must exist (checked now, without importing it)."""
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:  # a parent package missing
        spec = None
    if spec is None:
        raise ValueError(f"no module {module!r}")
    return Lazily(module, function)


def register_provider(
    provider: Provider,
    *,
    label: str,
    sync: Connector | None = None,
    collect_inventory: InventoryCollector | None = None,
    test_connection: ConnectionTest | None = None,
) -> ProviderPlugin:
    """Called once by each ``xplorr.connectors.<name>.plugin`` module. A second registration
    of the same provider is an error, not a silent replacement."""
    if provider in PLUGINS:
        raise ValueError(f"provider {provider.value!r} is already registered")
    plugin = ProviderPlugin(provider, label, sync, collect_inventory, test_connection)
    PLUGINS[provider] = plugin
    return plugin


def plugins() -> dict[Provider, ProviderPlugin]:
    """Every provider's plugin: imports each ``xplorr.connectors.<package>.plugin`` the first
    time (cheap: they import nothing heavy)."""
    global _discovered
    if not _discovered:
        for info in pkgutil.iter_modules(__path__):
            name = f"{__name__}.{info.name}.plugin"
            if info.ispkg and importlib.util.find_spec(name) is not None:
                importlib.import_module(name)
        _discovered = True
    return PLUGINS


def plugin_for(provider: Provider) -> ProviderPlugin | None:
    return plugins().get(provider)


def connector_for(provider: Provider) -> Connector:
    """The provider's sync source, or ``ConnectorError`` saying why there is none."""
    plugin = plugin_for(provider)
    if plugin is not None and plugin.sync is not None:
        return plugin.sync
    label = plugin.label if plugin is not None else str(provider)
    raise ConnectorError(UNAVAILABLE.format(label=label))
