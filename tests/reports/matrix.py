"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ADMINS, ANY, Access
from xplorr.reports.models import DigestSetting, ScheduledReport

ACCESS: dict[tuple[str, str], Access] = {
    # Reports: every role reads (viewers included, product-notes.md 18); members and viewers
    # limited by account grants get reports of those accounts only.
    ("GET", "/api/v1/reports"): ANY,
    ("GET", "/api/v1/reports/pdf"): ANY,
    ("GET", "/api/v1/reports/excel"): ANY,
    ("GET", "/api/v1/reports/cost-summary"): ANY,
    # Scheduled reports: every role reads; owners and admins create, edit and delete.
    ("GET", "/api/v1/scheduled-reports"): ANY,
    ("POST", "/api/v1/scheduled-reports"): ADMINS,
    ("GET", "/api/v1/scheduled-reports/{report_id}"): ANY,
    ("PATCH", "/api/v1/scheduled-reports/{report_id}"): ADMINS,
    ("DELETE", "/api/v1/scheduled-reports/{report_id}"): ADMINS,
    # Digest settings: owners and admins only (the reference's "(admin)").
    ("GET", "/api/v1/digest-settings"): ADMINS,
    ("POST", "/api/v1/digest-settings"): ADMINS,
    ("PATCH", "/api/v1/digest-settings/{digest_id}"): ADMINS,
    ("DELETE", "/api/v1/digest-settings/{digest_id}"): ADMINS,
}

TENANCY = {
    "/api/v1/scheduled-reports/{report_id}": ScheduledReport,
    "/api/v1/digest-settings/{digest_id}": DigestSetting,
}
