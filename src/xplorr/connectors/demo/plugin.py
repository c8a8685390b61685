"""Demo accounts: generated FOCUS data (``connector``) and an inventory read from that bill
(``inventory.bill``), registered with the connectors' registry; no connection to test."""

from xplorr.cloud_accounts.models import Provider
from xplorr.connectors import lazily, register_provider

register_provider(
    Provider.DEMO,
    label="Demo",
    sync=lazily("xplorr.connectors.demo.connector", "run"),
    collect_inventory=lazily("xplorr.inventory.bill", "collect"),
)
