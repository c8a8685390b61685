"""``/ai-recommendations``: insights over the caller's aggregated figures (``figures``).

With an LLM configured (``XPLORR_LLM_BASE_URL``, ``XPLORR_LLM_MODEL``), the LLM writes them
once per organization, scope (the accounts the caller can see) and UTC day: later calls that
day answer from the cache (``cached: true``, with the figures the LLM was shown). A failed call
is remembered for ``RETRY_AFTER`` so that a slow or broken LLM does not slow every request.
Without an LLM, or when it fails, the answer is ``source: "rules"`` (``rules``) and says why in
``notes``: never an error, never presented as AI.
"""

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any, Final

import structlog
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.ai_recommendations import figures as figures_mod
from xplorr.ai_recommendations import llm, rules
from xplorr.ai_recommendations.models import AiInsight
from xplorr.ai_recommendations.schemas import AiRecommendationsOut, Figures, InsightOut
from xplorr.core import clock, money
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Principal, org_select

RETRY_AFTER: Final = timedelta(minutes=15)
FAILED: Final = "(failed)"  # AiInsight.model of a remembered failure

log = structlog.get_logger("xplorr.ai_recommendations")


def plain_json(model: BaseModel) -> Any:
    """``model`` as JSON values with Decimals as exact strings (``mode="json"`` would mark them
    for the response writer inside a request: ``core.money.DecimalNumber``)."""
    return json.loads(json.dumps(model.model_dump(), default=str))


def scope_key(who: Principal) -> str:
    if who.account_ids is None:
        return "all"
    ids = ",".join(sorted(str(a) for a in who.account_ids))
    return hashlib.sha256(ids.encode()).hexdigest()


def _rules_answer(figs: Figures, notes: list[str], now: datetime) -> AiRecommendationsOut:
    return AiRecommendationsOut(
        source="rules",
        model=None,
        generated_at=now,
        cached=False,
        currency=figs.currency,
        insights=rules.insights(figs),
        figures=figs,
        notes=notes,
    )


def _llm_answer(row: AiInsight, *, cached: bool) -> AiRecommendationsOut:
    figs = Figures.model_validate(row.payload["figures"])
    return AiRecommendationsOut(
        source="llm",
        model=row.model,
        generated_at=row.updated_at or clock.now(),
        cached=cached,
        currency=figs.currency,
        insights=[InsightOut.model_validate(i) for i in row.payload["insights"]],
        figures=figs,
        notes=["Written by an LLM from the aggregated figures below; check before acting."],
    )


async def _save(db: AsyncSession, who: Principal, model: str, payload: dict[str, Any]) -> AiInsight:
    """Write today's row of the caller's scope (read again: the transaction that read it was
    ended before the LLM call)."""
    now = clock.now()
    key = scope_key(who)
    row = await db.scalar(
        org_select(AiInsight, who).where(AiInsight.scope_key == key, AiInsight.day == now.date())
    )
    if row is not None:
        row.model, row.payload, row.updated_at = model, payload, now
        await db.flush()
        return row
    row = AiInsight(org_id=who.org_id, scope_key=key, day=now.date(), model=model, payload=payload)
    try:
        async with db.begin_nested():  # another request may have written it meanwhile
            db.add(row)
    except IntegrityError:
        pass  # theirs is as good as ours: ours is still returned, theirs kept
    return row


async def recommendations(
    db: AsyncSession, who: Principal, settings: Settings
) -> AiRecommendationsOut:
    now = clock.now()
    if not llm.configured(settings):
        figs = await figures_mod.collect(db, who)
        return _rules_answer(
            figs,
            [
                "No LLM is configured (XPLORR_LLM_BASE_URL and XPLORR_LLM_MODEL): insights come "
                "from rules over the same figures."
            ],
            now,
        )
    row = await db.scalar(
        org_select(AiInsight, who).where(
            AiInsight.scope_key == scope_key(who), AiInsight.day == now.date()
        )
    )
    if row is not None and row.model != FAILED:
        try:
            return _llm_answer(row, cached=True)
        except (ValidationError, KeyError):
            log.warning("ai_insights_cache_unreadable", org=str(who.org_id))
    figs = await figures_mod.collect(db, who)
    if row is not None and row.model == FAILED and now - row.updated_at < RETRY_AFTER:
        reason = str(row.payload.get("reason") or "The LLM failed earlier.")
        return _rules_answer(figs, [reason, _retry_note(row.updated_at)], now)
    # Nothing is written yet: end the read transaction so that none is held open while the
    # LLM answers (on SQLite a read transaction that writes after another connection committed
    # fails with SQLITE_BUSY; on PostgreSQL it would sit idle in transaction).
    await db.rollback()
    try:
        answer = await llm.write_insights(settings, figs)
    except llm.LlmFailure as exc:
        log.warning("ai_insights_llm_failed", org=str(who.org_id), reason=str(exc))
        await _save(db, who, FAILED, {"reason": str(exc)})
        return _rules_answer(figs, [str(exc)], now)
    insights = [
        InsightOut(
            **i.model_dump(exclude={"estimated_monthly_savings"}),
            estimated_monthly_savings=(
                money.round_money(i.estimated_monthly_savings, figs.currency)
                if i.estimated_monthly_savings is not None and figs.currency
                else None
            ),
        )
        for i in answer.insights
    ]
    saved = await _save(
        db,
        who,
        str(settings.llm_model),
        {
            "insights": [plain_json(i) for i in insights],
            "figures": plain_json(figs),
        },
    )
    return _llm_answer(saved, cached=False)


def _retry_note(failed_at: datetime) -> str:
    return f"The LLM is asked again after {(failed_at + RETRY_AFTER).isoformat()}."


class WrittenInsight(BaseModel):
    """A short text an LLM wrote from figures it was given (never shown as anything else)."""

    text: str
    model: str


async def weekly_insight(settings: Settings, figures: dict[str, Any]) -> WrittenInsight | None:
    """Two sentences an LLM writes on one week's figures (for the weekly summary), or None when
    no LLM is configured or it failed (logged): the summary then has no insight; rules do not
    stand in for it."""
    if not llm.configured(settings):
        return None
    try:
        text = await llm.write_weekly_insight(settings, figures)
    except llm.LlmFailure as exc:
        log.warning("weekly_insight_llm_failed", reason=str(exc))
        return None
    return WrittenInsight(text=text, model=str(settings.llm_model))
