"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ADMINS, ANY, Access
from xplorr.alerts.models import AlertRule

ACCESS: dict[tuple[str, str], Access] = {
    ("GET", "/api/v1/alerts"): ANY,
    ("POST", "/api/v1/alerts"): ADMINS,
    ("GET", "/api/v1/alerts/{alert_id}"): ANY,
    ("PATCH", "/api/v1/alerts/{alert_id}"): ADMINS,
    ("DELETE", "/api/v1/alerts/{alert_id}"): ADMINS,
}

TENANCY = {
    "/api/v1/alerts/{alert_id}": AlertRule,
}
