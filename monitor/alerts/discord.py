"""Discord webhook: a short ``content`` line and one embed coloured by severity.

The webhook URL (``https://discord.com/api/webhooks/<id>/<token>``) is the credential: a
`Secret`. Discord answers 204; 429 carries ``Retry-After``. Mentions are disabled, so a
summary can never ping ``@everyone``.
"""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec

from monitor.alerts.chat import EMOJI, evidence_numbers, footer, headline, iso_time, tone
from monitor.alerts.delivery import DeliveryPolicy, QueuedSink, Request
from monitor.events import Alert
from monitor.observability.metrics import Metrics
from monitor.secret import Secret

COLOURS: Final[dict[str, int]] = {
    "critical": 0xE01E5A,  # red
    "warning": 0xECB22E,  # amber
    "resolved": 0x2EB67D,  # green
}
"""Embed colour (0xRRGGBB) by `monitor.alerts.chat.tone`."""
TITLE_MAX: Final = 256  # Discord's limits, characters
DESCRIPTION_MAX: Final = 4096
_MARKDOWN: Final = re.compile(r"([\\*_~`|>#\[\]()])")


def markdown_escape(text: str) -> str:
    """Backslash-escape Discord markdown characters, so a summary renders literally."""
    return _MARKDOWN.sub(r"\\\1", text)


def discord_payload(alert: Alert) -> dict[str, Any]:
    """Return the webhook JSON for `alert`: ``content``, one embed, no mentions."""
    title = headline(alert)
    fields = [
        {"name": "severity", "value": alert.severity, "inline": True},
        {"name": "wave", "value": str(alert.wave), "inline": True},
    ]
    fields += [{"name": name, "value": text, "inline": True}
               for name, text in evidence_numbers(alert)]  # fmt: skip
    return {
        "content": "%s %s" % (EMOJI[tone(alert)], markdown_escape(title)),
        "embeds": [
            {
                "title": title[:TITLE_MAX],
                "description": markdown_escape(alert.summary)[:DESCRIPTION_MAX],
                "color": COLOURS[tone(alert)],
                "fields": fields,
                "timestamp": iso_time(alert.ts_ns),
                "footer": {"text": footer(alert)},
            }
        ],
        "allowed_mentions": {"parse": []},
    }


class DiscordSink(QueuedSink):
    """Posts each alert to a Discord channel webhook."""

    def __init__(
        self, webhook_url: Secret, metrics: Metrics, policy: DeliveryPolicy | None = None
    ) -> None:
        super().__init__("discord", metrics, policy)
        self._url = webhook_url

    def request(self, alert: Alert) -> Request:
        """Return the POST of `discord_payload`."""
        body = msgspec.json.encode(discord_payload(alert))
        return Request(self._url.reveal(), body, {"Content-Type": "application/json"})
