"""POST /cloud-accounts/test against moto's server: the identity reached (keys, or an assumed
role), each permission group ok or denied with AWS's code, refused credentials answered
readably, nothing saved, never a secret in the answer; and the SDK's own ``AWS_ENDPOINT_URL``
(and ``AWS_ENDPOINT_URL_<SERVICE>``) reaching moto and a Billing/Invoicing double with no
Xplorr setting."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.aws.moto_server import MotoAws
from tests.conftest import ClientFor
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core.audit import AuditEntry
from xplorr.users.models import User

URL = "/cloud-accounts/test"


def _body(account: str, credentials: dict) -> dict:
    return {"provider": "aws", "provider_account_id": account, "credentials": credentials}


async def test_access_keys_reach_their_account_and_each_group_answers(
    moto: MotoAws, client_for: ClientFor, admin: User, db: AsyncSession
) -> None:
    moto.client("s3").create_bucket(Bucket="acme-billing")
    creds = moto.key_credentials(exportBucket="acme-billing", exportPrefix="cur")
    r = await client_for(admin).post(URL, json=_body(moto.account_id, creds))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["ok"] is True
    assert out["account_id"] == moto.account_id
    assert out["account_matches"] is True
    status = {c["operation"]: c["status"] for c in out["checks"]}
    assert status["ce:GetCostAndUsage"] == "ok"
    assert status["ec2:DescribeRegions"] == "ok"
    assert status["cloudwatch:GetMetricStatistics"] == "ok"
    assert status["s3:ListBucket"] == "ok"
    # moto does not implement the Price List API: an error with its code, not a crash
    groups = {c["group"]: c for c in out["checks"]}
    assert list(groups) == [
        "CostAndCommitments",
        "Commitments",
        "Credits",
        "Inventory",
        "IdleDetection",
        "Pricing",
        "Invoices",
        "AuditLog",
        "Export",
    ]
    # moto implements neither the Price List, Billing nor Invoicing API: an error with its
    # code, not a crash
    for group in ("Pricing", "Credits", "Invoices"):
        assert groups[group]["status"] in {"ok", "error"}, groups[group]
    assert groups["Credits"]["operation"] == "billing:GetCredits"
    assert groups["Invoices"]["operation"] == "invoicing:ListInvoiceSummaries"
    assert moto.secret_access_key not in r.text
    await db.rollback()
    assert await db.scalar(select(func.count()).select_from(CloudAccount)) == 0  # not saved
    audited = await db.scalar(
        select(AuditEntry).where(AuditEntry.action == "cloud_account.connection_tested")
    )
    assert audited is not None


async def test_an_assumed_role_is_reported_with_its_session(
    moto: MotoAws, client_for: ClientFor, admin: User
) -> None:
    creds = {"roleName": "xplorr-readonly", "externalId": "xplorr-ext-abc123"}
    r = await client_for(admin).post(URL, json=_body("222222222222", creds))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["ok"] is True
    assert out["arn"] == "arn:aws:sts::222222222222:assumed-role/xplorr-readonly/xplorr-test"
    assert out["account_matches"] is True


async def test_denied_groups_are_named_with_the_aws_code(
    moto: MotoAws, client_for: ClientFor, admin: User
) -> None:
    keys = moto.iam_user(
        "partial",
        [
            {
                "Effect": "Allow",
                "Action": ["sts:GetCallerIdentity", "ec2:DescribeRegions"],
                "Resource": "*",
            }
        ],
    )
    moto.enforce_iam()
    r = await client_for(admin).post(URL, json=_body(moto.account_id, keys))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["ok"] is True
    by = {c["operation"]: c for c in out["checks"]}
    assert by["ec2:DescribeRegions"]["status"] == "ok"
    denied = by["ce:GetCostAndUsage"]
    assert denied["status"] == "denied"
    assert denied["group"] == "CostAndCommitments"
    assert denied["error_code"] == "AccessDenied"
    assert keys["secretAccessKey"] not in r.text


async def test_refused_keys_answer_not_ok_with_the_reason(
    moto: MotoAws, client_for: ClientFor, admin: User
) -> None:
    moto.enforce_iam()  # moto's default keys are no IAM user's
    r = await client_for(admin).post(URL, json=_body(moto.account_id, moto.key_credentials()))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["ok"] is False
    assert out["error_code"] == "InvalidClientTokenId"
    assert out["error"].startswith("sts:GetCallerIdentity failed: InvalidClientTokenId")
    assert out["checks"] == []
    assert moto.secret_access_key not in r.text


async def test_bad_input_and_other_providers_are_422(
    moto: MotoAws, client_for: ClientFor, admin: User
) -> None:
    client = client_for(admin)
    r = await client.post(URL, json=_body("12345", {"roleName": "x"}))
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "VALIDATION_ERROR"
    r = await client.post(URL, json=_body(moto.account_id, {"accessKeyId": "AKIA"}))
    assert r.status_code == 422
    r = await client.post(
        URL, json={"provider": "demo", "provider_account_id": "x", "credentials": {}}
    )
    assert r.status_code == 422
    # The providers whose plugin registers a connection test (xplorr.connectors)
    assert r.json()["error"]["details"] == [
        {
            "field": "provider",
            "message": "Test connection supports aws, azure, focus and gcp in this version.",
        }
    ]


class _BillingDouble(BaseHTTPRequestHandler):
    """The Billing and Invoicing APIs (JSON 1.0, ``X-Amz-Target``), which moto lacks:
    ``GetCredits`` refused as AWS refuses a member account, ``ListInvoiceSummaries`` empty."""

    seen: ClassVar[list[tuple[str, dict]]] = []

    def do_POST(self) -> None:
        target = self.headers.get("X-Amz-Target", "")
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        type(self).seen.append((target, body))
        if target == "AWSBilling.GetCredits":
            status, answer = 400, {"__type": "AccessDeniedException", "message": "not a payer"}
        else:
            status, answer = 200, {"InvoiceSummaries": []}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def billing_double() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BillingDouble)
    _BillingDouble.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_the_sdks_own_endpoint_variables_are_followed(
    moto_server: str,
    aws_environment: None,
    billing_double: str,
    monkeypatch: pytest.MonkeyPatch,
    client_for: ClientFor,
    admin: User,
) -> None:
    """No ``XPLORR_AWS_ENDPOINT_URL`` (this test does not ask for ``moto``, so its settings
    leave it unset): the SDK reads ``AWS_ENDPOINT_URL`` for every service and
    ``AWS_ENDPOINT_URL_<SERVICE>`` for one, as a deployment behind a proxy or a LocalStack
    would set them. Credits is denied with AWS's code; Invoices answers."""
    moto = MotoAws(moto_server)
    moto.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BILLING", billing_double)
    monkeypatch.setenv("AWS_ENDPOINT_URL_INVOICING", billing_double)
    r = await client_for(admin).post(URL, json=_body(moto.account_id, moto.key_credentials()))
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["ok"], out["account_id"]) == (True, moto.account_id)  # STS: moto
    by = {c["group"]: c for c in out["checks"]}
    assert by["CostAndCommitments"]["status"] == by["Inventory"]["status"] == "ok"
    credits = by["Credits"]
    assert (credits["operation"], credits["status"], credits["error_code"]) == (
        "billing:GetCredits",
        "denied",
        "AccessDeniedException",
    )
    assert by["Invoices"]["status"] == "ok"
    targets = dict(_BillingDouble.seen)
    assert targets["AWSBilling.GetCredits"]["accountId"] == moto.account_id
    assert targets["Invoicing.ListInvoiceSummaries"]["Selector"] == {
        "ResourceType": "ACCOUNT_ID",
        "Value": moto.account_id,
    }
    moto.reset()
