"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ANY, WRITERS, Access
from xplorr.anomalies.models import Anomaly

ACCESS: dict[tuple[str, str], Access] = {
    # Every role reads (grants limit members and viewers); members and above change a status.
    ("GET", "/api/v1/anomalies"): ANY,
    ("GET", "/api/v1/anomalies/{anomaly_id}"): ANY,
    ("PATCH", "/api/v1/anomalies/{anomaly_id}"): WRITERS,
}

TENANCY = {
    "/api/v1/anomalies/{anomaly_id}": Anomaly,
}
