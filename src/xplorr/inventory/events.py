"""Events about the inventory (``core.events``)."""

import uuid
from typing import ClassVar

from xplorr.core.events import Event


class InventoryRefreshed(Event):
    """One cloud account's inventory refresh finished (``inventory.refresh``, after every cost
    change of the account and every sync): its resources as collected, or, for a provider
    without a collector, nothing new; what reads the inventory (recommendations) follows up on
    this rather than on ``CostDataChanged``, which the refresh itself is still answering."""

    name: ClassVar[str] = "inventory.refreshed"
    cloud_account_id: uuid.UUID
