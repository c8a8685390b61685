"""Imports every area's models so the metadata is complete (Alembic, mapper configuration)."""

from xplorr.audit_log import models as audit_log_models
from xplorr.auth import models as auth_models
from xplorr.cloud_accounts import models as cloud_accounts_models
from xplorr.core import email as email_models
from xplorr.core.jobs import models as jobs_models
from xplorr.core.models import Base
from xplorr.costs import models as costs_models
from xplorr.orgs import models as orgs_models
from xplorr.passkeys import models as passkeys_models
from xplorr.sso import models as sso_models
from xplorr.sync import models as sync_models
from xplorr.tokens import models as tokens_models
from xplorr.twofa import models as twofa_models
from xplorr.users import models as users_models

__all__ = [
    "Base",
    "audit_log_models",
    "auth_models",
    "cloud_accounts_models",
    "costs_models",
    "email_models",
    "jobs_models",
    "orgs_models",
    "passkeys_models",
    "sso_models",
    "sync_models",
    "tokens_models",
    "twofa_models",
    "users_models",
]
