"""AWS sessions against moto's server: access keys, an assumed role, and failures named."""

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.retries.adaptive import ClientRateLimiter

from tests.aws.moto_server import MotoAws
from xplorr.connectors import ConnectorError
from xplorr.connectors.aws.session import (
    NO_BASE_CREDENTIALS,
    ROLE_SESSION_SECONDS,
    AwsCallError,
    AwsTarget,
    AwsUnavailable,
    BaseKeys,
    assume_role_request,
    classify,
    connect,
    expires_at,
    new_boto_session,
    run,
)
from xplorr.core.settings import Settings

ROLE_ACCOUNT = "222222222222"


async def test_access_keys_reach_the_account(moto: MotoAws, settings: Settings) -> None:
    session = await connect(settings, moto.account_id, moto.key_credentials())
    who = await run(session.identity)
    assert who["account"] == moto.account_id
    assert session.target.mode == "keys"
    assert expires_at(session) is None
    assert "motoTestSecret" not in repr(session)


async def test_role_is_assumed_from_the_server_credentials(
    moto: MotoAws, settings: Settings
) -> None:
    creds = {
        "roleName": "xplorr-readonly",
        "externalId": "xplorr-ext-abc123",
        "region": "eu-west-1",
    }
    session = await connect(settings, ROLE_ACCOUNT, creds, purpose="test")
    who = await run(session.identity)
    assert who["account"] == ROLE_ACCOUNT
    assert who["arn"] == f"arn:aws:sts::{ROLE_ACCOUNT}:assumed-role/xplorr-readonly/xplorr-test"
    assert session.target.region == "eu-west-1"
    expiry = expires_at(session)
    assert expiry is not None
    left = expiry - datetime.now(UTC)
    assert timedelta(minutes=50) < left <= timedelta(seconds=ROLE_SESSION_SECONDS + 5)


async def test_role_is_assumed_from_org_base_keys(moto: MotoAws, settings: Settings) -> None:
    base = moto.iam_user(
        "xplorr-assumer", [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]
    )
    session = await connect(
        settings,
        ROLE_ACCOUNT,
        {"roleName": "xplorr-readonly"},
        base=BaseKeys(base["accessKeyId"], base["secretAccessKey"]),
    )
    assert (await run(session.identity))["account"] == ROLE_ACCOUNT
    assert base["secretAccessKey"] not in repr(
        BaseKeys(base["accessKeyId"], base["secretAccessKey"])
    )


def test_assume_role_request_names_xplorr_and_passes_the_external_id() -> None:
    target = AwsTarget.from_credentials(
        ROLE_ACCOUNT, {"roleName": "finops-read", "externalId": "ext-123", "region": "us-east-1"}
    )
    assert assume_role_request(target, "sync") == {
        "RoleArn": f"arn:aws:iam::{ROLE_ACCOUNT}:role/finops-read",
        "RoleSessionName": "xplorr-sync",
        "DurationSeconds": 3600,
        "ExternalId": "ext-123",
    }
    bare = AwsTarget.from_credentials(ROLE_ACCOUNT, {})
    assert "ExternalId" not in assume_role_request(bare, "sync")
    assert bare.role_name == "xplorr-readonly"
    assert bare.region == "us-east-1"


async def test_no_base_credentials_is_a_clear_permanent_error(
    moto: MotoAws, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(AwsCallError) as caught:
        await connect(settings, ROLE_ACCOUNT, {"roleName": "xplorr-readonly"})
    assert NO_BASE_CREDENTIALS in str(caught.value)
    assert isinstance(caught.value, ConnectorError)


async def test_unknown_keys_are_refused_by_name(moto: MotoAws, settings: Settings) -> None:
    moto.enforce_iam()
    session = await connect(settings, moto.account_id, moto.key_credentials())
    with pytest.raises(AwsCallError) as caught:
        await run(session.identity)
    failure = caught.value.failure
    assert failure.operation == "sts:GetCallerIdentity"
    assert failure.code == "InvalidClientTokenId"
    assert failure.bad_credentials
    assert not failure.retryable
    assert moto.secret_access_key not in str(caught.value)


async def test_denied_assume_role_says_what_to_check(moto: MotoAws, settings: Settings) -> None:
    base = moto.iam_user(
        "no-assume", [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]
    )
    moto.enforce_iam()
    with pytest.raises(AwsCallError) as caught:
        await connect(
            settings,
            ROLE_ACCOUNT,
            {"roleName": "xplorr-readonly", "externalId": "ext-123"},
            base=BaseKeys(base["accessKeyId"], base["secretAccessKey"]),
        )
    assert caught.value.failure.denied
    assert caught.value.failure.code == "AccessDenied"
    assert f"arn:aws:iam::{ROLE_ACCOUNT}:role/xplorr-readonly" in str(caught.value)
    assert base["secretAccessKey"] not in str(caught.value)


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": "m"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "Op",
    )


@pytest.mark.parametrize(
    ("code", "status", "retryable", "denied"),
    [
        ("ThrottlingException", 400, True, False),
        ("LimitExceededException", 400, True, False),
        ("InternalFailure", 500, True, False),
        ("SomethingNew", 503, True, False),
        ("AccessDeniedException", 400, False, True),
        ("AccessDenied", 403, False, True),
        ("NoSuchBucket", 404, False, False),
        ("ValidationException", 400, False, False),
    ],
)
def test_classify_permanent_vs_retryable(
    code: str, status: int, retryable: bool, denied: bool
) -> None:
    out = classify(_client_error(code, status), "ce:GetCostAndUsage")
    assert isinstance(out, AwsUnavailable if retryable else AwsCallError)
    assert out.failure.retryable is retryable
    assert out.failure.denied is denied
    assert str(out).startswith(f"ce:GetCostAndUsage failed: {code}")


def test_network_errors_are_retryable_oserrors() -> None:
    out = classify(EndpointConnectionError(endpoint_url="https://x"), "s3:GetObject")
    assert isinstance(out, AwsUnavailable)
    assert isinstance(out, OSError)


def test_keys_without_secret_are_refused() -> None:
    with pytest.raises(ConnectorError, match="secretAccessKey"):
        AwsTarget.from_credentials("123456789012", {"accessKeyId": "AKIAXXXXXXXXXXXXXXXX"})


def test_sessions_share_the_model_loader_but_not_their_keys() -> None:
    """Each session parses no service model another already parsed (one loader a process), and
    sharing it shares nothing else: each session keeps its own keys and region."""
    one = new_boto_session("us-east-1", "AKIAONE0000000000001", "a" * 40)
    two = new_boto_session("eu-west-1", "AKIATWO0000000000002", "b" * 40)
    loader = one._session.get_component("data_loader")
    assert two._session.get_component("data_loader") is loader
    one.client("ec2")  # parses EC2's model once, into the shared loader's cache
    assert loader.load_service_model("ec2", "service-2") is loader.load_service_model(
        "ec2", "service-2"
    )
    keys = [s.get_credentials().get_frozen_credentials() for s in (one, two)]
    assert [(k.access_key, k.secret_key) for k in keys] == [
        ("AKIAONE0000000000001", "a" * 40),
        ("AKIATWO0000000000002", "b" * 40),
    ]
    assert (one.region_name, two.region_name) == ("us-east-1", "eu-west-1")


@pytest.mark.parametrize("mode", ["keys", "role"])
async def test_the_clients_built_retry_in_adaptive_mode(
    mode: str, moto: MotoAws, settings: Settings
) -> None:
    role = {"roleName": "xplorr-readonly", "externalId": "xplorr-ext-abc123"}
    account, creds = (
        (moto.account_id, moto.key_credentials()) if mode == "keys" else (ROLE_ACCOUNT, role)
    )
    session = await connect(settings.model_copy(update={"aws_max_attempts": 7}), account, creds)
    for service in ("s3", "ce", "ec2", "cloudwatch", "elbv2", "savingsplans"):
        client = session.client(service)
        config = client.meta.config
        assert config.retries == {"mode": "adaptive", "total_max_attempts": 7}, service
        assert config.connect_timeout == settings.aws_connect_timeout_seconds
        # Adaptive mode, as botocore wires it: a client-side rate limiter sees every request.
        handlers = client.meta.events._emitter._handlers.prefix_search(  # botocore has no API
            f"before-send.{client.meta.service_model.service_id.hyphenize()}.Any"
        )
        assert any(isinstance(getattr(h, "__self__", None), ClientRateLimiter) for h in handlers)
    probe = session.client("ce", attempts=1)  # the connection test's probes: no retry
    assert probe.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 1}
    assert await run(session.identity)  # the same client setup reaches the account
