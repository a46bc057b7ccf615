"""Queued network delivery of alerts: the base of the webhook, Slack, Discord, Telegram sinks.

Each `QueuedSink` owns a bounded queue, one worker task and one aiohttp session. `send`
only checks the cooldown and enqueues, so a slow or hung endpoint never slows the pipeline;
the worker delivers one alert at a time:

- every attempt is bounded by ``timeout_s`` (aiohttp ``ClientTimeout(total=…)``);
- network errors, timeouts, HTTP 5xx and 429 are retried up to ``retries`` times, waiting
  the shared `Backoff` delay, or the server's ``Retry-After`` seconds (capped) on 429/503;
- any other status outside 2xx is final (a bad token will not fix itself).

Every alert given to `send` ends in exactly one ``liqmon_alerts_sent_total{sink,outcome}``
count: ``ok`` (a 2xx), ``error`` (non-retriable status, or retries exhausted on an error),
``timeout`` (retries exhausted and the last attempt timed out), ``dropped`` (queue full,
sink closed, or still queued or in flight when `stop` gave up) or ``suppressed`` (cooldown).

Cooldown: the key is (kind, scope, state, wave, severity). The same key again within
``cooldown_s`` seconds is suppressed; a ``resolved`` key is delivered once whatever the
cooldown (kept in a bounded memory of recent keys), so an incident's end is never sent twice
and never swallowed by the window. The lifecycle emits each key once; this catches repeats
(restarts that re-read the bus, duplicated routing).

Secrets (URLs with tokens, signing keys) are never logged: log lines carry the sink name,
the outcome, the HTTP status and the exception class only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

import aiohttp

from monitor import __version__
from monitor.events import Alert
from monitor.observability.metrics import Metrics
from monitor.sources.backoff import Backoff

logger = logging.getLogger(__name__)

SinkName = Literal["webhook", "slack", "discord", "telegram"]
Outcome = Literal["ok", "error", "timeout", "dropped", "suppressed"]
DedupKey = tuple[str, str, str, int, str]
USER_AGENT: Final = "liqmon/%s" % __version__
RESOLVED_MEMORY: Final = 4096
"""Resolved keys remembered for once-only delivery (oldest forgotten first)."""


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How a sink queues, times out, retries and de-duplicates.

    Attributes:
        queue_max: alerts waiting per sink; one more is dropped.
        timeout_s: bound of one HTTP attempt (connect, send, response), seconds.
        retries: further attempts after the first (0: a single attempt).
        cooldown_s: the same key again within this many seconds is suppressed.
        backoff: delays between attempts (capped, jittered), seconds.
        retry_after_max_s: cap on a server's ``Retry-After``, seconds.
    """

    queue_max: int = 100
    timeout_s: float = 10.0
    retries: int = 3
    cooldown_s: float = 600.0
    backoff: Backoff = field(default_factory=lambda: Backoff(initial_s=1.0, max_s=30.0))
    retry_after_max_s: float = 60.0


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP POST: where, what, which headers (the URL may hold a token: never log it)."""

    url: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Answer:
    """What one attempt got back: an HTTP status with its wait hint, or a failure."""

    outcome: Literal["ok", "retry", "final"]
    failure: Literal["error", "timeout"] = "error"
    retry_after_s: float | None = None


def dedup_key(alert: Alert) -> DedupKey:
    """Return the cooldown key of `alert`: (kind, scope, state, wave, severity)."""
    return (alert.kind, alert.scope, alert.state, alert.wave, alert.severity)


def parse_retry_after(value: str | None, cap_s: float) -> float | None:
    """Return a ``Retry-After`` given in seconds, clamped to [0, `cap_s`]; None otherwise.

    The HTTP-date form is not honoured (the backoff delay applies instead).
    """
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), cap_s)


class QueuedSink:
    """Base of the network sinks: bounded queue, one worker, timeouts, retries, cooldown.

    Subclasses implement `request` (the POST for one alert) and may refine `retry_after`
    (where the endpoint puts its wait hint). Life cycle: `start` inside the event loop,
    `send` from the pipeline (also before `start`: the alert waits in the queue), `close`
    (the `AlertSink` call at shutdown: no new alerts), then ``await stop(timeout_s)``.
    """

    def __init__(
        self,
        name: SinkName,
        metrics: Metrics,
        policy: DeliveryPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name: SinkName = name
        self.policy = policy or DeliveryPolicy()
        self._clock = clock
        self._queue: asyncio.Queue[Alert] = asyncio.Queue(self.policy.queue_max)
        self._outcomes = {
            o: metrics.alerts_sent.labels(name, o)
            for o in ("ok", "error", "timeout", "dropped", "suppressed")
        }
        self._depth = metrics.sink_queue.labels(name)
        self._recent: OrderedDict[DedupKey, float] = OrderedDict()  # key → first sent (s)
        self._resolved: OrderedDict[DedupKey, None] = OrderedDict()
        self._closed = False
        self._worker: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    # -- the pipeline side: never blocks, never raises for delivery -------------------

    def send(self, alert: Alert) -> None:
        """Take one transition: suppress a repeat, else enqueue it (full queue: drop)."""
        if self._closed:
            self._count("dropped")
            return
        if self._is_repeat(alert):
            self._count("suppressed")
            return
        try:
            self._queue.put_nowait(alert)
        except asyncio.QueueFull:
            self._count("dropped")
            logger.warning("alert sink %s: queue full, alert dropped", self.name)
            return
        self._depth.set(self._queue.qsize())

    def close(self) -> None:
        """Refuse new alerts (`AlertSink` shutdown); `stop` drains and releases."""
        self._closed = True

    def _is_repeat(self, alert: Alert) -> bool:
        key = dedup_key(alert)
        if alert.state == "resolved":
            if key in self._resolved:
                return True
            self._resolved[key] = None
            if len(self._resolved) > RESOLVED_MEMORY:
                self._resolved.popitem(last=False)
            return False
        now = self._clock()
        horizon = now - self.policy.cooldown_s
        while self._recent and next(iter(self._recent.values())) <= horizon:
            self._recent.popitem(last=False)  # insertion order is time order
        if key in self._recent:
            return True
        self._recent[key] = now
        return False

    def _count(self, outcome: Outcome) -> None:
        self._outcomes[outcome].inc()

    # -- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Open the HTTP session and start the worker (call once, inside the event loop)."""
        if self._worker is not None:
            return
        self._session = aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})
        self._worker = asyncio.create_task(self._work(), name="alert-sink-%s" % self.name)

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Stop taking alerts, deliver what is queued for at most `timeout_s` seconds, close.

        Alerts still queued or in flight when the time is up are counted ``dropped``.
        """
        self._closed = True
        worker, self._worker = self._worker, None
        if worker is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await self._queue.join()
            if not worker.done():
                worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        left = self._queue.qsize()
        while not self._queue.empty():
            self._queue.get_nowait()
            self._queue.task_done()
        if left:
            self._outcomes["dropped"].inc(left)
            logger.warning("alert sink %s: %d alerts dropped at shutdown", self.name, left)
        self._depth.set(0)
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- the worker side -----------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            alert = await self._queue.get()
            self._depth.set(self._queue.qsize())
            outcome: Outcome = "dropped"  # cancelled mid-delivery: never confirmed
            try:
                outcome = await self._deliver(alert)
            finally:
                self._count(outcome)
                self._queue.task_done()
            if outcome != "ok":
                logger.warning("alert sink %s: delivery %s", self.name, outcome)

    async def _deliver(self, alert: Alert) -> Outcome:
        delays = self.policy.backoff()
        failure: Literal["error", "timeout"] = "error"
        for attempt in range(self.policy.retries + 1):
            answer = await self._attempt(alert)
            if answer.outcome == "ok":
                return "ok"
            failure = answer.failure
            if answer.outcome == "final" or attempt == self.policy.retries:
                break
            await asyncio.sleep(self._wait_s(answer, delays))
        return failure

    def _wait_s(self, answer: _Answer, delays: Iterator[float]) -> float:
        delay = next(delays)
        return delay if answer.retry_after_s is None else answer.retry_after_s

    async def _attempt(self, alert: Alert) -> _Answer:
        session = self._session
        if session is None:
            msg = "alert sink %s used before start()" % self.name
            raise RuntimeError(msg)
        req = self.request(alert)  # per attempt: signatures carry a fresh timestamp
        timeout = aiohttp.ClientTimeout(total=self.policy.timeout_s)
        try:
            async with session.post(
                req.url, data=req.body, headers=req.headers, timeout=timeout,
                allow_redirects=False,
            ) as resp:  # fmt: skip
                status = resp.status
                body = await resp.read()
                hint = self.retry_after(status, resp.headers, body)
        except TimeoutError:
            logger.info("alert sink %s: attempt timed out", self.name)
            return _Answer("retry", "timeout")
        except aiohttp.ClientError as exc:
            logger.info("alert sink %s: attempt failed: %s", self.name, type(exc).__name__)
            return _Answer("retry", "error")
        if 200 <= status < 300:
            return _Answer("ok")
        logger.info("alert sink %s: HTTP %d", self.name, status)
        if status == 429 or status >= 500:
            return _Answer("retry", "error", hint)
        return _Answer("final", "error")

    # -- what subclasses provide ----------------------------------------------------------

    def request(self, alert: Alert) -> Request:
        """Return the POST that delivers `alert` (subclasses implement it)."""
        raise NotImplementedError

    def retry_after(self, status: int, headers: Mapping[str, str], body: bytes) -> float | None:
        """Return the server's wait hint in seconds (``Retry-After`` header), or None."""
        del status, body
        return parse_retry_after(headers.get("Retry-After"), self.policy.retry_after_max_s)
