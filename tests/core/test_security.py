"""Unit tests for the pieces auth is built from: tokens, passwords, audit redaction, pagination."""

import string

import pytest
from argon2 import PasswordHasher

from xplorr.core import audit, security


class TestApiTokenFormat:
    def test_new_tokens_are_well_formed_and_unique(self) -> None:
        tokens = {security.new_api_token() for _ in range(200)}
        assert len(tokens) == 200
        for token in tokens:
            assert token.startswith("xplorr_")
            body = token[len("xplorr_") :]
            assert len(body) == 38
            assert set(body) <= set(string.ascii_letters + string.digits)
            assert security.api_token_well_formed(token)

    @pytest.mark.parametrize(
        "token",
        [
            "",
            "xplorr_",
            "ghp_abc",
            "xplorr_" + "a" * 38,
            "xplorr_" + "-" * 38,
            "Xplorr_" + "a" * 38,
        ],
    )
    def test_malformed_tokens_fail_the_checksum(self, token: str) -> None:
        assert not security.api_token_well_formed(token)

    def test_any_single_character_change_is_caught(self) -> None:
        token = security.new_api_token()
        for i in range(len("xplorr_"), len(token)):
            for c in "0aZ":
                if token[i] != c:
                    assert not security.api_token_well_formed(token[:i] + c + token[i + 1 :])


class TestPasswords:
    def test_hash_is_argon2id_and_verifies_exactly_as_typed(self) -> None:
        hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        stored = hasher.hash("  spaces matter ✓  ")
        assert stored.startswith("$argon2id$")
        assert security.verify_password(hasher, stored, "  spaces matter ✓  ")
        assert not security.verify_password(hasher, stored, "spaces matter ✓")
        assert not security.verify_password(hasher, None, "anything")
        assert not security.verify_password(hasher, "not-a-hash", "anything")

    def test_default_parameters_meet_owasp(self) -> None:
        from xplorr.core.settings import Settings

        s = Settings(secret_key="x" * 40)
        # OWASP floor: m=19456 KiB with t=2; the defaults are RFC 9106's low-memory profile.
        assert s.argon2_memory_kib >= 19456
        assert s.argon2_time_cost >= 2

    @pytest.mark.parametrize(
        ("password", "ok"),
        [
            ("twelve chars", True),
            ("x" * 11, False),
            ("y" * 128, False),  # too few distinct characters
            ("a b c d e f g h i j k l m n o p q r s t u v w x y z" * 2, True),
            ("z" * 129, False),
            ("1q2w3e4r5t6y", False),
        ],
    )
    def test_policy(self, password: str, ok: bool) -> None:
        assert (security.password_problem(password) is None) is ok

    def test_free_mail_domains(self) -> None:
        assert security.is_free_email_domain("a@GMAIL.com")
        assert not security.is_free_email_domain("a@acme-corp.io")


class TestAuditRedaction:
    def test_secrets_are_redacted_and_control_characters_escaped(self) -> None:
        out = audit.redact(
            {
                "password": "hunter2",
                "new_token": "xplorr_abc",
                "nested": {"client_secret": "s3cr3t", "note": "line1\r\nline2\x1b[31m"},
                "count": 3,
            }
        )
        assert out["password"] == audit.REDACTED
        assert out["new_token"] == audit.REDACTED
        assert out["nested"]["client_secret"] == audit.REDACTED
        assert out["nested"]["note"] == "line1\\x0d\\x0aline2\\x1b[31m"
        assert out["count"] == 3
