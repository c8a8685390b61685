"""Organization-level settings: one typed model every area reads (``get_org_settings``), the
admins' ``PATCH /settings``, and the Slack test message.

An org that never saved settings has no row: every value is its default (``OrgSettings()``),
and the first PATCH writes the row. Webhook URLs are secrets: checked by ``core.egress`` when
saved (a 422 naming the field) and again when used, sealed under the org's data key
(``core.secrets``), answered masked, and named in the audit record only as set or cleared.

The org's base AWS keys (``aws_base_keys``) are a secret too: an ``AKIA`` key id and its
secret, saved or cleared as a pair, sealed together, answered masked; every IAM-role AWS
account's role is assumed from them (``connectors.aws.session.org_base_keys``).

The org's webhooks are the notification hub's fallback chat target (product-notes.md section
25: "with no channels, fall back to the org webhook URL"): ``jobs.py`` registers them with the
hub.
"""

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any, Final

import httpx
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core import audit, clock, egress, money
from xplorr.core.crypto import OrgCipher
from xplorr.core.errors import Conflict, Upstream, ValidationFailed
from xplorr.core.secrets import SealedColumn
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Principal, org_scope, org_select
from xplorr.notifications import webhooks
from xplorr.notifications.models import Channel
from xplorr.settings.models import AWS_BASE_KEYS, SLACK_WEBHOOK, TEAMS_WEBHOOK, OrgSetting
from xplorr.settings.schemas import SettingsOut, SettingsUpdate, SlackTestOut, SlackTestVia

WEBHOOK_SOURCE: Final = "org_settings"  # the hub's name for the org webhooks' resolver
DEFAULT_APPROVAL_THRESHOLD: Final = Decimal(500)
DEFAULT_ANOMALY_MIN_DELTA: Final = Decimal(10)  # was anomalies.detect.DEFAULT_NOISE_FLOOR
DEFAULT_TIMEZONE: Final = "UTC"
DEFAULT_DIGEST_TIME: Final = "09:00"
DEFAULT_COMMITMENT_TERM: Final = "one_year"
DEFAULT_COMMITMENT_PAYMENT_OPTION: Final = "no_upfront"
# Slack answers a webhook post with a short word (``ok``, ``invalid_payload``,
# ``channel_not_found``): that is shown; any other body is not relayed (security guide API7).
_SLACK_WORD: Final = re.compile(r"^[a-z0-9_]{1,64}$")


@dataclass(frozen=True, slots=True)
class OrgSettings:
    """An organization's settings, every field typed and defaulted (what an org that never
    saved any gets). ``approval_threshold`` and ``anomaly_min_delta`` are amounts compared in
    the currency at hand (a recommendation's, an anomaly's), per month for the threshold.
    ``default_currency`` None: answers default to the currency most cloud accounts bill in.
    ``digest_time``: ``HH:MM`` in ``timezone``. The webhooks themselves are not here (secrets):
    ``has_slack_webhook``/``has_teams_webhook`` say whether they are set, ``webhook_url`` reads
    one."""

    approval_threshold: Decimal = DEFAULT_APPROVAL_THRESHOLD
    default_currency: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    anomaly_min_delta: Decimal = DEFAULT_ANOMALY_MIN_DELTA
    anomaly_detect_drops: bool = False
    digest_enabled: bool = True
    digest_time: str = DEFAULT_DIGEST_TIME
    weekly_summary_enabled: bool = True
    commitment_term: str = DEFAULT_COMMITMENT_TERM
    commitment_payment_option: str = DEFAULT_COMMITMENT_PAYMENT_OPTION
    has_slack_webhook: bool = False
    has_teams_webhook: bool = False
    has_aws_base_keys: bool = False

    @property
    def digest_hour(self) -> int:
        return int(self.digest_time[:2])

    @property
    def digest_minute(self) -> int:
        return int(self.digest_time[3:])


_VALUE_FIELDS: Final = tuple(f.name for f in fields(OrgSettings) if not f.name.startswith("has_"))
_WEBHOOKS: Final[dict[Channel, tuple[str, SealedColumn, str]]] = {
    # channel -> (body field, sealed column, hint attribute)
    Channel.SLACK: ("slack_webhook_url", SLACK_WEBHOOK, "slack_webhook_hint"),
    Channel.TEAMS: ("teams_webhook_url", TEAMS_WEBHOOK, "teams_webhook_hint"),
}


async def _row(
    db: AsyncSession, org_id: uuid.UUID, *, for_update: bool = False
) -> OrgSetting | None:
    stmt = org_select(OrgSetting, org_scope(org_id))
    return await db.scalar(stmt.with_for_update() if for_update else stmt)


def _domain(row: OrgSetting | None) -> OrgSettings:
    if row is None:
        return OrgSettings()
    values = {name: getattr(row, name) for name in _VALUE_FIELDS}
    for name, value in values.items():
        if isinstance(value, Decimal):  # the store keeps 9 places: 500.000000000 -> 500
            values[name] = value.normalize()
    return OrgSettings(
        **values,
        has_slack_webhook=row.slack_webhook_encrypted is not None,
        has_teams_webhook=row.teams_webhook_encrypted is not None,
        has_aws_base_keys=row.aws_base_keys_encrypted is not None,
    )


async def get_org_settings(db: AsyncSession, org_id: uuid.UUID) -> OrgSettings:
    """The organization's settings (the defaults when it never saved any). For any area:
    reads one row, no principal needed (the caller already works within ``org_id``)."""
    return _domain(await _row(db, org_id))


def _out(row: OrgSetting | None) -> SettingsOut:
    values = _domain(row)
    return SettingsOut(
        **{name: getattr(values, name) for name in _VALUE_FIELDS},
        slack_webhook_url=row.slack_webhook_hint if row is not None else None,
        teams_webhook_url=row.teams_webhook_hint if row is not None else None,
        aws_base_access_key_id=row.aws_base_access_key_id_hint if row is not None else None,
        aws_base_secret_access_key=SECRET_MASK if values.has_aws_base_keys else None,
        aws_base_keys_changed_at=row.aws_base_keys_changed_at if row is not None else None,
        updated_at=row.updated_at if row is not None else None,
    )


async def read_settings(db: AsyncSession, who: Principal) -> SettingsOut:
    return _out(await _row(db, who.org_id))


# -- webhooks ------------------------------------------------------------------------------------


async def webhook_url(
    db: AsyncSession, settings: Settings, org_id: uuid.UUID, source_id: uuid.UUID, channel: Channel
) -> str | None:
    """The hub's resolver (``WebhookTarget(source="org_settings", source_id=<org id>)``): the
    org's webhook URL for ``channel`` now, or None once it was cleared."""
    if source_id != org_id or channel not in _WEBHOOKS:
        return None
    row = await _row(db, org_id)
    if row is None:
        return None
    return await webhooks.read(db, settings, row, _WEBHOOKS[channel][1])


# -- AWS base keys ------------------------------------------------------------------------------

SECRET_MASK: Final = "********"  # noqa: S105 (what is shown instead of the secret)
_AWS_BASE_FIELDS: Final = ("aws_base_access_key_id", "aws_base_secret_access_key")


async def aws_base_keys(
    db: AsyncSession, settings: Settings, org_id: uuid.UUID
) -> tuple[str, str] | None:
    """The org's base AWS keys (access key id, secret access key), or None when it has none
    (IAM-role accounts are then assumed from the server's own credentials). Raises
    ``core.crypto.CryptoError`` when the sealed pair cannot be opened."""
    row = await _row(db, org_id)
    if row is None or row.aws_base_keys_encrypted is None:
        return None
    cipher = await OrgCipher.load(db, settings, org_id)
    pair = json.loads(cipher.open_column(AWS_BASE_KEYS, row))
    return str(pair["access_key_id"]), str(pair["secret_access_key"])


def _mask_key_id(key_id: str) -> str:
    return f"{key_id[:4]}…{key_id[-4:]}"


def _check_aws_base_pair(changes: dict[str, Any]) -> None:
    """Both base-key fields are sent together, both set or both null (a 422 naming the one
    missing or null otherwise), so a half pair is never stored."""
    values = {name: changes.get(name) for name in _AWS_BASE_FIELDS if name in changes}
    if not values:
        return
    for name in _AWS_BASE_FIELDS:
        if name not in values or (values[name] is None) != all(v is None for v in values.values()):
            raise ValidationFailed.on(
                name,
                "aws_base_access_key_id and aws_base_secret_access_key are set together "
                "(or both null to clear them)",
            )


async def _store_aws_base_keys(
    db: AsyncSession, settings: Settings, row: OrgSetting, changes: dict[str, Any]
) -> None:
    """Seal the pair sent (checked by ``_check_aws_base_pair``), or clear it."""
    if not any(name in changes for name in _AWS_BASE_FIELDS):
        return
    key_id = changes.pop("aws_base_access_key_id")
    secret = changes.pop("aws_base_secret_access_key")
    row.aws_base_keys_changed_at = clock.now()
    if key_id is None:
        row.aws_base_keys_encrypted = None
        row.aws_base_key_version = None
        row.aws_base_access_key_id_hint = None
        return
    pair = json.dumps({"access_key_id": key_id, "secret_access_key": secret}).encode()
    cipher = await OrgCipher.load(db, settings, row.org_id)
    await cipher.seal_column(db, AWS_BASE_KEYS, row, pair)
    row.aws_base_access_key_id_hint = _mask_key_id(key_id)


# -- update --------------------------------------------------------------------------------------


async def _first_row(db: AsyncSession, org_id: uuid.UUID) -> OrgSetting:
    """The org's row, made from the defaults; a first save racing another one reads the
    winner's row instead (one row per org, a unique key)."""
    defaults = OrgSettings()
    row = OrgSetting(
        id=uuid.uuid4(), org_id=org_id, **{name: getattr(defaults, name) for name in _VALUE_FIELDS}
    )
    try:
        async with db.begin_nested():
            db.add(row)
            await db.flush()
    except IntegrityError:
        found = await _row(db, org_id, for_update=True)
        if found is None:
            raise
        return found
    return row


def _audit_value(name: str, value: Any) -> Any:
    if name in ("slack_webhook_url", "teams_webhook_url", *_AWS_BASE_FIELDS):
        return "cleared" if value is None else audit.REDACTED
    if isinstance(value, Decimal):
        return money.plain(value)
    return value


async def update_settings(
    db: AsyncSession, settings: Settings, who: Principal, data: SettingsUpdate
) -> SettingsOut:
    """Apply the fields sent (admins; the router checks the role). The first save creates the
    org's row from the defaults. Audited ``settings.updated`` with each changed field's new
    value (webhooks only as ``[REDACTED]`` or ``cleared``)."""
    changes = data.model_dump(exclude_unset=True)
    nullable = {"default_currency", "slack_webhook_url", "teams_webhook_url", *_AWS_BASE_FIELDS}
    for name, value in changes.items():
        if value is None and name not in nullable:
            raise ValidationFailed.on(name, "may not be null")
    _check_aws_base_pair(changes)
    row = await _row(db, who.org_id, for_update=True) or await _first_row(db, who.org_id)
    await _store_aws_base_keys(db, settings, row, changes)
    for channel, (field, column, hint) in _WEBHOOKS.items():
        if field in changes:
            url = changes.pop(field)
            await webhooks.store(
                db, settings, row, channel, url, field=field, column=column, hint=hint
            )
    before = {name: getattr(row, name) for name in changes}
    for name, value in changes.items():
        setattr(row, name, value)
    await db.flush()
    sent = data.model_dump(exclude_unset=True)
    changed = {
        name: _audit_value(name, value)
        for name, value in sent.items()
        if name not in before or before[name] != value
    }
    await audit.record(db, "settings.updated", who=who, target=row, details={"changes": changed})
    await db.refresh(row)
    return _out(row)


# -- Slack test ----------------------------------------------------------------------------------


def test_message() -> dict[str, Any]:
    """The test message, ``{"text", "blocks"}`` (Block Kit), wherever it is posted."""
    text = "Xplorr test message: this channel receives your organization's cost notifications."
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f":white_check_mark: {text}"}}
        ],
    }


def slack_word(said: str) -> str:
    """Slack's answer word (``ok``, ``invalid_payload``, ``channel_not_found``) as shown; any
    other body is not relayed (security guide API7)."""
    said = said.strip()
    return said if _SLACK_WORD.match(said) else "(answer not shown)"


async def post_test_to_webhook(
    settings: Settings, url: str, *, via: SlackTestVia, target: str, field: str
) -> SlackTestOut:
    """Post the test message to a Slack webhook under the hub's egress rules: 422 naming
    ``field`` when the URL may no longer be called, 502 when Slack could not be reached."""
    hosts, paths = webhooks.egress_rules(Channel.SLACK)
    try:
        answer = await egress.post_json(
            url, test_message(), settings, hosts=hosts, path_prefixes=paths
        )
    except egress.EgressRefused as exc:
        raise ValidationFailed.on(field, str(exc)) from exc
    except httpx.HTTPError as exc:
        raise Upstream(f"Slack could not be reached ({type(exc).__name__}).") from exc
    return SlackTestOut(
        ok=200 <= answer.status_code < 300,
        via=via,
        target=target,
        status_code=answer.status_code,
        response=slack_word(answer.text),
    )


# Where the test goes when the org saved no Slack webhook: the Slack app's own destinations
# (its default channel, else its install's incoming webhook), registered by the slack area
# (``slack.jobs``; settings knows no chat app). None: the app has nowhere to post for the org.
SlackAppTest = Callable[[AsyncSession, Settings, uuid.UUID], Awaitable[SlackTestOut | None]]
SLACK_APP_TESTS: dict[str, SlackAppTest] = {}


async def send_slack_test(db: AsyncSession, settings: Settings, who: Principal) -> SlackTestOut:
    """Post a test message where the org's Slack notifications can go and say what Slack
    answered: the org's Slack webhook when one is set; otherwise, with the Slack app
    installed, the org's default channel (a Slack one) through the bot, else the incoming
    webhook the install granted. 200 with ``ok`` false and the status when Slack refused it;
    409 ``SLACK_NOT_CONFIGURED`` when there is nowhere to post; 422 when the stored URL may no
    longer be called (its host now resolves to a private address); 502 when Slack could not be
    reached. Audited ``settings.slack_tested``."""
    row = await _row(db, who.org_id)
    url = await webhook_url(db, settings, who.org_id, who.org_id, Channel.SLACK)
    out: SlackTestOut | None = None
    if row is not None and url is not None:
        target = row.slack_webhook_hint or webhooks.mask(url)
        out = await post_test_to_webhook(
            settings, url, via="org_webhook", target=target, field="slack_webhook_url"
        )
    else:
        for app_test in SLACK_APP_TESTS.values():
            out = await app_test(db, settings, who.org_id)
            if out is not None:
                break
    if out is None:
        raise Conflict(
            "No Slack webhook is set and the Slack app has nowhere to post: save "
            "slack_webhook_url with PATCH /settings, or install the Slack app (GET "
            "/slack/install) and make a Slack channel the default (POST /channels).",
            code="SLACK_NOT_CONFIGURED",
        )
    await audit.record(
        db,
        "settings.slack_tested",
        who=who,
        target=row,
        resource_type=None if row is not None else OrgSetting.audit_resource,
        details={"http_status": out.status_code, "ok": out.ok, "via": out.via},
    )
    return out
