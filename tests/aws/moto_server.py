"""AWS for the tests: moto's real HTTP server, reached by the real boto3 through an endpoint.

One ``ThreadedMotoServer`` per xdist worker (session scope, an ephemeral port on loopback);
its state is reset before each test that asks for ``moto``. The code under test needs no
special path: the ``settings`` fixture of a test using ``moto`` carries
``aws_endpoint_url`` (``XPLORR_AWS_ENDPOINT_URL``), and the server's own AWS credentials (the
base keys an IAM role is assumed from) are the environment variables the SDK reads, set for
the test only, with the AWS config files pointed at nothing so a developer's ``~/.aws`` never
leaks in.

Use it from any area's tests (registered in the root conftest's ``pytest_plugins``)::

    async def test_something(moto: MotoAws, settings: Settings) -> None:
        moto.client("s3").create_bucket(Bucket="exports")
        ...  # code under test builds its clients from ``settings`` and reaches moto

moto facts worth knowing (connectors guide, sections 1-3): STS AssumeRole works but enforces
neither trust policies nor ExternalId (assert what our code sends instead); credentials from
an assumed role scope later calls to the role's account (its S3 is empty, CE results are
injected per account); Cost Explorer answers are queued with ``queue_ce_results``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

# Shapes the account credentials validate (AwsKeyCredentials): 16+ uppercase/digits, 40 chars.
ACCESS_KEY_ID = "AKIAMOTOTESTKEY00001"
SECRET_ACCESS_KEY = "motoTestSecretKey0000000000000000000000x"  # 40 characters
SERVER_KEY_ID = "AKIAMOTOSERVERKEY0001"  # the server's own (base) credentials
SERVER_SECRET = "motoServerSecretKey00000000000000000000x"
DEFAULT_ACCOUNT = "123456789012"  # moto's account for keys that are not an assumed role
REGION = "us-east-1"


@dataclass(frozen=True)
class MotoAws:
    """A running moto server: its ``endpoint_url``, and credentials it accepts."""

    endpoint_url: str
    access_key_id: str = ACCESS_KEY_ID
    secret_access_key: str = SECRET_ACCESS_KEY
    region: str = REGION
    account_id: str = DEFAULT_ACCOUNT

    def key_credentials(self, **extra: Any) -> dict[str, Any]:
        """Access-key credentials as a cloud account stores them."""
        return {
            "accessKeyId": self.access_key_id,
            "secretAccessKey": self.secret_access_key,
            "region": self.region,
            **extra,
        }

    def client(self, service: str, region: str | None = None, **session: str) -> Any:
        """A boto3 client for arranging a test (as the default account, or ``session``)."""
        boto = boto3.Session(
            aws_access_key_id=session.get("aws_access_key_id", self.access_key_id),
            aws_secret_access_key=session.get("aws_secret_access_key", self.secret_access_key),
            aws_session_token=session.get("aws_session_token"),
            region_name=region or self.region,
        )
        return boto.client(
            service,
            endpoint_url=self.endpoint_url,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def reset(self) -> None:
        """Forget every resource, and stop enforcing IAM (``enforce_iam``)."""
        httpx.post(f"{self.endpoint_url}/moto-api/reset", timeout=30).raise_for_status()
        httpx.post(
            f"{self.endpoint_url}/moto-api/reset-auth", content=b"inf", timeout=30
        ).raise_for_status()

    def iam_user(self, name: str, statements: list[dict[str, Any]]) -> dict[str, str]:
        """An IAM user with an inline policy of ``statements`` and an access key:
        ``{"accessKeyId", "secretAccessKey"}``. Create users before ``enforce_iam``."""
        iam = self.client("iam")
        iam.create_user(UserName=name)
        iam.put_user_policy(
            UserName=name,
            PolicyName=f"{name}-policy",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return {"accessKeyId": key["AccessKeyId"], "secretAccessKey": key["SecretAccessKey"]}

    def enforce_iam(self) -> None:
        """From now on moto checks signatures' keys and IAM policies (unknown keys ->
        InvalidClientTokenId, a missing permission -> AccessDenied), until ``reset``."""
        httpx.post(
            f"{self.endpoint_url}/moto-api/reset-auth", content=b"0", timeout=30
        ).raise_for_status()

    def queue_ce_results(
        self, results: list[dict[str, Any]], account_id: str = DEFAULT_ACCOUNT
    ) -> None:
        """Queue full ``GetCostAndUsage`` responses: each call with a request body moto has
        not seen takes the next one (a repeated body gets the same answer again)."""
        response = httpx.post(
            f"{self.endpoint_url}/moto-api/static/ce/cost-and-usage-results",
            content=json.dumps({"account_id": account_id, "results": results}),
            timeout=30,
        )
        assert response.status_code == 201, response.text


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's server on an ephemeral loopback port, for this xdist worker."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The server's own AWS credentials, as the SDK's default chain finds them, and nothing
    of the machine's (no profile, no config files, no instance metadata)."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", SERVER_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SERVER_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def moto(moto_server: str, aws_environment: None) -> Iterator[MotoAws]:
    """A clean moto server for this test (state reset) and the server credentials set."""
    aws = MotoAws(moto_server)
    aws.reset()
    yield aws
    aws.reset()
