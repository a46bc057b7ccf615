"""Telegram Bot API: ``sendMessage`` to one chat, ``parse_mode`` HTML with escaped text.

URL: ``<api_base>/bot<token>/sendMessage`` (``api_base`` defaults to the public API; tests
and self-hosted Bot API servers point it elsewhere). The bot token is a `Secret`, and so the
URL that embeds it is never logged. Telegram answers 200 ``{"ok": true}``; a 429 names its
wait in ``parameters.retry_after`` (seconds).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any, Final

import msgspec

from monitor.alerts.chat import EMOJI, evidence_numbers, footer, headline, tone
from monitor.alerts.delivery import DeliveryPolicy, QueuedSink, Request, parse_retry_after
from monitor.events import Alert
from monitor.observability.metrics import Metrics
from monitor.secret import Secret

API_BASE: Final = "https://api.telegram.org"
TEXT_MAX: Final = 4096  # Telegram's limit on a message, characters after entity parsing


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def telegram_text(alert: Alert) -> str:
    """Return the HTML message: bold headline, summary, evidence numbers, small print."""
    lines = ["%s <b>%s</b>" % (EMOJI[tone(alert)], _esc(headline(alert))), _esc(alert.summary)]
    lines += ["<b>%s</b>: %s" % (_esc(name), _esc(text)) for name, text in evidence_numbers(alert)]
    lines.append("<i>%s</i>" % _esc(footer(alert)))
    text = "\n".join(lines)
    if len(text) > TEXT_MAX:  # cut the summary, never a tag
        text = "\n".join([lines[0], _esc(alert.summary[: TEXT_MAX // 2]) + "…", lines[-1]])
    return text


def telegram_payload(alert: Alert, chat_id: int | str) -> dict[str, Any]:
    """Return the ``sendMessage`` JSON for `alert` to `chat_id` (an id or ``@channel``)."""
    return {
        "chat_id": chat_id,
        "text": telegram_text(alert),
        "parse_mode": "HTML",
        "disable_web_page_preview": True,
    }


class _Reply(msgspec.Struct):
    parameters: dict[str, Any] = msgspec.field(default_factory=dict)


class TelegramSink(QueuedSink):
    """Sends each alert as a bot message to one chat."""

    def __init__(
        self,
        bot_token: Secret,
        chat_id: int | str,
        metrics: Metrics,
        policy: DeliveryPolicy | None = None,
        *,
        api_base: str = API_BASE,
    ) -> None:
        super().__init__("telegram", metrics, policy)
        self._token = bot_token
        self._chat_id = chat_id
        self._api_base = api_base.rstrip("/")

    def request(self, alert: Alert) -> Request:
        """Return the ``sendMessage`` POST of `alert`."""
        url = "%s/bot%s/sendMessage" % (self._api_base, self._token.reveal())
        body = msgspec.json.encode(telegram_payload(alert, self._chat_id))
        return Request(url, body, {"Content-Type": "application/json"})

    def retry_after(self, status: int, headers: Mapping[str, str], body: bytes) -> float | None:
        """Return ``Retry-After`` or, on 429, the body's ``parameters.retry_after`` (s)."""
        hint = super().retry_after(status, headers, body)
        if hint is not None or status != 429:
            return hint
        try:
            reply = msgspec.json.decode(body, type=_Reply)
        except msgspec.DecodeError:
            return None
        value = reply.parameters.get("retry_after")
        return parse_retry_after(
            None if value is None else str(value), self.policy.retry_after_max_s
        )
