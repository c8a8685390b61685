"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import PUBLIC, Access

ACCESS: dict[tuple[str, str], Access] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
}
