"""What each notification says: an email (plain text and HTML, from ``templates/email``), a
Slack Block Kit message and a Teams Adaptive Card, all from the event's numbers.

Amounts are formatted per currency with babel (``$1,234.50``, ``¥1,234``, ``1.234,50 €`` is a
locale matter: the installation writes ``en`` for now), each rounded to its currency's minor
units; links go to ``XPLORR_BASE_URL`` + the event's console path.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from xplorr.core import money
from xplorr.core.email import link as absolute_link
from xplorr.core.settings import Settings
from xplorr.notifications.events import (
    AlertTriggered,
    AnomalyDetected,
    ApprovalNotice,
    BudgetAlert,
    BudgetUsage,
    DailyDigest,
    Notification,
    ProjectedOverrun,
    RecommendationNotice,
    RiSpExpiration,
    ServiceSpend,
    Severity,
    SyncComplete,
    SyncFailed,
    WeeklyDigest,
    WeeklySummary,
    Welcome,
)

LOCALE = "en_US"
BAR_SEGMENTS = 10  # a budget's usage bar in chat
CHAT_BUDGETS = 10  # budgets shown in one chat digest (the most used first)
SLACK_TEXT_LIMIT = 3000  # a section's text (Block Kit)
_SEVERITY_MARK = {
    Severity.LOW: ":large_blue_circle:",
    Severity.MEDIUM: ":large_yellow_circle:",
    Severity.HIGH: ":large_orange_circle:",
    Severity.CRITICAL: ":red_circle:",
}
_TEAMS_COLOR = {
    Severity.LOW: "Default",
    Severity.MEDIUM: "Warning",
    Severity.HIGH: "Attention",
    Severity.CRITICAL: "Attention",
}


def fmt_money(amount: Decimal | str | None, currency: str | None) -> str:
    """``$1,234.50``: rounded to the currency's minor units, babel's symbol and grouping."""
    if amount is None:
        return "-"
    value = Decimal(amount)
    if not currency:
        return format_decimal(value, locale=LOCALE)
    rounded = money.round_money(value, currency)
    return str(format_currency(rounded, currency, locale=LOCALE, currency_digits=True))


def fmt_percent(value: Decimal | str | int | None) -> str:
    if value is None:
        return "-"
    number = format_decimal(Decimal(value), format="#,##0.0", locale=LOCALE)
    return f"{number} %"


def fmt_date(value: date | datetime | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


@dataclass(frozen=True, slots=True)
class Card:
    """The channel-neutral content: a title, one sentence, labelled facts, a console path."""

    title: str
    summary: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    path: str = "/"


_METRIC = {"daily_spend": "Daily spend", "monthly_spend": "Month-to-date spend",
           "forecast": "Forecast spend"}  # fmt: skip


def _arrow(change: Decimal | None) -> str:
    if change is None or change == 0:
        return "→"
    return "↑" if change > 0 else "↓"


def _mom(s: ServiceSpend) -> Decimal | None:
    """A service's change against the previous period, in percent (None without one)."""
    if s.previous is None or s.previous == 0:
        return None
    return (s.amount - s.previous) * 100 / abs(s.previous)


def usage_bar(percent_used: Decimal) -> str:
    """``▰▰▰▰▱▱▱▱▱▱``: the share of a budget used, in ``BAR_SEGMENTS`` (full past 100 %)."""
    filled = min(BAR_SEGMENTS, max(0, int(percent_used * BAR_SEGMENTS / 100)))
    return "▰" * filled + "▱" * (BAR_SEGMENTS - filled)


def _budget_facts(budgets: tuple[BudgetUsage, ...], cur: str) -> list[tuple[str, str]]:
    """Each budget's usage bar and its forecast against the amount, the most used first."""
    facts = []
    for b in sorted(budgets, key=lambda b: (-b.percent_used, b.name))[:CHAT_BUDGETS]:
        text = (
            f"{usage_bar(b.percent_used)} {fmt_percent(b.percent_used)} of "
            f"{fmt_money(b.amount, cur)} ({fmt_money(b.spent, cur)} spent)"
        )
        if b.forecast is not None:
            gap = b.forecast - b.amount
            side = "over" if gap > 0 else "under"
            text += (
                f"; forecast {fmt_money(b.forecast, cur)} by {fmt_date(b.period_end)}, "
                f"{fmt_money(abs(gap), cur)} {side}"
            )
        facts.append((f"Budget {b.name}: {b.standing}", text))
    return facts


def _change(amount: Decimal, previous: Decimal | None) -> str:
    """``+12.5 %`` against ``previous`` (``n/a`` without one or from zero)."""
    if previous is None or previous == 0:
        return "n/a"
    value = (amount - previous) * 100 / abs(previous)
    return ("+" if value > 0 else "") + fmt_percent(value)


def _weekly_summary(event: WeeklySummary) -> Card:
    cur = event.currency

    def m(value: Decimal | None) -> str:
        return fmt_money(value, cur)

    change = _change(event.total, event.previous_total)
    if event.change_percent is not None:
        change = ("+" if event.change_percent > 0 else "") + fmt_percent(event.change_percent)
    facts = [("Spend", m(event.total))]
    if event.previous_total is not None:
        facts.append(("Week before", f"{m(event.previous_total)} ({change} week over week)"))
    facts += [
        (p.provider, f"{m(p.amount)} ({_change(p.amount, p.previous)}; before {m(p.previous)})")
        for p in event.providers
    ]
    facts += [
        (f"Mover: {s.service}", f"{m(s.amount)} (before {m(s.previous)}, "
         f"{_change(s.amount, s.previous)})")
        for s in event.top_movers[:5]
    ]  # fmt: skip
    excess = "" if event.anomaly_excess is None else f", {m(event.anomaly_excess)} above baseline"
    facts.append(("Anomalies", f"{event.anomalies}{excess}"))
    realised = "" if event.savings_realized is None else f", {m(event.savings_realized)}/month"
    facts.append(("Recommendations applied", f"{event.recommendations_applied}{realised}"))
    potential = "" if event.potential_savings is None else f", {m(event.potential_savings)}/month"
    facts.append(("Open recommendations", f"{event.open_recommendations}{potential}"))
    facts += _budget_facts(event.budgets, cur)
    if event.insight:
        facts.append((f"Insight written by an LLM ({event.insight_model})", event.insight))
    return Card(
        f"Weekly cost summary {fmt_date(event.week_start)} to {fmt_date(event.week_end)} ({cur})",
        f"Last week's spend was {m(event.total)}, {change} week over week.",
        facts,
        event.console_path,
    )


def _daily_digest(event: DailyDigest) -> Card:
    cur = event.currency
    change = "n/a" if event.change_percent is None else fmt_percent(event.change_percent)
    facts = [
        ("Yesterday", fmt_money(event.yesterday, cur)),
        ("7-day average", fmt_money(event.average_7_days, cur)),
    ]
    for s in event.top_services[:5]:
        mom = _mom(s)
        trend = "" if mom is None else f" ({fmt_percent(mom)} MoM)"
        facts.append((s.service, fmt_money(s.amount, cur) + trend))
    if event.forecast is not None:
        facts.append(("Forecast this month", fmt_money(event.forecast, cur)))
    worst = f", highest {event.highest_severity.value}" if event.highest_severity else ""
    facts.append(("New anomalies", f"{event.new_anomalies}{worst}"))
    if event.open_recommendations:
        saving = "" if event.potential_savings is None else fmt_money(event.potential_savings, cur)
        facts.append(("Open recommendations", f"{event.open_recommendations}, {saving}/month"))
        for rec in event.top_recommendations[:3]:
            facts.append((rec.title, fmt_money(rec.monthly_savings, cur) + "/month"))
    facts += _budget_facts(event.budgets, cur)
    return Card(
        f"Daily cost digest {fmt_date(event.day)} ({cur})",
        f"Yesterday's spend was {fmt_money(event.yesterday, cur)} "
        f"{_arrow(event.change_percent)} {change} against the 7-day average.",
        facts,
        event.console_path,
    )


def describe(event: Notification) -> Card:
    m = fmt_money
    if isinstance(event, AnomalyDetected):
        where = " / ".join(x for x in (event.service, event.account_name) if x) or "All accounts"
        verb = "above" if event.direction == "spike" else "below"
        facts = [
            ("Scope", where),
            ("Day", fmt_date(event.day)),
            ("Actual", m(event.actual, event.currency)),
            ("7-day baseline", m(event.baseline, event.currency)),
            (f"Percent {verb} baseline", fmt_percent(event.percent_off_baseline)),
            ("Severity", event.severity.value),
        ]
        facts += [
            (f"Top {c.kind}: {c.name}", f"{m(c.actual, event.currency)} "
             f"(baseline {m(c.baseline, event.currency)})")
            for c in event.top_contributors[:5]
        ]  # fmt: skip
        return Card(
            f"{event.severity.value.capitalize()} cost anomaly: {where}",
            f"{where} cost {m(event.actual, event.currency)} on {fmt_date(event.day)}, "
            f"{fmt_percent(event.percent_off_baseline)} {verb} its 7-day baseline of "
            f"{m(event.baseline, event.currency)}.",
            facts,
            event.console_path,
        )
    if isinstance(event, BudgetAlert):
        return Card(
            f"Budget {event.budget_name} reached {event.threshold_percent} %",
            f"Spend on {event.budget_name} is {m(event.current_spend, event.currency)}, "
            f"{fmt_percent(event.percent_used)} of its {m(event.amount, event.currency)} budget "
            f"for {fmt_date(event.period_start)} to {fmt_date(event.period_end)}.",
            [
                ("Budget", m(event.amount, event.currency)),
                ("Current spend", m(event.current_spend, event.currency)),
                ("Used", fmt_percent(event.percent_used)),
                ("Forecast", m(event.forecast, event.currency)),
                ("Period", f"{fmt_date(event.period_start)} to {fmt_date(event.period_end)}"),
            ],
            event.console_path,
        )
    if isinstance(event, ProjectedOverrun):
        interval = ""
        if event.forecast_low is not None and event.forecast_high is not None:
            interval = (
                f" (day-to-day range {m(event.forecast_low, event.currency)} to "
                f"{m(event.forecast_high, event.currency)})"
            )
        return Card(
            f"Budget {event.budget_name} is projected to overrun",
            f"The forecast for {event.budget_name} is {m(event.forecast, event.currency)}"
            f"{interval}, above its {m(event.amount, event.currency)} budget; "
            f"{m(event.current_spend, event.currency)} spent so far.",
            [
                ("Budget", m(event.amount, event.currency)),
                ("Forecast", m(event.forecast, event.currency)),
                ("Overrun", m(event.forecast - event.amount, event.currency)),
                ("Current spend", m(event.current_spend, event.currency)),
                ("Period", f"{fmt_date(event.period_start)} to {fmt_date(event.period_end)}"),
            ],
            event.console_path,
        )
    if isinstance(event, AlertTriggered):
        metric = _METRIC.get(event.metric, event.metric)
        window = fmt_date(event.window_start)
        if event.window_end != event.window_start:
            window += f" to {fmt_date(event.window_end)}"
        facts = [
            ("Metric", metric),
            ("Value", m(event.value, event.currency)),
            ("Condition", f"{event.condition_op} {m(event.threshold, event.currency)}"),
            ("Window", window),
        ]
        if event.service_filter:
            facts.append(("Service", event.service_filter))
        if event.region_filter:
            facts.append(("Region", event.region_filter))
        return Card(
            f"Alert: {event.rule_name}",
            f"{metric} was {m(event.value, event.currency)} ({window}), "
            f"{event.condition_op} {m(event.threshold, event.currency)}.",
            facts,
            event.console_path,
        )
    if isinstance(event, SyncFailed):
        return Card(
            f"Sync failed: {event.account_name}",
            f"The {event.provider} account {event.account_name} could not be synced: "
            f"{event.error}",
            [("Account", event.account_name), ("Provider", event.provider),
             ("Failed at", fmt_date(event.failed_at))],
            event.console_path,
        )  # fmt: skip
    if isinstance(event, SyncComplete):
        return Card(
            f"Sync complete: {event.account_name}",
            f"The {event.provider} account {event.account_name} synced {event.rows} rows; "
            f"cost data through {fmt_date(event.data_through)}.",
            [("Account", event.account_name), ("Rows", str(event.rows)),
             ("Data through", fmt_date(event.data_through)),
             ("Finished at", fmt_date(event.finished_at))],
            event.console_path,
        )  # fmt: skip
    if isinstance(event, Welcome):
        return Card(
            f"Welcome to {event.org_name} on Xplorr",
            f"Hello {event.user_name}, your Xplorr account in {event.org_name} is ready.",
            [],
            event.console_path,
        )
    if isinstance(event, WeeklySummary):
        return _weekly_summary(event)
    if isinstance(event, WeeklyDigest):
        facts = [("Spend", m(event.total, event.currency))]
        if event.previous_total is not None:
            facts.append(("Previous week", m(event.previous_total, event.currency)))
        facts += [(f"{s.service}", m(s.amount, event.currency)) for s in event.top_services[:5]]
        facts += [("Anomalies", str(event.anomalies)),
                  ("Open recommendations", str(event.open_recommendations))]  # fmt: skip
        if event.potential_savings is not None:
            facts.append(("Potential savings", m(event.potential_savings, event.currency)))
        return Card(
            f"Weekly cost digest {fmt_date(event.week_start)} to {fmt_date(event.week_end)}",
            f"Last week's spend was {m(event.total, event.currency)}.",
            facts,
            event.console_path,
        )
    if isinstance(event, DailyDigest):
        return _daily_digest(event)
    if isinstance(event, RiSpExpiration):
        kind = "Reserved instance" if event.commitment_type == "reserved_instance" else (
            "Savings plan")  # fmt: skip
        return Card(
            f"{kind} expires in {event.days_left} days",
            f"{kind} {event.description} expires on {fmt_date(event.expires_on)}.",
            [("Commitment", event.description), ("Expires", fmt_date(event.expires_on)),
             ("Monthly cost", m(event.monthly_cost, event.currency))],
            event.console_path,
        )  # fmt: skip
    if isinstance(event, RecommendationNotice):
        return Card(
            f"Recommendation: {event.title}",
            f"{event.title} could save {m(event.monthly_savings, event.currency)} a month.",
            [("Monthly savings", m(event.monthly_savings, event.currency))],
            event.console_path,
        )
    if isinstance(event, ApprovalNotice):
        return Card(
            f"Approval {event.status}: {event.action}",
            f"{event.action} requested by {event.requested_by} is {event.status}.",
            [("Action", event.action), ("Requested by", event.requested_by),
             ("Status", event.status)],
            event.console_path,
        )  # fmt: skip
    raise TypeError(f"no rendering for {type(event).__name__}")


# -- email --------------------------------------------------------------------------------------

_env = Environment(
    loader=PackageLoader("xplorr", "templates/email"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
_env.filters["money"] = fmt_money
_env.filters["percent"] = fmt_percent
_env.filters["day"] = fmt_date


def email(event: Notification, settings: Settings) -> tuple[str, str, str]:
    """(subject, plain text, HTML) from ``notify_<type>.txt`` / ``.html``."""
    card = describe(event)
    context: dict[str, Any] = {
        "event": event,
        "card": card,
        "link": absolute_link(settings, card.path),
        "settings_link": absolute_link(settings, "/settings/notifications"),
    }
    name = f"notify_{event.type.value}"
    text = _env.get_template(f"{name}.txt").render(**context)
    html = _env.get_template(f"{name}.html").render(**context)
    return f"[Xplorr] {card.title}", text, html


# -- Slack ---------------------------------------------------------------------------------------


def _slack_escape(text: str) -> str:
    """Slack's mrkdwn control characters (``&``, ``<``, ``>``) escaped: user text cannot
    inject a link or a mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(event: Notification, settings: Settings) -> dict[str, Any]:
    """An incoming-webhook message: ``text`` (the notification fallback) and Block Kit blocks
    (slack_sdk's models, which validate lengths; imported on first use: the SDK's package
    imports its web clients too, which an API process never needs)."""
    from slack_sdk.models.blocks import (
        ActionsBlock,
        ButtonElement,
        ContextBlock,
        HeaderBlock,
        MarkdownTextObject,
        PlainTextObject,
        SectionBlock,
    )

    card = describe(event)
    url = absolute_link(settings, card.path)
    mark = _SEVERITY_MARK[event.severity]
    blocks: list[Any] = [
        HeaderBlock(text=PlainTextObject(text=card.title[:150])),
        SectionBlock(text=MarkdownTextObject(text=f"{mark} {_slack_escape(card.summary)}"[:3000])),
    ]
    facts = [
        MarkdownTextObject(text=f"*{_slack_escape(label)}*\n{_slack_escape(value)}"[:2000])
        for label, value in card.facts
    ]
    for start in range(0, len(facts), 10):  # a section holds at most 10 fields
        blocks.append(SectionBlock(fields=facts[start : start + 10]))
    blocks.append(
        ActionsBlock(elements=[ButtonElement(text="Open in Xplorr", url=url, action_id="open")])
    )
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"Xplorr · {event.type.value}")]))
    return {
        "text": f"{card.title}: {card.summary}"[:SLACK_TEXT_LIMIT],
        "blocks": [block.to_dict() for block in blocks],
    }


# -- Microsoft Teams (Workflows webhook) ----------------------------------------------------------


def teams(event: Notification, settings: Settings) -> dict[str, Any]:
    """A Workflows webhook message: one Adaptive Card (1.4) attachment."""
    card = describe(event)
    url = absolute_link(settings, card.path)
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": card.title,
            "weight": "Bolder",
            "size": "Medium",
            "color": _TEAMS_COLOR[event.severity],
            "wrap": True,
        },
        {"type": "TextBlock", "text": card.summary, "wrap": True},
    ]
    if card.facts:
        body.append({"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in card.facts]})
    content = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": "Open in Xplorr", "url": url}],
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": content,
            }
        ],
    }
