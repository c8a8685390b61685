"""Events about cost data (``core.events``)."""

import uuid
from datetime import date
from typing import ClassVar

from xplorr.core.events import Event


class CostDataChanged(Event):
    """Some days of one cloud account's costs were replaced (an import, a sync, a connector, a
    Kubernetes post: every write goes through ``ingest.pipeline``, which emits this in the
    import's transaction). ``first_day``..``last_day`` covers every usage day whose rows may
    differ: the days imported and the days the replaced data had."""

    name: ClassVar[str] = "costs.data_changed"
    cloud_account_id: uuid.UUID
    first_day: date
    last_day: date
