"""Events about organizations (``core.events``)."""

from typing import ClassVar

from xplorr.core.events import Event


class OrgClosing(Event):
    """The owner closed the organization: its users and tokens are already cut off, and every
    subscriber cleans up (the purge deletes the org and, through foreign keys, every tenant
    row). Not scoped: a job carrying the org would be deleted by the purge under its own
    feet, so subscribers read the org from the event."""

    name: ClassVar[str] = "orgs.closing"
    scoped: ClassVar[bool] = False
