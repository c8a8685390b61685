import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from xplorr.users.models import Role, UserStatus

Password = Annotated[str, Field(min_length=1, max_length=1024)]
# The policy's length bounds, in the schema too so clients (and generated tests) know them; the
# common-password and email checks run in the service.
NewPassword = Annotated[str, Field(min_length=12, max_length=128)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignupIn(_In):
    email: EmailStr
    password: NewPassword
    name: Annotated[str, Field(min_length=1, max_length=200)]
    organization_name: Annotated[str, Field(min_length=1, max_length=200)]


class LoginIn(_In):
    email: Annotated[str, Field(min_length=3, max_length=320)]
    password: Password


class RefreshIn(_In):
    refresh_token: Annotated[str, Field(min_length=1, max_length=200)]


class ChangePasswordIn(_In):
    current_password: Password
    new_password: NewPassword


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
    created_at: datetime


class OrgBrief(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    slug: str


class MeOut(UserOut):
    organization: OrgBrief


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (a scheme name)
    expires_in: int
    user: UserOut
