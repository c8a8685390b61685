"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ANY, WRITERS, Access
from xplorr.recommendations.models import Recommendation

ACCESS: dict[tuple[str, str], Access] = {
    # Every role reads (grants limit members and viewers); members and above change a status.
    ("GET", "/api/v1/recommendations"): ANY,
    ("GET", "/api/v1/recommendations/{recommendation_id}"): ANY,
    ("PATCH", "/api/v1/recommendations/{recommendation_id}"): WRITERS,
    ("POST", "/api/v1/recommendations/{recommendation_id}/snooze"): WRITERS,
}

TENANCY = {
    "/api/v1/recommendations/{recommendation_id}": Recommendation,
    "/api/v1/recommendations/{recommendation_id}/snooze": Recommendation,
}
