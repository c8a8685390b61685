"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ADMINS, ANY, Access

ACCESS: dict[tuple[str, str], Access] = {
    # Every role reads the org's settings (webhooks masked); owner and admins change them and
    # send the Slack test (api-reference: "(admin)").
    ("GET", "/api/v1/settings"): ANY,
    ("PATCH", "/api/v1/settings"): ADMINS,
    ("POST", "/api/v1/settings/slack/test"): ADMINS,
}

TENANCY: dict[str, type] = {}
