from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# A 6-digit TOTP code, or a recovery code (``xxxxx-xxxxx-xxxxx-xxxxx``; case, dashes and spaces
# do not matter). Which one it is follows from its shape (``service.method_of``).
Code = Annotated[str, Field(min_length=6, max_length=64)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SetupOut(BaseModel):
    """Shown once: the secret is never shown again (a new setup starts over with a new one)."""

    secret: str
    otpauth_uri: str
    qr_code: str  # data:image/svg+xml;base64,...


class ConfirmIn(_In):
    code: Annotated[str, Field(min_length=6, max_length=16)]


class ConfirmOut(BaseModel):
    """The recovery codes are shown once; only their SHA-256 is stored."""

    enabled: Literal[True] = True
    recovery_codes: list[str]


class AuthenticateIn(_In):
    challenge_token: Annotated[str, Field(min_length=1, max_length=200)]
    code: Code


class DisableIn(_In):
    password: Annotated[str, Field(min_length=1, max_length=1024)]
    code: Code
