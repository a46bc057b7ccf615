"""Build the direct alert sinks from ``settings.alerts``; start and stop them together."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from monitor.alerts.delivery import DeliveryPolicy, QueuedSink
from monitor.alerts.discord import DiscordSink
from monitor.alerts.slack import SlackSink
from monitor.alerts.telegram import TelegramSink
from monitor.alerts.webhook import WebhookSink
from monitor.config import AlertSinksSettings
from monitor.observability.metrics import Metrics
from monitor.sources.backoff import Backoff


def delivery_policy(settings: AlertSinksSettings) -> DeliveryPolicy:
    """Return the queue, timeout, retry and cooldown policy that every sink shares."""
    return DeliveryPolicy(
        queue_max=settings.queue_max,
        timeout_s=settings.timeout_s,
        retries=settings.retries,
        cooldown_s=settings.cooldown_s,
        backoff=Backoff(initial_s=settings.backoff_initial_s, max_s=settings.backoff_max_s),
    )


def build_sinks(settings: AlertSinksSettings, metrics: Metrics) -> list[QueuedSink]:
    """Return one sink per configured endpoint (none by default), not yet started.

    The settings were validated when loaded (http(s) URLs, Telegram token with chat id).
    """
    policy = delivery_policy(settings)
    sinks: list[QueuedSink] = []
    hook = settings.webhook
    if hook.url is not None:
        sinks.append(WebhookSink(hook.url, metrics, policy, secret=hook.secret))
    if settings.slack.webhook_url is not None:
        sinks.append(SlackSink(settings.slack.webhook_url, metrics, policy))
    if settings.discord.webhook_url is not None:
        sinks.append(DiscordSink(settings.discord.webhook_url, metrics, policy))
    tg = settings.telegram
    if tg.bot_token is not None and tg.chat_id is not None:
        sinks.append(TelegramSink(tg.bot_token, tg.chat_id, metrics, policy, api_base=tg.api_base))
    return sinks


async def start_sinks(sinks: Sequence[QueuedSink]) -> None:
    """Start every sink's session and worker."""
    for sink in sinks:
        await sink.start()


async def stop_sinks(sinks: Sequence[QueuedSink], timeout_s: float) -> None:
    """Drain and close every sink concurrently: the whole stop takes at most ~`timeout_s` s."""
    await asyncio.gather(*(sink.stop(timeout_s) for sink in sinks))
