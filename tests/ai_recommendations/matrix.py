"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ANY, Access

ACCESS: dict[tuple[str, str], Access] = {
    # Insights over the caller's visible figures: every role (grants narrow the figures).
    ("GET", "/api/v1/ai-recommendations"): ANY,
}
