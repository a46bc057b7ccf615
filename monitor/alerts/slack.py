"""Slack incoming webhook: Block Kit message with a plain-text fallback.

The webhook URL (``https://hooks.slack.com/services/…``) is itself the credential: it is a
`Secret`, revealed only to post. Slack answers 200 ``ok``; 429 carries ``Retry-After``.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from monitor.alerts.chat import SLACK_EMOJI, evidence_numbers, footer, headline, tone
from monitor.alerts.delivery import DeliveryPolicy, QueuedSink, Request
from monitor.events import Alert
from monitor.observability.metrics import Metrics
from monitor.secret import Secret

HEADER_MAX: Final = 150  # Slack's limit on a header block's text, characters
TEXT_MAX: Final = 3000  # on a section's text, characters


def mrkdwn_escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn reserves (&, <, >)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(alert: Alert) -> dict[str, Any]:
    """Return the incoming-webhook JSON for `alert`: ``text`` fallback plus ``blocks``."""
    emoji = SLACK_EMOJI[tone(alert)]
    title = "%s %s" % (emoji, headline(alert))
    fields = [{"type": "mrkdwn", "text": "*severity*\n%s" % alert.severity}]
    fields += [
        {"type": "mrkdwn", "text": "*%s*\n%s" % (mrkdwn_escape(name), text)}
        for name, text in evidence_numbers(alert)
    ]
    return {
        "text": mrkdwn_escape("%s: %s" % (title, alert.summary)),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:HEADER_MAX],
                                        "emoji": True}},
            {"type": "section", "text": {"type": "mrkdwn",
                                         "text": mrkdwn_escape(alert.summary)[:TEXT_MAX]}},
            {"type": "section", "fields": fields},
            {"type": "context", "elements": [{"type": "mrkdwn",
                                              "text": mrkdwn_escape(footer(alert))}]},
        ],
    }  # fmt: skip


class SlackSink(QueuedSink):
    """Posts each alert to a Slack incoming webhook."""

    def __init__(
        self, webhook_url: Secret, metrics: Metrics, policy: DeliveryPolicy | None = None
    ) -> None:
        super().__init__("slack", metrics, policy)
        self._url = webhook_url

    def request(self, alert: Alert) -> Request:
        """Return the POST of `slack_payload`."""
        body = msgspec.json.encode(slack_payload(alert))
        return Request(self._url.reveal(), body, {"Content-Type": "application/json"})
