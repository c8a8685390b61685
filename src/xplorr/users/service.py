"""Users of an organization."""

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core import security
from xplorr.core.errors import Conflict, ValidationFailed
from xplorr.orgs.models import Org
from xplorr.users.models import Role, User


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_new_password(password: str, email: str, field: str = "password") -> None:
    if problem := security.password_problem(password, email):
        raise ValidationFailed(problem, details=[{"field": field, "message": problem}])


async def find_by_email(db: AsyncSession, email: str) -> User | None:
    """Login's lookup: emails are unique across orgs (one user belongs to one org)."""
    return await db.scalar(select(User).where(User.email == normalise_email(email)))


async def create_user(
    db: AsyncSession,
    hasher: PasswordHasher,
    org: Org,
    *,
    email: str,
    name: str,
    password: str,
    role: Role,
) -> User:
    """Validate the password policy and add a user; 409 EMAIL_TAKEN if the email exists."""
    email = normalise_email(email)
    check_new_password(password, email)
    user = User(
        org_id=org.id,
        email=email,
        name=name.strip(),
        password_hash=hasher.hash(password),
        role=role,
    )
    try:
        async with db.begin_nested():  # savepoint: a taken email must not poison the request
            db.add(user)
    except IntegrityError as exc:
        raise Conflict("An account with this email already exists.", code="EMAIL_TAKEN") from exc
    return user
