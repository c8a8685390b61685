"""Pure parts of the cloud-accounts service: where server AWS credentials would come from (env
and files only), masking (default deny), credential validation messages."""

from pathlib import Path

import pytest

from xplorr.cloud_accounts.models import Provider
from xplorr.cloud_accounts.service import (
    MASK,
    detect_server_aws_credentials,
    mask_credentials,
    validate_credentials,
)
from xplorr.core.errors import ValidationFailed
from xplorr.core.settings import Settings

KEYS = "[{name}]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = s3cr3t\n"


def _home(tmp_path: Path, credentials: str | None = None, config: str | None = None) -> Path:
    aws = tmp_path / ".aws"
    aws.mkdir(exist_ok=True)
    if credentials is not None:
        (aws / "credentials").write_text(credentials)
    if config is not None:
        (aws / "config").write_text(config)
    return tmp_path


def _source(environ: dict[str, str], home: Path) -> tuple[bool, str | None, str | None]:
    out = detect_server_aws_credentials(environ, home)
    return out.configured, out.source, out.profile


class TestServerAwsCredentials:
    def test_nothing_configured(self, tmp_path: Path) -> None:
        assert _source({}, _home(tmp_path)) == (False, None, None)
        assert _source({"AWS_ACCESS_KEY_ID": "AKIA"}, tmp_path) == (False, None, None)

    def test_environment(self, tmp_path: Path) -> None:
        env = {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "x"}
        assert _source(env, tmp_path) == (True, "environment", None)

    def test_web_identity(self, tmp_path: Path) -> None:
        env = {
            "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token",
            "AWS_ROLE_ARN": "arn:aws:iam::1:role/r",
        }
        assert _source(env, tmp_path) == (True, "web_identity", None)

    def test_shared_credentials_file_for_the_selected_profile(self, tmp_path: Path) -> None:
        home = _home(tmp_path, credentials=KEYS.format(name="default"))
        assert _source({}, home) == (True, "shared_credentials_file", "default")
        assert _source({"AWS_PROFILE": "other"}, home) == (False, None, None)
        other = tmp_path / "elsewhere.ini"
        other.write_text(KEYS.format(name="ops"))
        env = {"AWS_SHARED_CREDENTIALS_FILE": str(other), "AWS_PROFILE": "ops"}
        assert _source(env, home) == (True, "shared_credentials_file", "ops")

    def test_config_file_profiles(self, tmp_path: Path) -> None:
        config = (
            "[default]\nregion = us-east-1\n"
            "[profile assumer]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = a\n"
            "[profile sso]\nsso_session = corp\n"
        )
        home = _home(tmp_path, config=config)
        assert _source({}, home) == (False, None, None)  # a region alone is no credential
        assert _source({"AWS_PROFILE": "assumer"}, home) == (True, "config_file", "assumer")
        assert _source({"AWS_DEFAULT_PROFILE": "sso"}, home) == (True, "config_file", "sso")

    def test_container_credentials(self, tmp_path: Path) -> None:
        env = {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc"}
        assert _source(env, tmp_path) == (True, "container", None)

    def test_a_broken_file_is_not_configured_and_logged_without_content(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        home = _home(tmp_path, credentials="aws_secret_access_key = leaked-value\n[")
        assert _source({}, home) == (False, None, None)
        captured = capsys.readouterr()
        logged = captured.out + captured.err
        assert "aws_config_unreadable" in logged
        assert "leaked-value" not in logged


def test_masking_is_default_deny() -> None:
    masked = mask_credentials(
        {
            "clientSecret": "abc",
            "somethingNew": "value",
            "keyfileJson": {"private_key": "k"},
            "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
            "externalId": "short",
            "region": "us-east-1",
            "regions": ["us-east1"],
            "billingAccountId": None,
        }
    )
    assert masked == {
        "clientSecret": MASK,
        "somethingNew": MASK,
        "keyfileJson": MASK,
        "accessKeyId": "****MPLE",
        "externalId": MASK,  # too short to show any of it
        "region": "us-east-1",
        "regions": ["us-east1"],
        "billingAccountId": None,
    }


def test_validation_errors_name_every_bad_field_without_values(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="k" * 40)
    with pytest.raises(ValidationFailed) as caught:
        validate_credentials(
            settings,
            Provider.AZURE,
            "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
            {"clientId": "secret-looking-value", "tenantId": "!", "unknown": "v"},
        )
    fields = sorted(d["field"] for d in caught.value.details or [])
    assert fields == [
        "credentials.clientId",
        "credentials.clientSecret",
        "credentials.subscriptionId",
        "credentials.tenantId",
        "credentials.unknown",
    ]
    assert "secret-looking-value" not in str(caught.value.body())
    assert caught.value.message.startswith("Invalid credentials: check credentials.clientId")
