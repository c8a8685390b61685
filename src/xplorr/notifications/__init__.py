"""Notifications: typed events -> targets -> durable deliveries (email, Slack, Teams).

``from xplorr.notifications import notify, events`` and call ``await notify(db, event)`` in the
transaction that decided it (see ``hub`` and ``events``)."""

from xplorr.notifications.hub import EmailTarget, WebhookTarget, notify

__all__ = ["EmailTarget", "WebhookTarget", "notify"]
