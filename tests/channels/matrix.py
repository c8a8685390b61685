"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ADMINS, Access
from xplorr.channels.models import ChannelConfig

ACCESS: dict[tuple[str, str], Access] = {
    # Channel routing is configured by owners and admins (api-reference "(admin)").
    ("GET", "/api/v1/channels"): ADMINS,
    ("POST", "/api/v1/channels"): ADMINS,
    ("PATCH", "/api/v1/channels/{channel_id}"): ADMINS,
    ("DELETE", "/api/v1/channels/{channel_id}"): ADMINS,
}

TENANCY = {
    "/api/v1/channels/{channel_id}": ChannelConfig,
}
