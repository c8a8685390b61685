"""``/cloud-accounts``: connect, list, read, update, disconnect, server AWS config.

Every endpoint: happy path, 401, 403 for roles that may not write, 404 for another org's id (row
untouched), 422 per provider shape, 409, the 20/hour connect limit, credentials never in answers
or logs, and a disconnect that deletes the account's cost data and nobody else's."""

import json
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import AppWith, ClientFor, asgi_client
from tests.factories.cloud_accounts import grant, make_account
from tests.factories.costs import record_imports
from tests.factories.users import make_user, token_for
from xplorr.cloud_accounts.credentials import decrypt_credentials
from xplorr.cloud_accounts.models import AccountGrant, CloudAccount, Provider
from xplorr.core.audit import AuditEntry
from xplorr.core.crypto import OrgDataKey
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Role
from xplorr.costs import store
from xplorr.costs.models import CostRecord, CostRollup
from xplorr.orgs.models import Org
from xplorr.users.models import User

AZURE_SECRET = "Az~S3cr3t-value-that-must-never-leak"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GCP_PRIVATE_KEY = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg-never-leak\n-----END PRIVATE KEY-----\n"
)
SUB = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
KEYFILE = {
    "type": "service_account",
    "project_id": "acme-billing-1",
    "private_key_id": "abc123",
    "private_key": GCP_PRIVATE_KEY,
    "client_email": "xplorr@acme-billing-1.iam.gserviceaccount.com",
}
AWS_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)
SECRETS = (AZURE_SECRET, AWS_SECRET, "MIIEvQIBADANBg-never-leak")


def azure_body(**credentials: Any) -> dict[str, Any]:
    creds = {
        "clientId": "11111111-2222-3333-4444-555555555555",
        "tenantId": "66666666-7777-8888-9999-000000000000",
        "clientSecret": AZURE_SECRET,
        "subscriptionId": SUB,
        **credentials,
    }
    return {
        "provider": "azure",
        "name": "Azure prod",
        "provider_account_id": SUB,
        "credentials": {k: v for k, v in creds.items() if v is not None},
    }


def gcp_body(**credentials: Any) -> dict[str, Any]:
    creds = {"projectId": "acme-billing-1", "keyfileJson": json.dumps(KEYFILE), **credentials}
    return {
        "provider": "gcp",
        "name": "GCP billing",
        "provider_account_id": "acme-billing-1",
        "credentials": {k: v for k, v in creds.items() if v is not None},
    }


def aws_body(account: str = "123456789012", **credentials: Any) -> dict[str, Any]:
    return {
        "provider": "aws",
        "name": "AWS payer",
        "provider_account_id": account,
        "credentials": credentials,
    }


@pytest.fixture
def exports(settings: Settings) -> Path:
    """The default FOCUS root (``DATA_DIR/exports``) with one export directory in it."""
    root = settings.data_dir / "exports"
    (root / "aws-focus").mkdir(parents=True)
    return root


def _assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


async def _account(db: AsyncSession, ident: str | uuid.UUID) -> CloudAccount | None:
    db.expunge_all()
    return await db.get(CloudAccount, uuid.UUID(str(ident)))


async def _audit(db: AsyncSession, action: str) -> list[AuditEntry]:
    rows = await db.scalars(select(AuditEntry).where(AuditEntry.action == action))
    return list(rows.all())


class TestConnect:
    @pytest.mark.parametrize(
        ("body", "stored", "masked"),
        [
            pytest.param(
                azure_body(),
                {
                    "clientId": "11111111-2222-3333-4444-555555555555",
                    "tenantId": "66666666-7777-8888-9999-000000000000",
                    "clientSecret": AZURE_SECRET,
                    "subscriptionId": SUB,
                },
                {
                    "clientId": "****5555",
                    "tenantId": "****0000",
                    "clientSecret": "********",
                    "subscriptionId": "****e1f0",
                },
                id="azure",
            ),
            pytest.param(
                aws_body(roleName="xplorr-readonly", externalId="xplorr-ext-abc123def456"),
                {
                    "roleName": "xplorr-readonly",
                    "externalId": "xplorr-ext-abc123def456",
                    "region": "us-east-1",
                },
                {"roleName": "xplorr-readonly", "externalId": "****f456", "region": "us-east-1"},
                id="aws-role",
            ),
            pytest.param(
                aws_body(),
                {"roleName": "xplorr-readonly", "externalId": None, "region": "us-east-1"},
                {"roleName": "xplorr-readonly", "externalId": None, "region": "us-east-1"},
                id="aws-role-defaults",
            ),
            pytest.param(
                aws_body(
                    accessKeyId="AKIAIOSFODNN7EXAMPLE",
                    secretAccessKey=AWS_SECRET,
                    region="eu-west-1",
                ),
                {
                    "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
                    "secretAccessKey": AWS_SECRET,
                    "region": "eu-west-1",
                },
                {"accessKeyId": "****MPLE", "secretAccessKey": "********", "region": "eu-west-1"},
                id="aws-keys",
            ),
            pytest.param(
                gcp_body(datasetId="billing", tableId="gcp_billing_export_v1_0A1B2C_*"),
                {
                    "projectId": "acme-billing-1",
                    "keyfileJson": KEYFILE,
                    "billingDataset": "billing",
                    "billingTable": "gcp_billing_export_v1_0A1B2C_*",
                    "bigqueryLocation": "US",
                    "billingAccountId": None,
                    "regions": ["us-central1", "us-east1", "europe-west1"],
                },
                {
                    "projectId": "acme-billing-1",
                    "keyfileJson": "********",
                    "billingDataset": "billing",
                    "billingTable": "gcp_billing_export_v1_0A1B2C_*",
                    "bigqueryLocation": "US",
                    "billingAccountId": None,
                    "regions": ["us-central1", "us-east1", "europe-west1"],
                },
                id="gcp-aliases-and-defaults",
            ),
            pytest.param(
                gcp_body(
                    keyfileJson=KEYFILE,
                    billingDataset="billing_export",
                    bigqueryLocation="europe-west1",
                    billingAccountId="01ABCD-23EF45-6789AB",
                    regions=["europe-west1"],
                ),
                {
                    "projectId": "acme-billing-1",
                    "keyfileJson": KEYFILE,
                    "billingDataset": "billing_export",
                    "billingTable": "gcp_billing_export_v1_*",
                    "bigqueryLocation": "europe-west1",
                    "billingAccountId": "01ABCD-23EF45-6789AB",
                    "regions": ["europe-west1"],
                },
                {
                    "projectId": "acme-billing-1",
                    "keyfileJson": "********",
                    "billingDataset": "billing_export",
                    "billingTable": "gcp_billing_export_v1_*",
                    "bigqueryLocation": "europe-west1",
                    "billingAccountId": "****89AB",
                    "regions": ["europe-west1"],
                },
                id="gcp-object-keyfile",
            ),
            pytest.param(
                {"provider": "demo", "name": "Demo", "provider_account_id": "demo-1"},
                {},
                {},
                id="demo-empty",
            ),
            pytest.param(
                {
                    "provider": "demo",
                    "name": "Demo",
                    "provider_account_id": "demo-2",
                    "credentials": {"seed": 42},
                },
                {"seed": 42},
                {"seed": 42},
                id="demo-seed",
            ),
        ],
    )
    async def test_connect_each_provider(
        self,
        body: dict[str, Any],
        stored: dict[str, Any],
        masked: dict[str, Any],
        client_for: ClientFor,
        admin: User,
        db: AsyncSession,
        settings: Settings,
    ) -> None:
        r = await client_for(admin).post("/cloud-accounts", json=body)
        assert r.status_code == 201, r.text
        out = r.json()
        assert out["provider"] == body["provider"]
        assert out["name"] == body["name"]
        assert out["provider_account_id"] == body["provider_account_id"]
        assert out["status"] == "active"
        assert out["last_synced_at"] is None
        assert out["credentials"] == masked
        _assert_no_secret(r.text)
        account = await _account(db, out["id"])
        assert account is not None
        assert await decrypt_credentials(db, settings, account) == stored
        for secret in SECRETS:
            assert secret.encode() not in account.credentials_encrypted

    async def test_focus_path_is_resolved_inside_the_roots(
        self,
        client_for: ClientFor,
        owner: User,
        exports: Path,
        db: AsyncSession,
        settings: Settings,
    ) -> None:
        (exports / "link").symlink_to(exports / "aws-focus")
        body = {
            "provider": "focus",
            "name": "FOCUS exports",
            "provider_account_id": "payer-1",
            "credentials": {"path": str(exports / "link")},
        }
        r = await client_for(owner).post("/cloud-accounts", json=body)
        assert r.status_code == 201, r.text
        resolved = str((exports / "aws-focus").resolve())
        assert r.json()["credentials"] == {"path": resolved}
        account = await _account(db, r.json()["id"])
        assert account is not None
        assert await decrypt_credentials(db, settings, account) == {"path": resolved}

    async def test_audit_row_without_credentials(
        self, client_for: ClientFor, admin: User, db: AsyncSession
    ) -> None:
        r = await client_for(admin).post("/cloud-accounts", json=azure_body())
        assert r.status_code == 201
        (entry,) = await _audit(db, "cloud_account.connected")
        assert entry.resource_id == r.json()["id"]
        assert entry.actor_user_id == admin.id
        assert entry.details == {"provider": "azure", "provider_account_id": SUB}
        _assert_no_secret(json.dumps(entry.details))

    async def test_anonymous_is_401(self, anon: httpx.AsyncClient) -> None:
        assert (await anon.post("/cloud-accounts", json=azure_body())).status_code == 401

    @pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
    async def test_members_and_viewers_get_403(
        self, role: Role, client_for: ClientFor, db: AsyncSession, org: Org
    ) -> None:
        user = await make_user(db, org, role=role)
        r = await client_for(user).post("/cloud-accounts", json=azure_body())
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "FORBIDDEN"
        assert await db.scalar(select(func.count()).select_from(CloudAccount)) == 0

    async def test_duplicate_is_409(
        self, client_for: ClientFor, admin: User, other_admin: User, db: AsyncSession
    ) -> None:
        client = client_for(admin)
        assert (await client.post("/cloud-accounts", json=azure_body())).status_code == 201
        again = azure_body()
        again["provider_account_id"] = again["credentials"]["subscriptionId"] = SUB.upper()
        r = await client.post("/cloud-accounts", json=again)
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "CLOUD_ACCOUNT_EXISTS"
        # Another organization may connect the same subscription.
        assert (
            await client_for(other_admin).post("/cloud-accounts", json=azure_body())
        ).status_code == 201
        assert await db.scalar(select(func.count()).select_from(CloudAccount)) == 2

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            (azure_body(clientSecret=None), "credentials.clientSecret"),
            (azure_body(clientId="not-a-guid"), "credentials.clientId"),
            (azure_body(tenantId="not a tenant!"), "credentials.tenantId"),
            (
                azure_body(subscriptionId="00000000-0000-0000-0000-000000000000"),
                "credentials.subscriptionId",
            ),
            (azure_body(extra=AZURE_SECRET), "credentials.extra"),
            ({**azure_body(), "provider_account_id": "prod"}, "provider_account_id"),
            (aws_body("12345"), "provider_account_id"),
            (aws_body(roleName="Xplorr-ReadOnly"), "credentials.roleName"),
            (aws_body(region="moon-1"), "credentials.region"),
            (aws_body(accessKeyId="AKIAIOSFODNN7EXAMPLE"), "credentials.secretAccessKey"),
            (aws_body(secretAccessKey=AWS_SECRET), "credentials.accessKeyId"),
            (
                aws_body(accessKeyId="AKIAIOSFODNN7EXAMPLE", secretAccessKey="short"),
                "credentials.secretAccessKey",
            ),
            (gcp_body(keyfileJson=None), "credentials.keyfileJson"),
            (gcp_body(keyfileJson='{"type": "authorized_user"}'), "credentials.keyfileJson"),
            (gcp_body(keyfileJson="{not json " + GCP_PRIVATE_KEY), "credentials.keyfileJson"),
            (gcp_body(keyfileJson=[1, 2]), "credentials.keyfileJson"),
            (gcp_body(projectId=None), "credentials.projectId"),
            (gcp_body(projectId="other-project-9"), "credentials.projectId"),
            (
                gcp_body(regions=["us-east1", "us-west1", "europe-west1", "asia-east1"]),
                "credentials.regions",
            ),
            (gcp_body(regions=["us-east1", "us-east1"]), "credentials.regions"),
            (gcp_body(billingDataset="a", datasetId="b"), "credentials"),
            (gcp_body(billingAccountId="123"), "credentials.billingAccountId"),
            (gcp_body(bigqueryLocation="not a location"), "credentials.bigqueryLocation"),
            ({**gcp_body(), "provider_account_id": "X"}, "provider_account_id"),
            (
                {"provider": "focus", "name": "f", "provider_account_id": "p", "credentials": {}},
                "credentials.path",
            ),
            (
                {
                    "provider": "focus",
                    "name": "f",
                    "provider_account_id": "p",
                    "credentials": {"path": "/etc"},
                },
                "credentials.path",
            ),
            (
                {
                    "provider": "demo",
                    "name": "d",
                    "provider_account_id": "p",
                    "credentials": {"seed": "x"},
                },
                "credentials.seed",
            ),
            (
                {
                    "provider": "demo",
                    "name": "d",
                    "provider_account_id": "p",
                    "credentials": {"path": "/"},
                },
                "credentials.path",
            ),
            ({"provider": "oracle", "name": "o", "provider_account_id": "p"}, "provider"),
            ({**azure_body(), "name": "  "}, "name"),
            ({**azure_body(), "org_id": str(uuid.uuid4())}, "org_id"),
        ],
    )
    async def test_bad_shapes_are_422_naming_the_field(
        self, body: dict[str, Any], field: str, client_for: ClientFor, admin: User, db: AsyncSession
    ) -> None:
        r = await client_for(admin).post("/cloud-accounts", json=body)
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert field in [d["field"] for d in error["details"]]
        _assert_no_secret(r.text)
        assert await db.scalar(select(func.count()).select_from(CloudAccount)) == 0

    async def test_focus_paths_outside_the_roots_are_refused(
        self,
        client_for: ClientFor,
        admin: User,
        exports: Path,
        tmp_path: Path,
        settings: Settings,
    ) -> None:
        outside = tmp_path / "elsewhere"
        outside.mkdir()
        (exports / "escape").symlink_to(outside)
        cases = {
            str(exports / "missing"): "No such file",
            str(exports / "escape"): "XPLORR_FOCUS_ROOTS",
            str(exports / ".." / "elsewhere"): "XPLORR_FOCUS_ROOTS",
            str(outside): "XPLORR_FOCUS_ROOTS",
            # Outside the roots, existing or not, the answer is the same: no file oracle.
            str(outside / "no-such-file"): "XPLORR_FOCUS_ROOTS",
            "/etc/passwd": "XPLORR_FOCUS_ROOTS",
            str(exports / "a\x00b"): "NUL",
        }
        client = client_for(admin)
        for path, message in cases.items():
            body = {
                "provider": "focus",
                "name": "f",
                "provider_account_id": "p",
                "credentials": {"path": path},
            }
            r = await client.post("/cloud-accounts", json=body)
            assert r.status_code == 422, path
            (detail,) = r.json()["error"]["details"]
            assert detail["field"] == "credentials.path"
            assert message in detail["message"]
            assert path not in r.text
            if message == "XPLORR_FOCUS_ROOTS":  # the admin is told where paths may point
                assert f"allowed: {settings.focus_root_dirs[0]}." in detail["message"]

    @pytest.mark.parametrize("field", ["name", "provider_account_id"])
    @pytest.mark.parametrize("value", ["d\x00", "two\nlines", "   "])
    async def test_names_with_control_characters_or_blank_are_422(
        self, client_for: ClientFor, admin: User, db: AsyncSession, field: str, value: str
    ) -> None:
        body = {"provider": "demo", "name": "d", "provider_account_id": "d1", "credentials": {}}
        r = await client_for(admin).post("/cloud-accounts", json={**body, field: value})
        assert r.status_code == 422, r.text
        assert [d["field"] for d in r.json()["error"]["details"]] == [field]
        assert await db.scalar(select(func.count()).select_from(CloudAccount)) == 0

    async def test_connect_is_limited_to_20_per_hour_per_user(
        self, app_with: AppWith, admin: User, db: AsyncSession, org: Org
    ) -> None:
        app = app_with(rate_limits_enabled=True)
        headers = {"Authorization": f"Bearer {token_for(app, admin)}"}
        async with asgi_client(app) as client:
            codes = [
                (await client.post("/cloud-accounts", json={}, headers=headers)).status_code
                for _ in range(20)
            ]
            assert codes == [422] * 20
            r = await client.post("/cloud-accounts", json=azure_body(), headers=headers)
            assert r.status_code == 429
            assert r.json()["error"]["code"] == "RATE_LIMITED"
            assert 1 <= int(r.headers["retry-after"]) <= 3600
            # Per user: another admin of the same org still connects; reads are not counted.
            other = await make_user(db, org, role=Role.ADMIN)
            other_headers = {"Authorization": f"Bearer {token_for(app, other)}"}
            ok = await client.post("/cloud-accounts", json=azure_body(), headers=other_headers)
            assert ok.status_code == 201
            assert (await client.get("/cloud-accounts", headers=headers)).status_code == 200


class TestList:
    async def test_lists_the_org_accounts_paginated_and_masked(
        self, client_for: ClientFor, viewer: User, db: AsyncSession, org: Org, other_org: Org
    ) -> None:
        first = await make_account(db, org, provider=Provider.AZURE, name="first")
        second = await make_account(db, org, provider=Provider.DEMO, name="second")
        await make_account(db, other_org, name="foreign")
        r = await client_for(viewer).get("/cloud-accounts", params={"limit": 1})
        assert r.status_code == 200
        body = r.json()
        assert (body["total"], body["page"], body["limit"]) == (2, 1, 1)
        assert [a["id"] for a in body["data"]] == [str(first.id)]
        assert body["data"][0]["credentials"]["clientSecret"] == "********"
        page2 = (
            await client_for(viewer).get("/cloud-accounts", params={"page": 2, "limit": 1})
        ).json()
        assert [a["id"] for a in page2["data"]] == [str(second.id)]

    async def test_a_member_with_a_grant_sees_only_that_account(
        self, client_for: ClientFor, member: User, viewer: User, db: AsyncSession, org: Org
    ) -> None:
        mine = await make_account(db, org, name="granted")
        theirs = await make_account(db, org, name="not granted")
        await grant(db, member, mine)
        client = client_for(member)
        listed = (await client.get("/cloud-accounts")).json()
        assert [a["id"] for a in listed["data"]] == [str(mine.id)]
        assert listed["total"] == 1
        assert (await client.get(f"/cloud-accounts/{mine.id}")).status_code == 200
        r = await client.get(f"/cloud-accounts/{theirs.id}")
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "CLOUD_ACCOUNT_NOT_FOUND"
        # A viewer without grants sees every account of the org.
        assert (await client_for(viewer).get("/cloud-accounts")).json()["total"] == 2

    async def test_anonymous_is_401(self, anon: httpx.AsyncClient) -> None:
        assert (await anon.get("/cloud-accounts")).status_code == 401


class TestGet:
    async def test_get_one(
        self, client_for: ClientFor, member: User, db: AsyncSession, org: Org
    ) -> None:
        account = await make_account(
            db, org, provider=Provider.AWS, provider_account_id="210987654321"
        )
        r = await client_for(member).get(f"/cloud-accounts/{account.id}")
        assert r.status_code == 200
        body = r.json()
        assert body["id"] == str(account.id)
        assert body["provider_account_id"] == "210987654321"
        assert body["credentials"] == {
            "roleName": "xplorr-readonly",
            "externalId": None,
            "region": "us-east-1",
        }
        assert set(body) == {
            "id", "provider", "name", "provider_account_id", "status", "last_synced_at",
            "created_at", "updated_at", "credentials",
        }  # fmt: skip

    async def test_other_org_and_unknown_ids_are_404(
        self, client_for: ClientFor, other_admin: User, admin: User, db: AsyncSession, org: Org
    ) -> None:
        account = await make_account(db, org)
        r = await client_for(other_admin).get(f"/cloud-accounts/{account.id}")
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "CLOUD_ACCOUNT_NOT_FOUND"
        assert (await client_for(admin).get(f"/cloud-accounts/{uuid.uuid4()}")).status_code == 404
        assert (await client_for(admin).get("/cloud-accounts/not-a-uuid")).status_code == 422

    async def test_anonymous_is_401(self, anon: httpx.AsyncClient) -> None:
        assert (await anon.get(f"/cloud-accounts/{uuid.uuid4()}")).status_code == 401

    async def test_unreadable_credentials_answer_null_and_log_no_secret(
        self,
        client_for: ClientFor,
        admin: User,
        db: AsyncSession,
        org: Org,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """A data key that no configured master key opens (secret key changed without
        XPLORR_PREVIOUS_SECRET_KEYS): the account still lists, its credentials are null."""
        account = await make_account(db, org, provider=Provider.AZURE)
        key = await db.scalar(select(OrgDataKey).where(OrgDataKey.org_id == org.id))
        assert key is not None
        key.kek_id = "0000000000000000"
        await db.commit()
        r = await client_for(admin).get(f"/cloud-accounts/{account.id}")
        assert r.status_code == 200
        assert r.json()["credentials"] is None
        listed = (await client_for(admin).get("/cloud-accounts")).json()
        assert listed["data"][0]["credentials"] is None
        logged = capsys.readouterr().err
        assert "cloud_account_credentials_unreadable" in logged
        _assert_no_secret(logged)


class TestUpdate:
    async def test_rename_and_replace_credentials(
        self, client_for: ClientFor, admin: User, db: AsyncSession, org: Org, settings: Settings
    ) -> None:
        account = await make_account(db, org, provider=Provider.AZURE, provider_account_id=SUB)
        client = client_for(admin)
        r = await client.patch(f"/cloud-accounts/{account.id}", json={"name": "Renamed"})
        assert r.status_code == 200
        assert r.json()["name"] == "Renamed"
        new = azure_body(clientSecret="rotated-" + AZURE_SECRET)["credentials"]
        r = await client.patch(f"/cloud-accounts/{account.id}", json={"credentials": new})
        assert r.status_code == 200, r.text
        assert r.json()["credentials"]["clientSecret"] == "********"
        assert r.json()["name"] == "Renamed"
        _assert_no_secret(r.text)
        stored = await _account(db, account.id)
        assert stored is not None
        assert (await decrypt_credentials(db, settings, stored))[
            "clientSecret"
        ] == "rotated-" + AZURE_SECRET
        entries = await _audit(db, "cloud_account.updated")
        assert sorted(e.details["changed"] for e in entries) == [["credentials"], ["name"]]
        _assert_no_secret(json.dumps([e.details for e in entries]))

    async def test_bad_credentials_are_422_and_change_nothing(
        self, client_for: ClientFor, admin: User, db: AsyncSession, org: Org
    ) -> None:
        account = await make_account(db, org, provider=Provider.AZURE, provider_account_id=SUB)
        bad = azure_body(subscriptionId="00000000-0000-0000-0000-000000000000")["credentials"]
        r = await client_for(admin).patch(
            f"/cloud-accounts/{account.id}", json={"name": "x", "credentials": bad}
        )
        assert r.status_code == 422
        assert r.json()["error"]["details"][0]["field"] == "credentials.subscriptionId"
        stored = await _account(db, account.id)
        assert stored is not None
        assert stored.name == account.name
        assert stored.credentials_encrypted == account.credentials_encrypted
        r = await client_for(admin).patch(f"/cloud-accounts/{account.id}", json={"provider": "aws"})
        assert r.status_code == 422

    @pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
    async def test_members_and_viewers_get_403(
        self, role: Role, client_for: ClientFor, db: AsyncSession, org: Org
    ) -> None:
        account = await make_account(db, org)
        user = await make_user(db, org, role=role)
        r = await client_for(user).patch(f"/cloud-accounts/{account.id}", json={"name": "x"})
        assert r.status_code == 403
        assert (await _account(db, account.id)).name == account.name  # type: ignore[union-attr]

    async def test_other_org_gets_404_and_row_survives(
        self, client_for: ClientFor, other_admin: User, db: AsyncSession, org: Org
    ) -> None:
        account = await make_account(db, org)
        r = await client_for(other_admin).patch(f"/cloud-accounts/{account.id}", json={"name": "x"})
        assert r.status_code == 404
        stored = await _account(db, account.id)
        assert stored is not None
        assert stored.name == account.name

    async def test_anonymous_is_401(self, anon: httpx.AsyncClient) -> None:
        assert (
            await anon.patch(f"/cloud-accounts/{uuid.uuid4()}", json={"name": "x"})
        ).status_code == 401


async def _add_costs(db: AsyncSession, account: CloudAccount, amount: str) -> None:
    record = CostRecord(
        org_id=account.org_id,
        cloud_account_id=account.id,
        billing_period=date(2024, 9, 1),
        usage_date=date(2024, 9, 3),
        currency="USD",
        billed_cost=Decimal(amount),
        effective_cost=Decimal(amount),
        list_cost=Decimal(amount),
        provider="aws",
        provider_name="AWS",
        billing_account_id="123456789012",
        service_name="Amazon EC2",
        charge_category="Usage",
        tags={"env": "prod"},
    )
    db.add(record)
    await db.flush()
    await store.rebuild_rollups(db, account.id, [date(2024, 9, 1)])
    await record_imports(db, account, [record])
    await db.commit()


async def _rows(db: AsyncSession, model: type, account_id: uuid.UUID) -> int:
    stmt = select(func.count()).select_from(model).where(model.cloud_account_id == account_id)  # type: ignore[attr-defined]
    return int(await db.scalar(stmt) or 0)


class TestDelete:
    async def test_disconnect_deletes_the_account_and_its_cost_data_only(
        self, client_for: ClientFor, admin: User, member: User, db: AsyncSession, org: Org
    ) -> None:
        doomed = await make_account(db, org, name="doomed")
        kept = await make_account(db, org, name="kept")
        await grant(db, member, doomed)
        await _add_costs(db, doomed, "12.34")
        await _add_costs(db, kept, "56.78")
        assert await _rows(db, CostRollup, doomed.id) == 1

        r = await client_for(admin).delete(f"/cloud-accounts/{doomed.id}")
        assert r.status_code == 204
        assert r.content == b""
        assert await _account(db, doomed.id) is None
        for model in (CostRecord, CostRollup):
            assert await _rows(db, model, doomed.id) == 0
            assert await _rows(db, model, kept.id) == 1
        assert await db.scalar(select(func.count()).select_from(AccountGrant)) == 0
        (entry,) = await _audit(db, "cloud_account.disconnected")
        assert entry.resource_id == str(doomed.id)
        assert entry.details["provider"] == "focus"
        assert (await client_for(admin).get(f"/cloud-accounts/{doomed.id}")).status_code == 404

    async def test_a_member_limited_to_a_disconnected_account_sees_nothing(
        self, client_for: ClientFor, admin: User, member: User, db: AsyncSession, org: Org
    ) -> None:
        """Fail closed: the grant goes with the account, but the member stays limited (to no
        account now) instead of falling back to every account of the organization."""
        doomed = await make_account(db, org, name="doomed")
        other = await make_account(db, org, name="other")
        await grant(db, member, doomed)
        await _add_costs(db, other, "56.78")
        as_member = client_for(member)
        costs = {"startDate": "2024-09-01", "endDate": "2024-09-30"}
        assert (await as_member.get("/cloud-accounts")).json()["total"] == 1
        assert (await as_member.get("/costs", params=costs)).json()["totalCost"] == 0

        assert (await client_for(admin).delete(f"/cloud-accounts/{doomed.id}")).status_code == 204
        listed = (await as_member.get("/cloud-accounts")).json()
        assert (listed["total"], listed["data"]) == (0, [])
        assert (await as_member.get(f"/cloud-accounts/{other.id}")).status_code == 404
        assert (await as_member.get("/costs", params=costs)).json()["totalCost"] == 0
        # The org's admin still sees the other account's cost.
        assert (await client_for(admin).get("/costs", params=costs)).json()["totalCost"] == 56.78

    @pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
    async def test_members_and_viewers_get_403(
        self, role: Role, client_for: ClientFor, db: AsyncSession, org: Org
    ) -> None:
        account = await make_account(db, org)
        user = await make_user(db, org, role=role)
        assert (await client_for(user).delete(f"/cloud-accounts/{account.id}")).status_code == 403
        assert await _account(db, account.id) is not None

    async def test_other_org_gets_404_and_data_survives(
        self, client_for: ClientFor, other_admin: User, db: AsyncSession, org: Org
    ) -> None:
        account = await make_account(db, org)
        await _add_costs(db, account, "1.00")
        r = await client_for(other_admin).delete(f"/cloud-accounts/{account.id}")
        assert r.status_code == 404
        assert await _account(db, account.id) is not None
        assert await _rows(db, CostRecord, account.id) == 1

    async def test_anonymous_is_401(self, anon: httpx.AsyncClient) -> None:
        assert (await anon.delete(f"/cloud-accounts/{uuid.uuid4()}")).status_code == 401


class TestServerAwsConfig:
    async def test_any_role_reads_it_without_values(
        self, client_for: ClientFor, viewer: User, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("HOME", str(tmp_path))
        for name in AWS_ENV:
            monkeypatch.delenv(name, raising=False)
        client = client_for(viewer)
        r = await client.get("/cloud-accounts/server-aws-config")
        assert r.status_code == 200
        assert r.json() == {
            "configured": False,
            "source": None,
            "profile": None,
            "org_base_keys": False,
        }

        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
        r = await client.get("/cloud-accounts/server-aws-config")
        assert r.json() == {
            "configured": True,
            "source": "environment",
            "profile": None,
            "org_base_keys": False,
        }
        assert "AKIA" not in r.text
        _assert_no_secret(r.text)

    async def test_anonymous_is_401(self, anon: httpx.AsyncClient) -> None:
        assert (await anon.get("/cloud-accounts/server-aws-config")).status_code == 401


class TestNeverLogged:
    async def test_credentials_are_not_in_logs(
        self,
        app_with: AppWith,
        admin: User,
        db: AsyncSession,
        capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        app = app_with(log_level="DEBUG")
        headers = {"Authorization": f"Bearer {token_for(app, admin)}"}
        async with asgi_client(app) as client:
            r = await client.post("/cloud-accounts", json=azure_body(), headers=headers)
            assert r.status_code == 201
            ident = r.json()["id"]
            bad = azure_body(clientId="bad")
            assert (
                await client.post("/cloud-accounts", json=bad, headers=headers)
            ).status_code == 422
            new = azure_body(clientSecret="x" + AZURE_SECRET)["credentials"]
            r = await client.patch(
                f"/cloud-accounts/{ident}", json={"credentials": new}, headers=headers
            )
            assert r.status_code == 200
            await client.get("/cloud-accounts", headers=headers)
            await client.post("/cloud-accounts", json=gcp_body(), headers=headers)
            await client.post(
                "/cloud-accounts",
                json=aws_body(accessKeyId="AKIAIOSFODNN7EXAMPLE", secretAccessKey=AWS_SECRET),
                headers=headers,
            )
            await client.delete(f"/cloud-accounts/{ident}", headers=headers)
        captured = capsys.readouterr()
        _assert_no_secret(captured.out + captured.err + caplog.text)


class TestFocusConnectionTest:
    async def test_a_focus_path_is_checked_and_its_export_files_counted(
        self, client_for: ClientFor, admin: User, viewer: User, exports: Path
    ) -> None:
        body = {
            "provider": "focus",
            "provider_account_id": "exports",
            "credentials": {"path": str(exports / "aws-focus")},
        }
        client = client_for(admin)
        r = await client.post("/cloud-accounts/test", json=body)
        assert r.status_code == 200, r.text
        empty = r.json()
        assert empty["ok"] is True
        assert [(c["group"], c["status"], c["error_code"]) for c in empty["checks"]] == [
            ("Export path", "ok", None),
            ("Export files", "error", "NO_EXPORT_FILES"),
        ]
        (exports / "aws-focus" / "2024-09").mkdir()
        (exports / "aws-focus" / "2024-09" / "part-1.csv").write_text("BilledCost\n1\n")
        r = await client.post("/cloud-accounts/test", json=body)
        files = r.json()["checks"][1]
        assert (files["status"], files["message"]) == ("ok", "1 export file in 1 export run.")
        # A path that is not there is refused before any test, as on connect.
        missing = {**body, "credentials": {"path": str(exports / "gone")}}
        r = await client.post("/cloud-accounts/test", json=missing)
        assert r.status_code == 422
        assert r.json()["error"]["details"][0]["field"] == "credentials.path"
        r = await client_for(viewer).post("/cloud-accounts/test", json=body)
        assert r.status_code == 403
