"""IAM-role accounts assumed from the org's base AWS keys (``PATCH /settings``) when it saved
some, else from the server's own credentials, against moto's server with IAM enforced: moto
then knows the base keys (an IAM user's) and not the server's, so which principal called
``sts:AssumeRole`` shows in whether, and how, it succeeds."""

from sqlalchemy.ext.asyncio import AsyncSession

from tests.aws.moto_server import MotoAws
from tests.conftest import ClientFor
from xplorr.connectors.aws.session import BaseKeys, connect, org_base_keys, run
from xplorr.core.settings import Settings
from xplorr.orgs.models import Org
from xplorr.users.models import User

ROLE_ACCOUNT = "222222222222"
ROLE = {"roleName": "xplorr-readonly", "externalId": "xplorr-ext-abc123", "region": "eu-west-1"}
ASSUME = [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]
IDENTITY = [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]


def _test_body(credentials: dict) -> dict:
    return {"provider": "aws", "provider_account_id": ROLE_ACCOUNT, "credentials": credentials}


def _pair(keys: dict[str, str]) -> dict[str, str | None]:
    return {
        "aws_base_access_key_id": keys["accessKeyId"],
        "aws_base_secret_access_key": keys["secretAccessKey"],
    }


async def test_role_is_assumed_from_the_org_base_keys_else_the_server_credentials(
    moto: MotoAws,
    client_for: ClientFor,
    admin: User,
    org: Org,
    db: AsyncSession,
    settings: Settings,
) -> None:
    assumer = moto.iam_user("xplorr-assumer", ASSUME)
    bystander = moto.iam_user("no-assume", IDENTITY)  # may not call sts:AssumeRole
    moto.enforce_iam()
    client = client_for(admin)

    # The principal IAM judges at sts:AssumeRole is the base keys' user: one without the
    # permission is denied, and moto names it.
    assert (await client.patch("/settings", json=_pair(bystander))).status_code == 200
    config = await client.get("/cloud-accounts/server-aws-config")
    assert config.json()["org_base_keys"] is True
    assert bystander["accessKeyId"] not in config.text
    r = await client.post("/cloud-accounts/test", json=_test_body(ROLE))
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is False
    assert r.json()["error_code"] == "AccessDenied"
    assert "no-assume" in r.json()["error"]
    assert bystander["secretAccessKey"] not in r.text

    # With the assumer's keys saved, the session every path opens (sync, inventory,
    # commitments, the test: ``org_base_keys`` then ``connect``) assumes the role.
    assert (await client.patch("/settings", json=_pair(assumer))).status_code == 200
    db.expire_all()
    base = await org_base_keys(db, settings, org.id, ROLE)
    assert base == BaseKeys(assumer["accessKeyId"], assumer["secretAccessKey"])
    assert await org_base_keys(db, settings, org.id, moto.key_credentials()) is None  # keys
    session = await connect(settings, ROLE_ACCOUNT, ROLE, base=base, purpose="test")
    who = await run(session.identity)
    assert who["arn"] == f"arn:aws:sts::{ROLE_ACCOUNT}:assumed-role/xplorr-readonly/xplorr-test"

    # Without base keys the server's own credentials call STS: moto's IAM does not know them.
    cleared = {"aws_base_access_key_id": None, "aws_base_secret_access_key": None}
    assert (await client.patch("/settings", json=cleared)).status_code == 200
    assert (await client.get("/cloud-accounts/server-aws-config")).json()["org_base_keys"] is False
    r = await client.post("/cloud-accounts/test", json=_test_body(ROLE))
    assert r.json()["ok"] is False
    assert r.json()["error_code"] == "InvalidClientTokenId"
    assert await org_base_keys(db, settings, org.id, ROLE) is None

    # ... which moto, not enforcing IAM, accepts: the role is assumed from them.
    moto.reset()
    session = await connect(settings, ROLE_ACCOUNT, ROLE, base=None, purpose="sync")
    assert (await run(session.identity))["account"] == ROLE_ACCOUNT
