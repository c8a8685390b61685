"""Operator actions outside HTTP (``xplorr user create``), one transaction each."""

import uuid

from sqlalchemy import select

from xplorr.core import audit
from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.core.deps import AuthKit
from xplorr.core.errors import ValidationFailed
from xplorr.core.ratelimit import RateLimiter
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Role
from xplorr.orgs.models import Org
from xplorr.orgs.service import create_org
from xplorr.users import service


async def create_user_cli(
    settings: Settings, *, email: str, org_slug: str, role: str, name: str | None, password: str
) -> uuid.UUID:
    try:
        parsed_role = Role(role)
    except ValueError as exc:
        raise ValidationFailed(
            f"Unknown role '{role}'; use owner, admin, member or viewer."
        ) from exc
    kit = AuthKit.build(settings, RateLimiter(settings))
    engine = make_engine(settings.db_url)
    try:
        async with make_sessionmaker(engine)() as db:
            org = await db.scalar(select(Org).where(Org.slug == org_slug))
            if org is None:
                org = await create_org(db, org_slug)
                org.slug = org_slug
            user = await service.create_user(
                db,
                kit.hasher,
                org,
                email=email,
                name=name or email.split("@", 1)[0],
                password=password,
                role=parsed_role,
            )
            await audit.record(
                db,
                "user.created_by_operator",
                org_id=org.id,
                actor_email="cli",
                target=user,
                details={"role": parsed_role.value},
            )
            await db.commit()
            return user.id
    finally:
        await engine.dispose()
