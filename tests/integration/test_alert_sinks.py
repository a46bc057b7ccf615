"""Direct alert sinks against real local HTTP servers (aiohttp on 127.0.0.1, port 0).

Each endpoint plays a script of replies (status, headers, body, or a hang) and records every
request it got, so retries are counted on the server side. Outcomes are read from the
sink's real ``liqmon_alerts_sent_total`` counter.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from monitor import codec, config
from monitor.alerts.delivery import DeliveryPolicy, QueuedSink
from monitor.alerts.discord import COLOURS, DiscordSink
from monitor.alerts.factory import build_sinks, start_sinks, stop_sinks
from monitor.alerts.slack import SlackSink
from monitor.alerts.telegram import TelegramSink
from monitor.alerts.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSink, verify_signature
from monitor.errors import ConfigError
from monitor.events import Alert, AlertState, Severity
from monitor.observability.metrics import SINK_OUTCOMES, Metrics
from monitor.secret import Secret
from monitor.sources.backoff import Backoff
from tests.support.wait import until

pytestmark = pytest.mark.integration
WAIT_S = 5.0
FAST = DeliveryPolicy(
    queue_max=100,
    timeout_s=2.0,
    retries=2,
    cooldown_s=60.0,
    backoff=Backoff(initial_s=0.01, max_s=0.05, seed=1),
)
HMAC_KEY = "whsec-test-5f2c"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = "ok"
    hang: bool = False


@dataclass(frozen=True)
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    at_s: float


class Endpoint:
    """Answers POSTs from a script (the last reply repeats) and records each request."""

    def __init__(self, script: Sequence[Reply], verify_secret: str | None = None) -> None:
        self.script = list(script)
        self.verify_secret = verify_secret
        self.hits: list[Hit] = []
        self.base = ""
        self.release = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.hits.append(Hit(request.path, dict(request.headers), body, time.monotonic()))
        if self.verify_secret is not None and not verify_signature(
            self.verify_secret,
            request.headers.get(TIMESTAMP_HEADER, ""),
            body,
            request.headers.get(SIGNATURE_HEADER),
            tolerance_s=300,
        ):
            return web.Response(status=401, text="bad signature")
        reply = self.script[min(len(self.hits), len(self.script)) - 1]
        if reply.hang:
            await self.release.wait()
        return web.Response(status=reply.status, headers=reply.headers, text=reply.body)

    def url(self, path: str = "/hook") -> str:
        return self.base + path


@contextlib.asynccontextmanager
async def serve(*script: Reply, verify_secret: str | None = None) -> AsyncIterator[Endpoint]:
    endpoint = Endpoint(script or (Reply(),), verify_secret)
    app = web.Application()
    app.router.add_post("/{tail:.*}", endpoint.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    endpoint.base = "http://127.0.0.1:%d" % runner.addresses[0][1]
    try:
        yield endpoint
    finally:
        endpoint.release.set()
        await runner.cleanup()


@contextlib.asynccontextmanager
async def running(sink: QueuedSink, stop_s: float = 2.0) -> AsyncIterator[QueuedSink]:
    await sink.start()
    try:
        yield sink
    finally:
        await sink.stop(stop_s)


def make_alert(
    state: AlertState = "firing",
    severity: Severity = "critical",
    wave: int = 1,
    summary: str = "BTC: $12.35M liquidated in 60s, 97% longs (z 7.4)",
) -> Alert:
    return Alert(
        alert_id="c0ffee01",
        kind="cascade",
        scope="BTC",
        state=state,
        severity=severity,
        wave=wave,
        started_ns=1_722_821_400_000_000_000,
        ts_ns=1_722_821_460_000_000_000,
        summary=summary,
        evidence={
            "window_s": 60,
            "liquidated_usd": 12_345_678.9,
            "long_usd": 12_000_000.0,
            "side_share": 0.972,
            "instrument": "BTC-USDT-PERP",
            "z": 7.412,
        },
    )


def new_metrics() -> Metrics:
    return Metrics(CollectorRegistry())


def sent(metrics: Metrics, sink: str, outcome: str) -> float:
    value = metrics.registry.get_sample_value(
        "liqmon_alerts_sent_total", {"sink": sink, "outcome": outcome}
    )
    assert value is not None
    return value


def depth(metrics: Metrics, sink: str) -> float:
    value = metrics.registry.get_sample_value("liqmon_alert_sink_queue_depth", {"sink": sink})
    assert value is not None
    return value


def delivered(ep: Endpoint) -> list[Alert]:
    alerts = [codec.decode(h.body) for h in ep.hits]
    assert all(isinstance(a, Alert) for a in alerts)
    return [a for a in alerts if isinstance(a, Alert)]


def total(metrics: Metrics, sink: str) -> float:
    return sum(sent(metrics, sink, o) for o in SINK_OUTCOMES)


# -- webhook: signature, retries, no retries, Retry-After ------------------------------


async def test_webhook_receiver_verifies_signature_and_tampering_fails() -> None:
    metrics = new_metrics()
    alert = make_alert()
    async with serve(verify_secret=HMAC_KEY) as ep:
        sink = WebhookSink(Secret(ep.url()), metrics, FAST, secret=Secret(HMAC_KEY))
        async with running(sink):
            sink.send(alert)
            await until(lambda: sent(metrics, "webhook", "ok") == 1, WAIT_S)
    (hit,) = ep.hits
    assert hit.headers["Content-Type"] == "application/json"
    assert codec.decode(hit.body) == alert
    ts, signature = hit.headers[TIMESTAMP_HEADER], hit.headers[SIGNATURE_HEADER]
    assert signature.startswith("sha256=")
    assert abs(int(ts) - time.time()) < 60
    assert verify_signature(HMAC_KEY, ts, hit.body, signature)
    tampered = hit.body.replace(b'"BTC"', b'"ETH"')
    assert tampered != hit.body
    assert not verify_signature(HMAC_KEY, ts, tampered, signature)
    assert not verify_signature("another-secret", ts, hit.body, signature)
    assert not verify_signature(HMAC_KEY, int(ts) + 1, hit.body, signature)
    assert not verify_signature(HMAC_KEY, ts, hit.body, signature, now_s=int(ts) + 301)
    assert not verify_signature(HMAC_KEY, ts, hit.body, None)


async def test_webhook_with_wrong_secret_is_refused_and_not_retried() -> None:
    metrics = new_metrics()
    async with serve(verify_secret=HMAC_KEY) as ep:
        sink = WebhookSink(Secret(ep.url()), metrics, FAST, secret=Secret("wrong"))
        async with running(sink):
            sink.send(make_alert())
            await until(lambda: sent(metrics, "webhook", "error") == 1, WAIT_S)
            await asyncio.sleep(0.2)  # room for a wrongful retry
    assert len(ep.hits) == 1
    assert sent(metrics, "webhook", "ok") == 0


async def test_500_then_200_is_retried_and_delivered_once() -> None:
    metrics = new_metrics()
    async with serve(Reply(500), Reply(200)) as ep:
        sink = WebhookSink(Secret(ep.url()), metrics, FAST)
        async with running(sink):
            sink.send(make_alert())
            await until(lambda: sent(metrics, "webhook", "ok") == 1, WAIT_S)
            await asyncio.sleep(0.2)
    assert len(ep.hits) == 2
    assert ep.hits[0].body == ep.hits[1].body
    assert (sent(metrics, "webhook", "error"), total(metrics, "webhook")) == (0, 1)


async def test_400_is_not_retried_and_counted_error() -> None:
    metrics = new_metrics()
    async with serve(Reply(400, body="bad request")) as ep:
        sink = WebhookSink(Secret(ep.url()), metrics, FAST)
        async with running(sink):
            sink.send(make_alert())
            await until(lambda: sent(metrics, "webhook", "error") == 1, WAIT_S)
            await asyncio.sleep(0.2)
    assert len(ep.hits) == 1
    assert total(metrics, "webhook") == 1


async def test_persistent_5xx_gives_up_after_the_retries() -> None:
    metrics = new_metrics()
    async with serve(Reply(503)) as ep:
        sink = WebhookSink(Secret(ep.url()), metrics, FAST)
        async with running(sink):
            sink.send(make_alert())
            await until(lambda: sent(metrics, "webhook", "error") == 1, WAIT_S)
    assert len(ep.hits) == 1 + FAST.retries


async def test_429_waits_retry_after_seconds() -> None:
    metrics = new_metrics()
    async with serve(Reply(429, {"Retry-After": "1"}), Reply(200)) as ep:
        sink = WebhookSink(Secret(ep.url()), metrics, FAST)  # backoff alone: ≤ 0.05 s
        async with running(sink):
            sink.send(make_alert())
            await until(lambda: sent(metrics, "webhook", "ok") == 1, WAIT_S)
    first, second = ep.hits
    assert second.at_s - first.at_s >= 0.9


# -- cooldown and dedup ------------------------------------------------------------------


async def test_cooldown_suppresses_a_repeat_and_resolved_is_delivered_once() -> None:
    metrics = new_metrics()
    policy = DeliveryPolicy(cooldown_s=0.5, backoff=FAST.backoff, timeout_s=2.0)
    async with serve() as ep:
        sink = WebhookSink(Secret(ep.url()), metrics, policy)
        async with running(sink):
            sink.send(make_alert("firing"))
            sink.send(make_alert("firing"))  # same key within the cooldown
            assert sent(metrics, "webhook", "suppressed") == 1
            sink.send(make_alert("firing", severity="warning"))  # another key
            sink.send(make_alert("resolved"))
            sink.send(make_alert("resolved"))
            assert sent(metrics, "webhook", "suppressed") == 2
            await until(lambda: sent(metrics, "webhook", "ok") == 3, WAIT_S)
            await asyncio.sleep(0.6)  # the cooldown has passed
            sink.send(make_alert("firing"))  # delivered again
            sink.send(make_alert("resolved"))  # resolved: once, whatever the cooldown
            await until(lambda: sent(metrics, "webhook", "ok") == 4, WAIT_S)
    states = [(a.state, a.severity) for a in delivered(ep)]
    assert states == [
        ("firing", "critical"),
        ("firing", "warning"),
        ("resolved", "critical"),
        ("firing", "critical"),
    ]
    assert sent(metrics, "webhook", "suppressed") == 3
    assert total(metrics, "webhook") == 7


# -- a hung endpoint never slows the pipeline; a full queue drops ------------------------


async def test_hung_endpoint_times_out_while_send_returns_at_once() -> None:
    metrics = new_metrics()
    policy = DeliveryPolicy(
        queue_max=2000, timeout_s=0.3, retries=1, cooldown_s=60.0, backoff=FAST.backoff
    )
    async with serve(Reply(hang=True)) as ep:
        sink = WebhookSink(Secret(ep.url()), metrics, policy)
        await sink.start()
        try:
            sink.send(make_alert(wave=0))
            await until(lambda: len(ep.hits) == 1, WAIT_S)  # the worker is stuck on it
            started = time.perf_counter()
            for wave in range(1, 1001):
                sink.send(make_alert(wave=wave))
            elapsed_s = time.perf_counter() - started
            assert elapsed_s < 0.5, "1000 send() calls took %.3f s" % elapsed_s
            assert depth(metrics, "webhook") == 1000
            await until(lambda: sent(metrics, "webhook", "timeout") >= 1, WAIT_S)
        finally:
            stop_started = time.perf_counter()
            await sink.stop(timeout_s=0.2)
            stop_s = time.perf_counter() - stop_started
    assert stop_s < 1.5
    assert sent(metrics, "webhook", "ok") == 0
    assert sent(metrics, "webhook", "dropped") >= 998  # left queued or in flight at stop
    assert total(metrics, "webhook") == 1001
    assert depth(metrics, "webhook") == 0


async def test_full_queue_drops_and_counts() -> None:
    metrics = new_metrics()
    policy = DeliveryPolicy(queue_max=2, backoff=FAST.backoff, timeout_s=2.0)
    async with serve() as ep:
        sink = WebhookSink(Secret(ep.url()), metrics, policy)
        for wave in range(1, 6):  # the worker has not started: nothing leaves the queue
            sink.send(make_alert(wave=wave))
        assert sent(metrics, "webhook", "dropped") == 3
        assert depth(metrics, "webhook") == 2
        async with running(sink):
            await until(lambda: sent(metrics, "webhook", "ok") == 2, WAIT_S)
    assert [a.wave for a in delivered(ep)] == [1, 2]


async def test_stop_drains_the_queue_first() -> None:
    metrics = new_metrics()
    async with serve() as ep:
        sink = WebhookSink(Secret(ep.url()), metrics, FAST)
        await sink.start()
        for wave in range(1, 4):
            sink.send(make_alert(wave=wave))
        sink.close()  # the router's shutdown call: no new alerts
        sink.send(make_alert(wave=9))
        await sink.stop(timeout_s=WAIT_S)
    assert len(ep.hits) == 3
    assert (sent(metrics, "webhook", "ok"), sent(metrics, "webhook", "dropped")) == (3, 1)


# -- chat payloads -----------------------------------------------------------------------

TRICKY = "BTC <b>&amp; @everyone *bold*"


async def test_slack_payload_shape() -> None:
    metrics = new_metrics()
    async with serve() as ep:
        sink = SlackSink(Secret(ep.url("/services/T0/B0/XyZ")), metrics, FAST)
        async with running(sink):
            sink.send(make_alert("firing", "critical", summary=TRICKY))
            sink.send(make_alert("firing", "warning"))
            sink.send(make_alert("resolved", "warning"))
            await until(lambda: sent(metrics, "slack", "ok") == 3, WAIT_S)
    assert ep.hits[0].path == "/services/T0/B0/XyZ"
    critical, warning, resolved = (json.loads(h.body) for h in ep.hits)
    header, summary, facts, context = critical["blocks"]
    assert header["type"] == "header"
    assert header["text"]["text"] == ":rotating_light: FIRING · critical · cascade · BTC"
    assert summary["text"] == {"type": "mrkdwn", "text": "BTC &lt;b&gt;&amp;amp; @everyone *bold*"}
    texts = [f["text"] for f in facts["fields"]]
    assert "*liquidated_usd*\n$12.35M" in texts
    assert "*z*\n7.412" in texts
    assert not any("instrument" in t for t in texts)  # strings are not numbers
    assert "wave 1" in context["elements"][0]["text"]
    assert critical["text"].startswith(":rotating_light: FIRING")
    assert warning["blocks"][0]["text"]["text"].startswith(":warning: ")
    assert resolved["blocks"][0]["text"]["text"].startswith(":white_check_mark: RESOLVED")


async def test_discord_payload_shape() -> None:
    metrics = new_metrics()
    async with serve(Reply(204, body="")) as ep:
        sink = DiscordSink(Secret(ep.url("/api/webhooks/1/tok")), metrics, FAST)
        async with running(sink):
            sink.send(make_alert("firing", "critical", summary=TRICKY))
            sink.send(make_alert("firing", "warning"))
            sink.send(make_alert("resolved", "critical"))
            await until(lambda: sent(metrics, "discord", "ok") == 3, WAIT_S)
    bodies = [json.loads(h.body) for h in ep.hits]
    assert [b["embeds"][0]["color"] for b in bodies] == [0xE01E5A, 0xECB22E, 0x2EB67D]
    assert COLOURS["critical"] == 0xE01E5A
    first = bodies[0]
    assert first["allowed_mentions"] == {"parse": []}
    assert first["content"] == "🚨 FIRING · critical · cascade · BTC"
    embed = first["embeds"][0]
    assert embed["title"] == "FIRING · critical · cascade · BTC"
    assert embed["description"] == r"BTC <b\>&amp; @everyone \*bold\*"
    assert embed["timestamp"] == "2024-08-05T01:31:00Z"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["severity"] == "critical"
    assert fields["liquidated_usd"] == "$12.35M"
    assert fields["window_s"] == "60"
    assert bodies[2]["content"].startswith("✅ RESOLVED")


async def test_telegram_payload_shape_and_body_retry_after() -> None:
    metrics = new_metrics()
    limited = Reply(429, body=json.dumps({"ok": False, "parameters": {"retry_after": 1}}))
    async with serve(limited, Reply(200, body='{"ok": true}')) as ep:
        sink = TelegramSink(
            Secret("123456:ABC-def"), -1001234, metrics, FAST, api_base=ep.base + "/"
        )
        async with running(sink):
            sink.send(make_alert("firing", "critical", summary=TRICKY))
            await until(lambda: sent(metrics, "telegram", "ok") == 1, WAIT_S)
    first, second = ep.hits
    assert second.at_s - first.at_s >= 0.9  # waited the body's retry_after
    assert second.path == "/bot123456:ABC-def/sendMessage"
    body = json.loads(second.body)
    assert body["chat_id"] == -1001234
    assert body["parse_mode"] == "HTML"
    assert body["disable_web_page_preview"] is True
    lines = body["text"].split("\n")
    assert lines[0] == "🚨 <b>FIRING · critical · cascade · BTC</b>"
    assert lines[1] == "BTC &lt;b&gt;&amp;amp; @everyone *bold*"
    assert "<b>liquidated_usd</b>: $12.35M" in lines
    assert lines[-1].startswith("<i>wave 1 · started 2024-08-05T01:30:00Z")


# -- secrets stay out of logs; config builds the sinks -----------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_secrets_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    metrics = new_metrics()
    hidden = "tok-SECRET-77"
    async with serve(Reply(403, body="forbidden")) as ep:
        sinks: list[QueuedSink] = [
            SlackSink(Secret(ep.url("/services/%s" % hidden)), metrics, FAST),
            TelegramSink(Secret(hidden), 42, metrics, FAST, api_base=ep.base),
            WebhookSink(
                Secret("http://127.0.0.1:%d/%s" % (_closed_port(), hidden)),
                metrics,
                FAST,
                secret=Secret(hidden),
            ),
        ]
        await start_sinks(sinks)
        for sink in sinks:
            sink.send(make_alert())
        await until(lambda: sent(metrics, "webhook", "error") == 1, WAIT_S)
        await until(lambda: sent(metrics, "slack", "error") == 1, WAIT_S)
        await until(lambda: sent(metrics, "telegram", "error") == 1, WAIT_S)
        await stop_sinks(sinks, 1.0)
    assert "alert sink webhook: delivery error" in caplog.text
    assert "alert sink telegram: HTTP 403" in caplog.text
    assert hidden not in caplog.text


def test_build_sinks_from_config() -> None:
    assert build_sinks(config.load(env={}).alerts, new_metrics()) == []
    env = {
        "LIQMON_ALERTS__WEBHOOK__URL": "https://example.test/hook?key=sekrit-1",
        "LIQMON_ALERTS__WEBHOOK__SECRET": "sekrit-2",
        "LIQMON_ALERTS__SLACK__WEBHOOK_URL": "https://hooks.slack.com/services/sekrit-3",
        "LIQMON_ALERTS__DISCORD__WEBHOOK_URL": "https://discord.com/api/webhooks/1/sekrit-4",
        "LIQMON_ALERTS__TELEGRAM__BOT_TOKEN": "123:sekrit-5",
        "LIQMON_ALERTS__TELEGRAM__CHAT_ID": "-100777",
        "LIQMON_ALERTS__COOLDOWN_S": "30",
        "LIQMON_ALERTS__QUEUE_MAX": "7",
    }
    settings = config.load(env=env)
    assert settings.alerts.telegram.chat_id == -100777
    dumped = config.dump_yaml(settings)
    assert "sekrit" not in dumped
    assert "telegram:" in dumped
    sinks = build_sinks(settings.alerts, new_metrics())
    assert [s.name for s in sinks] == ["webhook", "slack", "discord", "telegram"]
    assert sinks[0].policy.cooldown_s == 30.0
    assert sinks[0].policy.queue_max == 7


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"LIQMON_ALERTS__SLACK__WEBHOOK_URL": "ftp://sekrit"}, "alerts.slack.webhook_url"),
        ({"LIQMON_ALERTS__WEBHOOK__URL": "sekrit.example"}, "alerts.webhook.url"),
        ({"LIQMON_ALERTS__TELEGRAM__BOT_TOKEN": "1:sekrit"}, "alerts.telegram"),
        ({"LIQMON_ALERTS__WEBHOOK__SECRET": "sekrit"}, "alerts.webhook.secret"),
    ],
)
def test_bad_sink_config_is_refused_at_load_naming_the_key_not_the_secret(
    env: dict[str, str], key: str
) -> None:
    with pytest.raises(ConfigError) as info:
        config.load(env=env)
    assert key in str(info.value)
    assert "sekrit" not in str(info.value)
