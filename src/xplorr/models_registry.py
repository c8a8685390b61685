"""Every table's model imported, for Alembic and the tests: the areas' ``models`` modules are
found (``core.areas.import_models``), not listed."""

from xplorr.core.areas import import_models
from xplorr.core.models import Base

import_models()

__all__ = ["Base"]
