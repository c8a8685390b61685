"""The demo organization: its owner now; cost data arrives with the cost-data issue."""

from sqlalchemy import select

from xplorr.core import clock
from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.core.deps import AuthKit
from xplorr.core.ratelimit import RateLimiter
from xplorr.core.settings import Settings
from xplorr.orgs.models import Org
from xplorr.users import service as users
from xplorr.users.models import Role, User

DEMO_ORG_SLUG = "demo"


async def load_demo(settings: Settings) -> str:
    """Idempotent: creates the demo org and owner, or resets the owner's password."""
    kit = AuthKit.build(settings, RateLimiter(settings))
    password = settings.demo_password.get_secret_value()
    engine = make_engine(settings.db_url)
    try:
        async with make_sessionmaker(engine)() as db:
            org = await db.scalar(select(Org).where(Org.slug == DEMO_ORG_SLUG))
            if org is None:
                org = Org(name="Demo Company", slug=DEMO_ORG_SLUG)
                db.add(org)
                await db.flush()
            user = await db.scalar(select(User).where(User.email == settings.demo_email.lower()))
            if user is None:
                user = await users.create_user(
                    db,
                    kit.hasher,
                    org,
                    email=settings.demo_email,
                    name="Demo Owner",
                    password=password,
                    role=Role.OWNER,
                )
            else:
                user.password_hash = kit.hasher.hash(password)
            user.email_verified_at = user.email_verified_at or clock.now()
            await db.commit()
            return user.email
    finally:
        await engine.dispose()
