import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from xplorr.core.tenancy import Role
from xplorr.core.text import Name
from xplorr.users.models import UserStatus

Password = Annotated[str, Field(min_length=1, max_length=1024)]
# The policy's length bounds, in the schema too so clients (and generated tests) know them; the
# common-password and email checks run in the service.
NewPassword = Annotated[str, Field(min_length=12, max_length=128)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignupIn(_In):
    email: EmailStr
    password: NewPassword
    name: Name
    organization_name: Name


class LoginIn(_In):
    email: Annotated[str, Field(min_length=3, max_length=320)]
    password: Password


class RefreshIn(_In):
    refresh_token: Annotated[str, Field(min_length=1, max_length=200)]


class ChangePasswordIn(_In):
    current_password: Password
    new_password: NewPassword
    # True: this login ends too (the web console signs in again with the new password).
    end_this_session: bool = False


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    org_id: uuid.UUID
    email: str
    name: str
    role: Role
    status: UserStatus
    email_verified: bool
    email_verified_at: datetime | None
    last_login_at: datetime | None
    two_factor_enabled: bool
    created_at: datetime


class OrgBrief(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    slug: str


class MeOut(UserOut):
    organization: OrgBrief
    # The org requires 2FA and the user has none: every endpoint but the setup ones answers
    # 403 2FA_SETUP_REQUIRED until one is set up.
    two_factor_setup_required: bool = False


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (a scheme name)
    expires_in: int
    user: UserOut


class TwoFactorChallengeOut(BaseModel):
    """Login's answer when the password was right and a second factor is due: complete it with
    ``POST /auth/2fa/authenticate`` (``totp``, ``recovery_code``) or log in with a passkey
    (``webauthn``)."""

    requires_2fa: Literal[True] = True
    challenge_token: str
    methods: list[str]
    expires_in: int


class TokenIn(_In):
    token: Annotated[str, Field(min_length=1, max_length=200)]


class EmailIn(_In):
    email: Annotated[str, Field(min_length=3, max_length=320)]


class ResetPasswordIn(_In):
    token: Annotated[str, Field(min_length=1, max_length=200)]
    new_password: NewPassword


class MessageOut(BaseModel):
    message: str


class VerifiedOut(BaseModel):
    email_verified: bool


class InviteIn(_In):
    email: EmailStr
    role: Role
    account_ids: Annotated[list[uuid.UUID], Field(max_length=500)] | None = None


class InvitationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    email: str
    role: Role
    account_ids: list[uuid.UUID]
    status: Literal["pending", "accepted", "expired", "revoked"]
    invited_by_user_id: uuid.UUID | None
    created_at: datetime
    expires_at: datetime


class InviteOut(InvitationOut):
    resent: bool


class InvitationStatusOut(BaseModel):
    """What an invitation link shows before login: its status, who invited, to which org, and
    the address and role it was sent for (the link's holder received it at that address)."""

    status: Literal["pending", "accepted", "expired", "revoked"]
    inviter_name: str | None
    organization_name: str
    email: str
    role: Role


class AcceptInvitationIn(_In):
    token: Annotated[str, Field(min_length=1, max_length=200)]
    name: Name
    password: NewPassword
