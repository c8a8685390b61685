"""Events about syncs (``core.events``)."""

import uuid
from typing import ClassVar

from xplorr.core.events import Event


class SyncSucceeded(Event):
    """A sync of one cloud account succeeded (``record_success``), whether it imported billing
    periods (each of which also emitted ``CostDataChanged``) or found them all unchanged.
    What must follow every sync, not only a change of cost data, subscribes here (the
    inventory refresh)."""

    name: ClassVar[str] = "sync.succeeded"
    cloud_account_id: uuid.UUID
    periods_imported: int
