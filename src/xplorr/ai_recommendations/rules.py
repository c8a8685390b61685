"""Insights without an LLM: the same figures, said by fixed rules (``source: "rules"``).
Deterministic: the same figures give the same insights, in the same order."""

from decimal import Decimal
from typing import Final

from xplorr.ai_recommendations.schemas import Figures, InsightOut

ZERO: Final = Decimal(0)
TARGET_COVERAGE: Final = Decimal(60)
WELL_USED: Final = Decimal(95)
MOVER_MIN_PERCENT: Final = Decimal(20)


def insights(f: Figures) -> list[InsightOut]:
    cur = f.currency or ""
    out: list[InsightOut] = []
    if f.total_cost == ZERO and f.previous_total_cost == ZERO:
        return [
            InsightOut(
                title="No cost data yet",
                summary="No spend was recorded in the last 60 days of the accounts you can see: "
                "connect a cloud account or import a FOCUS export.",
                category="other",
                severity="info",
                estimated_monthly_savings=None,
                actions=["Connect a cloud account", "Import a FOCUS export"],
            )
        ]
    if f.change_percent is None:
        trend = "with nothing to compare it with in the 30 days before"
    else:
        direction = "up" if f.change_percent > 0 else "down"
        trend = f"{direction} {abs(f.change_percent)} % on the 30 days before"
    out.append(
        InsightOut(
            title=f"Spend of the last 30 days: {f.total_cost} {cur}",
            summary=f"{f.period_start} to {f.period_end}: {f.total_cost} {cur}, {trend}."
            + (
                f" Largest service: {f.top_services[0].service} ({f.top_services[0].cost} {cur})."
                if f.top_services
                else ""
            ),
            category="spend_trend",
            severity="medium" if (f.change_percent or ZERO) >= MOVER_MIN_PERCENT else "info",
            estimated_monthly_savings=None,
            actions=[],
        )
    )
    for m in f.movers:
        if m.change > ZERO and (m.change_percent is None or m.change_percent >= MOVER_MIN_PERCENT):
            grown = "new this period" if m.change_percent is None else f"+{m.change_percent} %"
            out.append(
                InsightOut(
                    title=f"{m.service} grew by {m.change} {cur}",
                    summary=f"{m.service} cost {m.cost} {cur} in the last 30 days against "
                    f"{m.previous_cost} {cur} in the 30 before ({grown}).",
                    category="spend_trend",
                    severity="medium",
                    estimated_monthly_savings=None,
                    actions=[f"Review what changed in {m.service}"],
                )
            )
            break
    if f.open_anomalies:
        noun = "anomaly" if f.open_anomalies == 1 else "anomalies"
        first = f.anomalies[0] if f.anomalies else None
        detail = ""
        if first is not None:
            where = first.service or f"the {first.scope}"
            above = ""
            if first.percent_above:  # signed: a drop's is negative, said in words instead
                side = "above" if first.percent_above > 0 else "below"
                above = f" ({abs(first.percent_above)} % {side} its baseline)"
            detail = (
                f" Latest: {where} on {first.date}, {first.actual_cost} {first.currency}{above}."
            )
        out.append(
            InsightOut(
                title=f"{f.open_anomalies} open cost {noun}",
                summary=f"{f.open_anomalies} anomalies are still open.{detail}",
                category="anomaly",
                severity="high"
                if first is not None and first.severity in ("high", "critical")
                else "medium",
                estimated_monthly_savings=None,
                actions=["Acknowledge or resolve them in Anomalies"],
            )
        )
    rec = f.recommendations
    if rec.available and rec.open_count:
        top = rec.top[0] if rec.top else None
        out.append(
            InsightOut(
                title=f"{rec.open_count} open recommendations could save {rec.monthly_savings} "
                f"{cur} a month",
                summary=f"{rec.open_count} recommendations are open."
                + (
                    f" The largest kind: {top.type.replace('_', ' ')} ({top.count}, "
                    f"{top.estimated_monthly_savings} {top.currency} a month)."
                    if top
                    else ""
                ),
                category="savings",
                severity="medium",
                estimated_monthly_savings=rec.monthly_savings,
                actions=["Review the open recommendations"],
            )
        )
    c = f.coverage
    if c.coverage_percent is not None and c.coverage_percent < TARGET_COVERAGE:
        saving = sum((g.estimated_monthly_savings for g in c.top_gaps), ZERO)
        gap = c.top_gaps[0] if c.top_gaps else None
        out.append(
            InsightOut(
                title=f"Commitment coverage is {c.coverage_percent} %",
                summary=f"Reservations and savings plans cover {c.coverage_percent} % of eligible "
                f"usage (target 60-80 %); {c.on_demand} {cur} ran on demand in 30 days."
                + (
                    f" Steadiest gap: {gap.service} in {gap.region or 'all regions'}, "
                    f"{gap.average_daily_on_demand_cost} {cur} a day."
                    if gap
                    else ""
                ),
                category="commitment",
                severity="medium",
                estimated_monthly_savings=saving if saving > ZERO else None,
                actions=["Review the coverage gaps in Savings & Coverage"],
            )
        )
    if c.utilization_percent is not None and c.utilization_percent < WELL_USED:
        out.append(
            InsightOut(
                title=f"Commitments are {c.utilization_percent} % used",
                summary="Part of what the commitments cost covered no usage in the last 30 days.",
                category="commitment",
                severity="high" if c.utilization_percent < 80 else "medium",
                estimated_monthly_savings=None,
                actions=["Move matching workloads onto the commitments, or exchange them"],
            )
        )
    for e in c.expiring_within_60_days:
        out.append(
            InsightOut(
                title=f"{e.description} expires in {e.days_left} days",
                summary=f"It expires on {e.expires_on}; its usage then falls back to on-demand "
                "prices unless it is renewed or replaced.",
                category="commitment",
                severity="high" if e.days_left <= 30 else "medium",
                estimated_monthly_savings=None,
                actions=["Renew or replace the commitment"],
            )
        )
    return out
