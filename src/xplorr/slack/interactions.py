"""Buttons clicked in Slack (``POST /slack/interactions``): verified, mapped to an Xplorr user,
run through the same service functions and role rules as the API.

1. **Verified.** Slack signs each request with the app's signing secret (HMAC-SHA256 of
   ``v0:<timestamp>:<body>``); ``slack_sdk.signature.SignatureVerifier`` checks it, and a
   timestamp more than 5 minutes from now is refused (a captured request cannot be replayed
   later). Nothing in the body is read before that.
2. **Mapped.** The workspace (``team.id``) names the one org that installed the app; the
   clicking Slack user's confirmed email (``users.info``) must be the verified email of an
   active user of that org. Nobody else acts, whatever their Slack role.
3. **Authorized as in the API.** ``ACTIONS`` is the dispatch table (Acknowledge; Apply,
   Snooze 7d, Dismiss; Approve, Reject): each action names the
   roles its API endpoint admits and the service function it calls with that user's principal
   (their account grants included). A viewer's click is refused with a reply saying so.

The reply goes back to Slack after the action's transaction committed: when it was done, the
clicked message is rewritten (``chat.update``) with its buttons replaced by the outcome
("Approval requested by ...", "... approved by ..."), or a thread reply when the message's
blocks did not come along; otherwise a message only the clicking user sees
(``chat.postEphemeral``).
"""

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import structlog
from pydantic import BaseModel, ConfigDict, ValidationError
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core.errors import BadRequest, NotFound, Unauthorized, XplorrError
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Principal, Role
from xplorr.slack import api
from xplorr.slack.blocks import ACTION_PREFIX
from xplorr.slack.service import bot_token, installation_for_team, require_configured
from xplorr.users.models import User, UserStatus
from xplorr.users.principals import principal_for_user

log = structlog.get_logger("xplorr.slack")

WINDOW_SECONDS = 5 * 60
MAX_BODY_BYTES = 64 * 1024
WRITERS = frozenset({Role.OWNER, Role.ADMIN, Role.MEMBER})
ADMINS = frozenset({Role.OWNER, Role.ADMIN})


class SignatureInvalid(Unauthorized):
    code = "SLACK_SIGNATURE_INVALID"


def verify(settings: Settings, body: bytes, timestamp: str | None, signature: str | None) -> None:
    """401 ``SLACK_REQUEST_EXPIRED`` outside the 5-minute window, 401
    ``SLACK_SIGNATURE_INVALID`` for a missing or wrong signature."""
    require_configured(settings, interactions=True)
    assert settings.slack.signing_secret is not None
    try:
        sent_at = int(timestamp or "")
    except ValueError:
        raise SignatureInvalid("The request carries no valid X-Slack-Request-Timestamp.") from None
    if abs(time.time() - sent_at) > WINDOW_SECONDS:
        raise SignatureInvalid("The request is older than 5 minutes.", code="SLACK_REQUEST_EXPIRED")
    verifier = SignatureVerifier(settings.slack.signing_secret.get_secret_value())
    if not signature or not verifier.is_valid(body, str(sent_at), signature):
        raise SignatureInvalid("The request's X-Slack-Signature does not match.")


# -- the payload (the fields read; Slack sends many more) ------------------------------------------


class _Ref(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str


class _Action(BaseModel):
    model_config = ConfigDict(extra="ignore")
    action_id: str
    value: str | None = None


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    ts: str
    text: str = ""
    blocks: list[dict[str, Any]] = []


class Interaction(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str
    team: _Ref
    user: _Ref
    channel: _Ref | None = None
    message: _Message | None = None
    actions: list[_Action] = []


def parse(body: bytes) -> Interaction:
    """The form field ``payload`` (JSON), as Slack posts it; 400 otherwise."""
    try:
        values = parse_qs(body.decode(), strict_parsing=True, max_num_fields=5)
        return Interaction.model_validate(json.loads(values["payload"][0]))
    except (UnicodeDecodeError, ValueError, KeyError, ValidationError):
        raise BadRequest("Expected a Slack interaction: a form field payload (JSON).") from None


# -- the dispatch table ----------------------------------------------------------------------------

Run = Callable[[AsyncSession, Principal, uuid.UUID], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Action:
    """One button: who may (the roles of the API endpoint doing the same) and what it runs."""

    label: str  # "acknowledge this anomaly": what the refusal says the user cannot do
    roles: frozenset[Role]
    run: Run


async def _acknowledge_anomaly(db: AsyncSession, who: Principal, ident: uuid.UUID) -> str:
    # The same service call and rules as PATCH /anomalies/{id} (members and above).
    from xplorr.anomalies import service as anomalies
    from xplorr.anomalies.models import AnomalyStatus
    from xplorr.anomalies.schemas import AnomalyUpdate

    out = await anomalies.update_anomaly(
        db, who, ident, AnomalyUpdate(status=AnomalyStatus.ACKNOWLEDGED)
    )
    what = " / ".join(x for x in (out.service, out.account_name) if x) or "organization"
    return f"Anomaly ({what}, {out.date.isoformat()}) acknowledged by {who.email}."


async def _recommendation_status(
    db: AsyncSession, who: Principal, ident: uuid.UUID, status: str
) -> str:
    # PATCH /recommendations/{id} (members and above); above the org's approval threshold it
    # opens an approval instead (409 APPROVAL_REQUIRED, committed: see ``handle``).
    from xplorr.recommendations import service as recommendations
    from xplorr.recommendations.models import RecommendationStatus
    from xplorr.recommendations.schemas import RecommendationUpdate

    out = await recommendations.update_recommendation(
        db, who, ident, RecommendationUpdate(status=RecommendationStatus(status))
    )
    verb = {"in_progress": "marked in progress", "dismissed": "dismissed"}[status]
    return f"Recommendation {out.title} {verb} by {who.email}."


async def _apply_recommendation(db: AsyncSession, who: Principal, ident: uuid.UUID) -> str:
    return await _recommendation_status(db, who, ident, "in_progress")


async def _dismiss_recommendation(db: AsyncSession, who: Principal, ident: uuid.UUID) -> str:
    return await _recommendation_status(db, who, ident, "dismissed")


async def _snooze_recommendation(db: AsyncSession, who: Principal, ident: uuid.UUID) -> str:
    # POST /recommendations/{id}/snooze with {"days": 7} (members and above).
    from xplorr.recommendations import service as recommendations
    from xplorr.recommendations.schemas import SnoozeIn

    out = await recommendations.snooze_recommendation(db, who, ident, SnoozeIn(days=7))
    return f"Recommendation {out.title} snoozed for 7 days by {who.email}."


async def _decide(db: AsyncSession, who: Principal, ident: uuid.UUID, status: str) -> str:
    # PATCH /approvals/{id} (owners and admins; the approvals service's own rules: no deciding
    # one's own request while another admin can, expired requests refused).
    from typing import Literal, cast

    from xplorr.approvals import service as approvals
    from xplorr.approvals.schemas import ApprovalDecision

    decision = cast(Literal["approved", "rejected"], status)
    out = await approvals.decide(db, who, ident, ApprovalDecision(status=decision))
    return f"Approval {out.id} {out.status} by {who.email}."


async def _approve(db: AsyncSession, who: Principal, ident: uuid.UUID) -> str:
    return await _decide(db, who, ident, "approved")


async def _reject(db: AsyncSession, who: Principal, ident: uuid.UUID) -> str:
    return await _decide(db, who, ident, "rejected")


ACTIONS: dict[str, Action] = {
    "anomaly.acknowledge": Action("acknowledge this anomaly", WRITERS, _acknowledge_anomaly),
    "recommendation.apply": Action("apply this recommendation", WRITERS, _apply_recommendation),
    "recommendation.snooze": Action("snooze this recommendation", WRITERS, _snooze_recommendation),
    "recommendation.dismiss": Action(
        "dismiss this recommendation", WRITERS, _dismiss_recommendation
    ),
    "approval.approve": Action("approve this request", ADMINS, _approve),
    "approval.reject": Action("reject this request", ADMINS, _reject),
}


def register(name: str, action: Action) -> None:
    """Add a button's action (the savings area's Apply/Snooze/Dismiss, Approve/Reject)."""
    ACTIONS[name] = action


# -- handling --------------------------------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    ok: bool
    message: str
    action: str | None = None
    # Where to answer in Slack (after commit): team's bot token, channel, user, thread.
    org_id: uuid.UUID | None = None
    channel: str | None = None
    user: str | None = None
    thread_ts: str | None = None
    public: bool = False  # a thread reply everyone sees (done) vs. an ephemeral one
    token: str | None = field(default=None, repr=False)  # the bot's, to reply with
    # The clicked message as it becomes once the action is done (its buttons replaced by the
    # outcome): "Approval requested", "Approved"... None: answer in its thread instead.
    updated_blocks: list[dict[str, Any]] | None = None


async def _xplorr_user(db: AsyncSession, org_id: uuid.UUID, email: str) -> User | None:
    """The active user of that org whose verified email is ``email`` (case-insensitive)."""
    user = await db.scalar(
        select(User).where(
            User.org_id == org_id,
            func.lower(User.email) == email.strip().lower(),
            User.status == UserStatus.ACTIVE,
        )
    )
    if user is None or not user.email_verified:
        return None
    return user


async def handle(db: AsyncSession, settings: Settings, item: Interaction) -> Outcome:
    """Run the clicked action, or say why not (never an exception for the user's situation:
    Slack shows nothing for an error status)."""
    if item.type != "block_actions":
        return Outcome(False, f"Interactions of type {item.type[:40]} are not handled.")
    ours = [a for a in item.actions if a.action_id.startswith(ACTION_PREFIX)]
    if not ours:
        return Outcome(False, "No Xplorr action in this interaction.")
    clicked = ours[0]
    name = clicked.action_id.removeprefix(ACTION_PREFIX)
    install = await installation_for_team(db, item.team.id)
    if install is None:
        return Outcome(False, "This Slack workspace is not connected to Xplorr.", name)
    reply = Outcome(
        False,
        "",
        name,
        org_id=install.org_id,
        channel=item.channel.id if item.channel else None,
        user=item.user.id,
        thread_ts=item.message.ts if item.message else None,
    )
    action = ACTIONS.get(name)
    if action is None:
        reply.message = "This button's action is not available on this Xplorr installation."
        return reply
    try:
        ident = uuid.UUID(clicked.value or "")
    except ValueError:
        reply.message = "This button carries no valid Xplorr id."
        return reply
    token = reply.token = await bot_token(db, settings, install)
    try:
        email = await api.user_email(settings, token, item.user.id)
    except api.SlackError as exc:
        log.warning("slack_user_lookup_failed", org_id=str(install.org_id), error=exc.code)
        reply.message = f"Xplorr could not read your Slack profile ({exc.code})."
        return reply
    user = await _xplorr_user(db, install.org_id, email) if email else None
    who = await principal_for_user(db, user.id, org_id=install.org_id) if user else None
    if who is None:
        reply.message = (
            "Your Slack account's email is not the verified email of an active Xplorr user of "
            "this organization: sign in to Xplorr with it (and verify it) to act from Slack."
        )
        return reply
    if who.role not in action.roles:
        log.warning("slack_action_refused", org_id=str(who.org_id), user_id=str(who.user_id),
                    action=name, role=who.role.value)  # fmt: skip
        reply.message = (
            f"Your Xplorr role ({who.role.value}) cannot {action.label}: "
            "ask a member or an admin of the organization."
        )
        return reply
    # A savepoint: a refused action leaves nothing half-done, except what the API keeps on a
    # refusal too (``commit=True``: the approval an Apply above the threshold opens).
    savepoint = await db.begin_nested()
    try:
        reply.message = await action.run(db, who, ident)
    except NotFound:
        await savepoint.rollback()
        reply.message = "That item no longer exists, or your Xplorr access does not include it."
        return reply
    except XplorrError as exc:
        if not exc.commit:
            await savepoint.rollback()
            reply.message = f"Xplorr refused: {exc.message}"
            return reply
        await savepoint.commit()
        if exc.error_code != "APPROVAL_REQUIRED":
            reply.message = f"Xplorr refused: {exc.message}"
            return reply
        reply.message = f"Approval requested by {who.email}: {exc.message} Admins are notified."
        reply.ok = reply.public = True
        reply.updated_blocks = _done(item, reply.message)
        return reply
    await savepoint.commit()
    reply.updated_blocks = _done(item, reply.message)
    reply.ok = True
    reply.public = True
    return reply


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _done(item: Interaction, message: str) -> list[dict[str, Any]] | None:
    """The clicked message without its action buttons (the link stays), the outcome below."""
    if item.message is None or not item.message.blocks:
        return None
    blocks: list[dict[str, Any]] = []
    for block in item.message.blocks:
        if block.get("type") == "actions":
            kept = [e for e in block.get("elements", [])
                    if not str(e.get("action_id", "")).startswith(ACTION_PREFIX)]  # fmt: skip
            if not kept:
                continue
            block = {**block, "elements": kept}
        blocks.append(block)
    text = f":white_check_mark: {_slack_escape(message)}"[:3000]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
    return blocks


async def answer(settings: Settings, outcome: Outcome) -> None:
    """Tell the Slack user (after the commit): a thread reply when the action was done, an
    ephemeral message otherwise. A failure here is logged: the action itself stands."""
    if outcome.token is None or outcome.channel is None or outcome.user is None:
        return
    try:
        if outcome.public and outcome.updated_blocks is not None and outcome.thread_ts:
            await api.update_message(
                settings, outcome.token, outcome.channel, outcome.thread_ts, outcome.message,
                outcome.updated_blocks,
            )  # fmt: skip
        elif outcome.public:
            await api.post_message(
                settings, outcome.token, outcome.channel, outcome.message,
                thread_ts=outcome.thread_ts,
            )  # fmt: skip
        else:
            await api.post_ephemeral(
                settings, outcome.token, outcome.channel, outcome.user, outcome.message
            )
    except api.SlackError as exc:
        log.warning("slack_reply_failed", org_id=str(outcome.org_id), error=exc.code)
