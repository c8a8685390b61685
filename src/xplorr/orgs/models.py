from typing import ClassVar

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core.models import Base, IdMixin, Timestamped


class Org(IdMixin, Timestamped, Base):
    """An organization: the tenant. Every tenant row points here with ``org_id``."""

    __tablename__ = "orgs"
    audit_resource: ClassVar[str] = "organization"
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    require_2fa: Mapped[bool] = mapped_column(default=False)

    @property
    def audit_name(self) -> str | None:
        return self.name
