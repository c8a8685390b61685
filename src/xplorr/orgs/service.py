"""Organizations: the tenants."""

import re
import secrets
import unicodedata

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.orgs.models import Org


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60]
    return slug or "org"


async def create_org(db: AsyncSession, name: str) -> Org:
    """A new org with a unique slug derived from its name (``acme``, then ``acme-x7k2``...)."""
    base = slugify(name)
    slug = base
    while await db.scalar(select(Org.id).where(Org.slug == slug)) is not None:
        slug = f"{base}-{secrets.token_hex(3)}"
    org = Org(name=name.strip(), slug=slug)
    db.add(org)
    await db.flush()
    return org
