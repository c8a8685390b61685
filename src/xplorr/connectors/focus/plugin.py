"""FOCUS export files in a local directory (``connector``), registered with the connectors'
registry: a bill only (no inventory, no connection to test)."""

from xplorr.cloud_accounts.models import Provider
from xplorr.connectors import lazily, register_provider

register_provider(
    Provider.FOCUS, label="FOCUS", sync=lazily("xplorr.connectors.focus.connector", "run")
)
