"""``/settings`` bodies, snake_case (the reference documents none)."""

from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Literal
from zoneinfo import available_timezones

from babel.numbers import list_currencies
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from xplorr.core.money import DecimalNumber

MAX_THRESHOLD = Decimal(10**12)


@cache
def _zones() -> frozenset[str]:
    # The IANA names only: the system's database also holds "localtime", "posixrules" and the
    # "posix/" and "right/" copies, files that are not zones a person picks.
    return frozenset(
        name
        for name in available_timezones()
        if name not in {"localtime", "posixrules", "Factory"}
        and not name.startswith(("posix/", "right/"))
    ) | {"UTC"}


@cache
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def _zone(value: str) -> str:
    if value not in _zones():
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as 'Europe/Paris')")
    return value


def _currency(value: str) -> str:
    code = value.upper()
    if code not in _currencies():
        raise ValueError("must be an ISO 4217 currency code")
    return code


def _time(value: str) -> str:
    hour, minute = (int(part) for part in value.split(":"))
    if hour > 23 or minute > 59:
        raise ValueError("must be a time of day HH:MM (00:00 to 23:59)")
    return f"{hour:02d}:{minute:02d}"


TimeZone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_zone)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$"), AfterValidator(_currency)]
TimeOfDay = Annotated[str, StringConstraints(pattern=r"^\d{1,2}:\d{2}$"), AfterValidator(_time)]
Amount = Annotated[Decimal, Field(ge=0, lt=MAX_THRESHOLD, max_digits=18, decimal_places=6)]
WebhookUrl = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]


def _access_key_id(value: str) -> str:
    # Long-term IAM user keys only: a temporary ASIA... key needs a session token, which
    # base keys do not carry, and would stop working within hours.
    if not value.startswith("AKIA"):
        raise ValueError("must be an IAM user's access key id (AKIA...), not a temporary one")
    return value


CommitmentTerm = Literal["one_year", "three_years"]
CommitmentPaymentOption = Literal["no_upfront", "partial_upfront", "all_upfront"]
_TERM_TEXT = (
    "The commitment term AWS Reserved Instance and Savings Plans purchase recommendations are "
    "asked for (Cost Explorer's TermInYears). Default one_year."
)
_PAYMENT_TEXT = (
    "The payment option they are asked for (Cost Explorer's PaymentOption): a larger upfront "
    "payment buys a larger discount. Default no_upfront."
)

AwsAccessKeyId = Annotated[
    str, StringConstraints(pattern=r"^[A-Z0-9]{16,128}$"), AfterValidator(_access_key_id)
]
AwsSecretAccessKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9/+=]{40}$")]


class SettingsUpdate(BaseModel):
    """Only the fields sent change. ``null`` clears ``default_currency``, the webhooks and the
    base AWS keys (a pair: both or neither); the other fields cannot be null."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    approval_threshold: Amount | None = Field(
        default=None,
        description="Monthly savings above which applying a recommendation needs an approval "
        "(0: every apply does). Compared in the recommendation's own currency.",
    )
    default_currency: Currency | None = Field(
        default=None,
        description="The currency answers use when a request names none (null: the one most "
        "cloud accounts bill in).",
        examples=["EUR"],
    )
    timezone: TimeZone | None = Field(
        default=None,
        description="IANA time zone: the default of schedules and digests.",
        examples=["Europe/Paris"],
    )
    anomaly_min_delta: Amount | None = Field(
        default=None,
        description="An anomaly must exceed its baseline by at least this much, in the "
        "anomaly's own currency (the noise floor).",
    )
    anomaly_detect_drops: StrictBool | None = Field(
        default=None, description="Also report days more than 50 % below the baseline."
    )
    digest_enabled: StrictBool | None = Field(
        default=None, description="The daily digest goes to the org's Slack/Teams webhook."
    )
    digest_time: TimeOfDay | None = Field(
        default=None,
        description="Default send time (HH:MM, in timezone) of daily digests.",
        examples=["09:00"],
    )
    weekly_summary_enabled: StrictBool | None = Field(
        default=None,
        description="The weekly summary (Mondays) goes to the org's Slack/Teams webhook.",
    )
    commitment_term: CommitmentTerm | None = Field(default=None, description=_TERM_TEXT)
    commitment_payment_option: CommitmentPaymentOption | None = Field(
        default=None, description=_PAYMENT_TEXT
    )
    slack_webhook_url: WebhookUrl | None = Field(
        default=None,
        description="A Slack incoming webhook (https://hooks.slack.com/services/...). "
        "Write-only: answered masked.",
        examples=["https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXX"],
    )
    teams_webhook_url: WebhookUrl | None = Field(
        default=None,
        description="A Microsoft Teams Workflows webhook. Write-only: answered masked.",
        examples=["https://prod-00.westeurope.logic.azure.com/workflows/0000/triggers/manual/run"],
    )
    aws_base_access_key_id: AwsAccessKeyId | None = Field(
        default=None,
        description="The org's base AWS keys (an IAM user such as xplorr-assumer, allowed "
        "sts:AssumeRole): every IAM-role cloud account's role is assumed with them instead of "
        "the server's own AWS credentials. Sent together with aws_base_secret_access_key "
        "(both set, or both null to clear). Write-only: answered masked.",
        examples=["AKIAIOSFODNN7EXAMPLE"],
    )
    aws_base_secret_access_key: AwsSecretAccessKey | None = Field(
        default=None,
        description="The base keys' secret (40 characters). Write-only: never answered.",
        examples=["wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"],
    )


class SettingsOut(BaseModel):
    approval_threshold: DecimalNumber
    default_currency: str | None
    timezone: str
    anomaly_min_delta: DecimalNumber
    anomaly_detect_drops: bool
    digest_enabled: bool
    digest_time: str
    weekly_summary_enabled: bool
    commitment_term: CommitmentTerm = Field(description=_TERM_TEXT)
    commitment_payment_option: CommitmentPaymentOption = Field(description=_PAYMENT_TEXT)
    slack_webhook_url: str | None = Field(
        description="Masked: only the host and the last characters are shown."
    )
    teams_webhook_url: str | None = Field(description="Masked, as slack_webhook_url.")
    aws_base_access_key_id: str | None = Field(
        description="Masked (AKIA…WXYZ), null when the org has no base AWS keys."
    )
    aws_base_secret_access_key: str | None = Field(
        description='Never the secret: "********" when base keys are set, else null.'
    )
    aws_base_keys_changed_at: datetime | None = Field(
        description="When the base AWS keys were last saved or cleared."
    )
    updated_at: datetime | None = Field(description="null: never saved (every value a default).")


SlackTestVia = Literal["org_webhook", "default_channel", "app_webhook"]


class SlackTestOut(BaseModel):
    """What the receiver answered (its HTTP status and Slack's answer word: ``ok``,
    ``invalid_payload``, ``channel_not_found``...; any other body is not relayed)."""

    ok: bool
    via: SlackTestVia = Field(
        description="Where the test went: the org's slack_webhook_url; else the default channel "
        "(a Slack one), posted by the installed Slack app's bot; else the incoming webhook the "
        "app's install granted."
    )
    target: str = Field(
        description="The masked webhook URL, or the default channel's name and id, posted to."
    )
    status_code: int
    response: str
