"""One row of organization-level settings per org (``GET/PATCH /settings``). An org that never
saved any has no row: ``service.get_org_settings`` answers the defaults then."""

from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from sqlalchemy import LargeBinary, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core import secrets
from xplorr.core.models import Base, Money, OrgOwned


class OrgSetting(OrgOwned, Base):
    """The org's settings. Webhook URLs are secrets: sealed under the org's data key, with a
    masked ``*_hint`` kept for answers. Org-wide (no cloud account)."""

    __tablename__ = "org_settings"
    __table_args__ = (UniqueConstraint("org_id"),)
    audit_resource: ClassVar[str] = "settings"
    tenancy_account_column: ClassVar[str] = ""

    approval_threshold: Mapped[Decimal] = mapped_column(Money)
    default_currency: Mapped[str | None] = mapped_column(String(3))
    timezone: Mapped[str] = mapped_column(String(64))
    # Was ``anomaly_settings.noise_floor`` / ``detect_drops`` (moved here, same meaning).
    anomaly_min_delta: Mapped[Decimal] = mapped_column(Money)
    anomaly_detect_drops: Mapped[bool]
    digest_enabled: Mapped[bool]
    digest_time: Mapped[str] = mapped_column(String(5))  # HH:MM in ``timezone``
    weekly_summary_enabled: Mapped[bool]
    # The commitment offer AWS purchase recommendations are asked for (Cost Explorer's
    # TermInYears and PaymentOption, lowercased): one_year | three_years; no_upfront |
    # partial_upfront | all_upfront.
    commitment_term: Mapped[str] = mapped_column(String(16))
    commitment_payment_option: Mapped[str] = mapped_column(String(16))
    slack_webhook_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    slack_key_version: Mapped[int | None] = mapped_column(SmallInteger)
    slack_webhook_hint: Mapped[str | None] = mapped_column(String(80))
    teams_webhook_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    teams_key_version: Mapped[int | None] = mapped_column(SmallInteger)
    teams_webhook_hint: Mapped[str | None] = mapped_column(String(80))
    # The org's base AWS keys (IAM user ``xplorr-assumer``) that assume every IAM-role
    # account's role: both sealed together as one JSON pair, the access key id's masked hint
    # beside them, and when they last changed (the console's banner).
    aws_base_keys_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    aws_base_key_version: Mapped[int | None] = mapped_column(SmallInteger)
    aws_base_access_key_id_hint: Mapped[str | None] = mapped_column(String(32))
    aws_base_keys_changed_at: Mapped[datetime | None]

    @property
    def audit_name(self) -> str | None:
        return "organization settings"


SLACK_WEBHOOK = secrets.register(
    secrets.SealedColumn(
        OrgSetting,
        "slack_webhook_encrypted",
        "slack_key_version",
        purpose="org_slack_webhook",
        label="org_slack_webhooks",
    )
)
TEAMS_WEBHOOK = secrets.register(
    secrets.SealedColumn(
        OrgSetting,
        "teams_webhook_encrypted",
        "teams_key_version",
        purpose="org_teams_webhook",
        label="org_teams_webhooks",
    )
)
AWS_BASE_KEYS = secrets.register(
    secrets.SealedColumn(
        OrgSetting,
        "aws_base_keys_encrypted",
        "aws_base_key_version",
        purpose="org_aws_base_keys",
        label="org_aws_assumers",  # a count in keys.rotated: not a secret's name
    )
)
