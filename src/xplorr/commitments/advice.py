"""Advice of ``/commitments/analysis`` written by an LLM over the analysis's own figures.

With an LLM configured (``XPLORR_LLM_BASE_URL``, ``XPLORR_LLM_MODEL``), the figures the answer
shows (spend by pricing model, coverage, utilisation, the steady gaps and their estimated
savings, owned commitments and their expiry: aggregates, no account, commitment or resource id)
are sent in one chat completion (``core.llm``, JSON mode, validated as ``LlmAdviceAnswer``).
The advice is then held to them: a saving it claims above the gaps' own estimate
(``steady_gap_savings``) rejects the whole answer. It is cached per organization and exact
figures for the UTC day (``CommitmentAdvice``), so the advice shown always matches the numbers
beside it and an unchanged page does not ask again.

Without an LLM, or when it is late, fails, answers out of schema or beyond the figures, the
rules' advice is shown, ``advice_source: "rules"``, and ``advice_note`` names the reason; a
failure is remembered for ``RETRY_AFTER`` so that a broken LLM does not slow every request.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, Final, Literal

import structlog
from pydantic import ValidationError
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.commitments.models import CommitmentAdvice
from xplorr.commitments.schemas import (
    Advice,
    AdviceCommitment,
    AdviceFigures,
    AdviceGap,
    CommitmentAnalysisOut,
    LlmAdviceAnswer,
)
from xplorr.core import clock, llm, money
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Principal, org_select

RETRY_AFTER: Final = timedelta(minutes=15)
FAILED: Final = "(failed)"  # CommitmentAdvice.model of a remembered failure
GAPS_SHOWN: Final = 10
FALLBACK: Final = "advice comes from rules"
SYSTEM: Final = (
    "You are a FinOps analyst advising one organization on reserved instances and savings "
    "plans. You are given its commitment coverage figures as JSON, computed from its bill: "
    "spend by pricing model over the period, coverage and utilisation (with their "
    "definitions), the on-demand groups of the last 30 days (coverage_gaps, with the saving "
    "the figures estimate for each) and the commitments it owns with their expiry. Write 2 to "
    "6 pieces of advice a FinOps engineer would act on, the most important first. Use only "
    "these figures and quote them exactly: never invent a service, region, amount or "
    "percentage. Amounts are in the figures' currency. Give estimated_monthly_savings only for "
    "advice to buy commitments, taken from the gaps' estimated_monthly_savings and never above "
    "steady_gap_savings; otherwise null. Answer with a JSON object only, matching this JSON "
    "schema:\n"
)

log = structlog.get_logger("xplorr.commitments")


@dataclass(frozen=True, slots=True)
class Written:
    """The advice to show and who wrote it."""

    advice: list[Advice]
    source: Literal["ai", "rules"]
    model: str | None
    note: str


def figures_of(out: CommitmentAnalysisOut, unused: Decimal) -> AdviceFigures | None:
    """What the LLM is shown, from the analysis (None: no amount to advise on)."""
    currency = out.currency
    if currency is None:
        return None
    steady = [g for g in out.coverage_gaps if g.estimated_monthly_savings > 0]
    return AdviceFigures(
        currency=currency,
        start_date=out.start_date,
        end_date=out.end_date,
        days=out.days,
        definitions=out.definitions,
        assumed_discount=out.assumptions["savings_plan_discount"],
        totals=out.totals,
        coverage_percent=out.coverage_percent,
        utilization_percent=out.utilization_percent,
        target_coverage_percent=out.target_coverage_percent,
        unused_commitment_cost=money.round_money(unused, currency),
        steady_gap_savings=sum((g.estimated_monthly_savings for g in steady), Decimal(0)),
        coverage_gaps=[
            AdviceGap(
                service=g.service,
                instance_family=g.instance_family,
                resource_type=g.resource_type,
                region=g.region,
                average_daily_on_demand_cost=g.average_daily_on_demand_cost,
                average_daily_on_demand_hours=g.average_daily_on_demand_hours,
                days_run=g.days_run,
                consistency_score=g.consistency_score,
                estimated_monthly_savings=g.estimated_monthly_savings,
            )
            for g in out.coverage_gaps[:GAPS_SHOWN]
        ],
        commitments=[
            AdviceCommitment(
                kind=c.kind,
                service=c.service,
                region=c.region,
                resource_type=c.resource_type,
                count=c.count,
                expires_on=c.expires_on,
                days_left=c.days_left,
                monthly_cost=c.monthly_cost,
                utilization_percent=c.utilization_percent,
            )
            for c in out.commitments
        ],
    )


def _key(figures: AdviceFigures) -> str:
    return hashlib.sha256(llm.as_json(figures).encode()).hexdigest()


def grounded(answer: LlmAdviceAnswer, figures: AdviceFigures) -> list[Advice]:
    """The answer as ``Advice``, savings rounded to the currency; ``LlmFailure`` when a saving
    it claims is more than the figures' own estimate of what committing would save."""
    cur = figures.currency
    ceiling = figures.steady_gap_savings
    out = []
    for a in answer.advice:
        saving = None
        if a.estimated_monthly_savings is not None:
            saving = money.round_money(a.estimated_monthly_savings, cur)
            if saving > ceiling:
                raise llm.LlmFailure(
                    f"The LLM's advice claimed {money.plain(saving)} {cur} a month, more than "
                    f"the {money.plain(ceiling)} {cur} the coverage gaps support: {FALLBACK}."
                )
        out.append(
            Advice(
                kind=a.kind,
                severity=a.severity,
                title=a.title,
                detail=a.detail,
                estimated_monthly_savings=saving,
            )
        )
    return out


def _ai_note(model: str, *, cached: bool) -> str:
    return (
        f"Written by an LLM ({model}) from the figures of this answer"
        + (", earlier today" if cached else "")
        + "; savings checked against the coverage gaps' estimate. Check before acting."
    )


async def _save(
    db: AsyncSession, who: Principal, key: str, model: str, payload: dict[str, Any]
) -> None:
    """Today's row for ``key`` (read again: the read transaction ended before the LLM call);
    the organization's rows of earlier days go (nothing reads them again)."""
    now = clock.now()
    await db.execute(
        delete(CommitmentAdvice).where(
            CommitmentAdvice.org_id == who.org_id,
            CommitmentAdvice.day < now.date(),
            CommitmentAdvice.figures_key != key,
        )
    )
    row = await db.scalar(
        org_select(CommitmentAdvice, who).where(CommitmentAdvice.figures_key == key)
    )
    if row is not None:
        row.day, row.model, row.payload, row.updated_at = now.date(), model, payload, now
        await db.flush()
        return
    try:
        async with db.begin_nested():  # another request may have written it meanwhile
            db.add(
                CommitmentAdvice(
                    org_id=who.org_id, figures_key=key, day=now.date(), model=model, payload=payload
                )
            )
    except IntegrityError:
        pass  # theirs answers the same figures


async def advise(
    db: AsyncSession,
    who: Principal,
    settings: Settings,
    out: CommitmentAnalysisOut,
    unused: Decimal,
) -> Written:
    """The advice for ``out``: the LLM's (cached, or asked now), else the rules' (module doc).
    May end the session's read transaction (the LLM is never awaited with one open)."""
    if not llm.configured(settings):
        return Written(out.advice, "rules", None, str(llm.not_configured(FALLBACK)))
    figures = figures_of(out, unused)
    if figures is None:
        return Written(
            out.advice, "rules", None, f"No costs in the period to advise on: {FALLBACK}."
        )
    key = _key(figures)
    now = clock.now()
    row = await db.scalar(
        org_select(CommitmentAdvice, who).where(CommitmentAdvice.figures_key == key)
    )
    if row is not None and row.day == now.date():
        if row.model != FAILED:
            try:
                advice = [Advice.model_validate(a) for a in row.payload["advice"]]
                return Written(advice, "ai", row.model, _ai_note(row.model, cached=True))
            except (ValidationError, KeyError, TypeError):
                log.warning("commitment_advice_cache_unreadable", org=str(who.org_id))
        elif now - row.updated_at < RETRY_AFTER:
            reason = str(row.payload.get("reason") or f"The LLM failed earlier: {FALLBACK}.")
            retry = (row.updated_at + RETRY_AFTER).isoformat()
            return Written(
                out.advice, "rules", None, f"{reason} The LLM is asked again after {retry}."
            )
    # Nothing is written yet: end the read transaction so that none is held open while the
    # LLM answers (SQLITE_BUSY on a later write; idle in transaction on PostgreSQL).
    await db.rollback()
    try:
        answer = await llm.complete_json(
            settings,
            system=SYSTEM,
            user=llm.as_json(figures),
            answer=LlmAdviceAnswer,
            what="the advice schema",
            fallback=FALLBACK,
        )
        advice = grounded(answer, figures)
    except llm.LlmFailure as exc:
        log.warning("commitment_advice_llm_failed", org=str(who.org_id), reason=str(exc))
        await _save(db, who, key, FAILED, {"reason": str(exc)})
        return Written(out.advice, "rules", None, str(exc))
    model = str(settings.llm_model)
    await _save(
        db,
        who,
        key,
        model,
        {"advice": [json.loads(json.dumps(a.model_dump(), default=str)) for a in advice]},
    )
    return Written(advice, "ai", model, _ai_note(model, cached=False))
