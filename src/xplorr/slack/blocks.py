"""The bot's messages: the hub's Block Kit rendering (``notifications.render.slack``) plus the
buttons of the actions a reader can take from the channel (``interactions.ACTIONS``: only
actions this installation can run get a button)."""

from collections.abc import Sequence
from typing import Any

from xplorr.core.settings import Settings
from xplorr.notifications import render
from xplorr.notifications.events import (
    AnomalyDetected,
    ApprovalNotice,
    Notification,
    RecommendationNotice,
)

ACTION_PREFIX = "xplorr:"


def buttons_for(event: Notification) -> list[tuple[str, str, str, str | None]]:
    """(action name, label, object id, style) of each button the event's message may carry."""
    if isinstance(event, AnomalyDetected):
        return [("anomaly.acknowledge", "Acknowledge", str(event.anomaly_id), "primary")]
    if isinstance(event, RecommendationNotice):
        rec = str(event.recommendation_id)
        return [
            ("recommendation.apply", "Apply", rec, "primary"),
            ("recommendation.snooze", "Snooze 7d", rec, None),
            ("recommendation.dismiss", "Dismiss", rec, "danger"),
        ]
    if isinstance(event, ApprovalNotice) and event.status == "requested":
        approval = str(event.approval_id)
        return [
            ("approval.approve", "Approve", approval, "primary"),
            ("approval.reject", "Reject", approval, "danger"),
        ]
    return []


def message(event: Notification, settings: Settings, available: set[str]) -> dict[str, Any]:
    """``{"text", "blocks"}`` for chat.postMessage; the "Open in Xplorr" link stays (it is
    the Details button), the action buttons join it."""
    from slack_sdk.models.blocks import ButtonElement

    body = render.slack(event, settings)
    blocks: list[dict[str, Any]] = body["blocks"]
    extra = [
        ButtonElement(
            text=label, action_id=f"{ACTION_PREFIX}{name}", value=ident, style=style
        ).to_dict()
        for name, label, ident, style in buttons_for(event)
        if name in available
    ]
    if extra:
        for block in blocks:
            if block.get("type") == "actions":
                for element in block["elements"]:
                    if element.get("action_id") == "open":
                        element["text"]["text"] = "Details"
                block["elements"] = extra + block["elements"]
                break
    return {"text": body["text"], "blocks": blocks}


def mention_admins(body: dict[str, Any], slack_user_ids: Sequence[str]) -> dict[str, Any]:
    """An approval request tagging the org's admins (product-notes section 15: "new message
    tags org admins with Approve / Reject"): ``<@U…>`` mentions, which notify them, in a first
    section and at the head of the notification text."""
    if not slack_user_ids:
        return body
    tags = " ".join(f"<@{ident}>" for ident in slack_user_ids)
    line = f"{tags}: an approval is waiting for an admin."
    head = {"type": "section", "text": {"type": "mrkdwn", "text": line}}
    return {"text": f"{line} {body['text']}", "blocks": [head, *body["blocks"]]}
