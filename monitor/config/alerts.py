"""Direct alert sink config: webhook, Slack, Discord, Telegram (all off by default)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from monitor.config._base import NonNeg, Pos, PosFloat, _Section
from monitor.errors import ConfigError
from monitor.secret import Secret


def _check_http_url(url: Secret | None, key: str) -> None:
    """Refuse a URL that is not http(s); the message names the key and never the secret.

    Raises `ConfigError` itself, not ValueError: msgspec would wrap a ValueError and `load`
    would then print the section's values, the secret among them.
    """
    if url is not None and not url.reveal().startswith(("https://", "http://")):
        msg = "config: alerts.%s: must be an http:// or https:// URL" % key
        raise ConfigError(msg)


class WebhookSinkSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Generic JSON webhook (contract alert JSON, HMAC-signed); off while ``url`` is unset."""

    url: Secret | None = None  # http(s) URL; may hold a token, so it is a secret
    secret: Secret | None = None  # HMAC-SHA256 key; unset: requests are not signed

    def __post_init__(self) -> None:
        """Refuse a non-http URL, and a secret without a URL."""
        _check_http_url(self.url, "webhook.url")
        if self.secret is not None and self.url is None:
            msg = "config: alerts.webhook.secret: set, but alerts.webhook.url is not"
            raise ConfigError(msg)


class SlackSinkSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Slack incoming webhook; off while ``webhook_url`` is unset."""

    webhook_url: Secret | None = None  # https://hooks.slack.com/services/…

    def __post_init__(self) -> None:
        """Refuse a non-http URL."""
        _check_http_url(self.webhook_url, "slack.webhook_url")


class DiscordSinkSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Discord channel webhook; off while ``webhook_url`` is unset."""

    webhook_url: Secret | None = None  # https://discord.com/api/webhooks/<id>/<token>

    def __post_init__(self) -> None:
        """Refuse a non-http URL."""
        _check_http_url(self.webhook_url, "discord.webhook_url")


class TelegramSinkSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Telegram bot message to one chat; off while ``bot_token`` and ``chat_id`` are unset."""

    bot_token: Secret | None = None
    chat_id: int | str | None = None  # numeric id (groups: negative) or "@channel"
    api_base: Annotated[str, msgspec.Meta(pattern=r"^https?://")] = "https://api.telegram.org"

    def __post_init__(self) -> None:
        """Refuse a token without a chat, or a chat without a token."""
        if (self.bot_token is None) != (self.chat_id is None):
            msg = "config: alerts.telegram: bot_token and chat_id go together"
            raise ConfigError(msg)


class AlertSinksSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Direct alert sinks, for deployments without Alertmanager; every sink is off by default.

    Each enabled sink has its own bounded queue, so a slow endpoint never slows the pipeline.
    """

    cooldown_s: Annotated[float, msgspec.Meta(ge=0)] = 600.0  # same alert key again: suppressed
    queue_max: Pos = 100  # alerts waiting per sink; beyond: dropped (counted)
    timeout_s: PosFloat = 10.0  # one HTTP attempt
    retries: NonNeg = 3  # further attempts on network errors, 5xx and 429
    backoff_initial_s: PosFloat = 1.0  # first retry delay ceiling (full jitter)
    backoff_max_s: PosFloat = 30.0
    stop_timeout_s: PosFloat = 5.0  # shutdown: deliver what is queued for at most this long
    webhook: WebhookSinkSettings = msgspec.field(default_factory=WebhookSinkSettings)
    slack: SlackSinkSettings = msgspec.field(default_factory=SlackSinkSettings)
    discord: DiscordSinkSettings = msgspec.field(default_factory=DiscordSinkSettings)
    telegram: TelegramSinkSettings = msgspec.field(default_factory=TelegramSinkSettings)
