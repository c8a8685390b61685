"""The Slack area's fixtures: the local Slack and settings pointed at it."""

from tests.slack.conftest import _slack_server, settings, slack

__all__ = ["_slack_server", "settings", "slack"]
