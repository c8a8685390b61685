"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ADMINS, ANY, PUBLIC, Access

ACCESS: dict[tuple[str, str], Access] = {
    # Installing and removing the app are admin actions (api-reference "(admin)"); its status is
    # readable by every role. The OAuth callback comes from the admin's browser without a
    # token (its state is the credential); interactions come from Slack (signed).
    ("GET", "/api/v1/slack/install"): ADMINS,
    ("GET", "/api/v1/slack/oauth_redirect"): PUBLIC,
    ("GET", "/api/v1/slack/installation"): ANY,
    ("DELETE", "/api/v1/slack/installation"): ADMINS,
    ("POST", "/api/v1/slack/interactions"): PUBLIC,
}
