"""The one HTTP port: ``/``, ``/metrics``, ``/healthz``, ``/readyz``, the API (aiohttp).

Handlers only read state through the callables they are given; they never block the
event loop for long (rendering ``/metrics`` is the slowest: 10-20 ms for the default catalogue).

What a client sends cannot hold the port or fill the log (`HttpLimits`):

- a connection must complete a request's headers within ``header_timeout_s`` of opening
  or of its previous response (idle keep-alive included), else it is closed: a slow-header
  client holds a socket for seconds, not forever;
- a request body must arrive within ``body_timeout_s`` (408 and the connection closed)
  and be at most ``max_body_bytes`` (413); it is read before the handler runs;
- a malformed request (bad request line, header too long) gets aiohttp's 400 and one
  log line a minute without its traceback, not one traceback per request.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import msgspec
from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from monitor.errors import ConfigError
from monitor.events import Alert
from monitor.observability import status_page
from monitor.observability.exposition import Exposition

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Readiness:
    """What ``/readyz`` reports: ready or not, and one line per check."""

    ready: bool
    checks: dict[str, str]


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """How long and how much a client may take (seconds, bytes); see the module doc."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    max_body_bytes: int = 1 << 20


LINGER_S = 1.0  # seconds an unread request body is drained before the socket closes


class _OncePerMinute(logging.Filter):
    """Lets one record a minute through, without its traceback (aiohttp's bad requests)."""

    def __init__(self, every_s: float = 60.0) -> None:
        super().__init__()
        self.every_s = every_s
        self.last = -every_s
        self.skipped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now - self.last < self.every_s:
            self.skipped += 1
            return False
        self.last = now
        why = record.exc_info[1] if record.exc_info else None
        record.msg = "http: %s%s (%d more in the last minute not logged)" % (
            record.getMessage(),
            ": %s" % " ".join(str(why).split())[:200] if why is not None else "",
            self.skipped,
        )
        record.args, record.exc_info, record.exc_text = None, None, None
        self.skipped = 0
        return True


_SERVER_LOG_FILTER = _OncePerMinute()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _body_first(limits: HttpLimits) -> Middleware:
    """Return the middleware that reads a request's body, bounded, before its handler."""

    @web.middleware
    async def body_first(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.body_exists:
            try:
                async with asyncio.timeout(limits.body_timeout_s):
                    await request.read()  # kept by aiohttp: the handler's read() returns it
            except TimeoutError:
                return web.json_response(
                    {"error": "request body not received within %g s" % limits.body_timeout_s},
                    status=408,
                    headers={"Connection": "close"},
                )
        return await handler(request)

    return body_first


@dataclass(frozen=True, slots=True)
class HttpState:
    """Read-only views the handlers use."""

    registry: CollectorRegistry
    readiness: Callable[[], Readiness]
    active_alerts: Callable[[], list[Alert]]
    role: str = "run"  # shown on the ``/`` page: run, replay, ingest, aggregate


class HttpServer:
    """Serves `HttpState` on ``host:port``; port 0 picks a free one (see `port`)."""

    def __init__(
        self,
        state: HttpState,
        host: str,
        port: int,
        routes: Sequence[web.RouteDef] = (),
        limits: HttpLimits = HttpLimits(),
    ) -> None:
        self.state = state
        self.host = host
        self.port = port
        self._exposition = Exposition(state.registry)
        self._started = time.monotonic()
        app = web.Application(
            client_max_size=limits.max_body_bytes, middlewares=[_body_first(limits)]
        )
        app.router.add_get("/", self._index)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/api/v1/alerts", self._alerts)
        app.add_routes(list(routes))  # e.g. POST /api/v1/margin-changes
        # aiohttp closes a connection that has no complete request keepalive_timeout after
        # it opened or after its last response: that is the header timeout. A body left
        # unread (408, 413) is drained for at most lingering_time, then the socket closes.
        self._runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            keepalive_timeout=limits.header_timeout_s,
            lingering_time=LINGER_S,
        )
        server_log = logging.getLogger("aiohttp.server")
        if _SERVER_LOG_FILTER not in server_log.filters:
            server_log.addFilter(_SERVER_LOG_FILTER)

    async def start(self) -> None:
        """Bind and serve; afterwards `port` is the bound port.

        Raises:
            ConfigError: the address cannot be bound (in use, not local, no permission).
        """
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            if exc.errno == errno.EADDRINUSE:
                why = "address already in use (another liqmon? change --metrics-addr)"
            else:
                why = os.strerror(exc.errno) if exc.errno else str(exc)
            raise ConfigError("http.listen %s:%d: %s" % (self.host, self.port, why)) from None
        addresses = self._runner.addresses
        if addresses:
            self.port = int(addresses[0][1])
        logger.info("http listening on http://%s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Stop serving."""
        await self._runner.cleanup()

    async def _index(self, request: web.Request) -> web.Response:
        del request
        ready = self.state.readiness()
        page = status_page.render(
            ready=ready.ready,
            checks=ready.checks,
            alerts=self.state.active_alerts(),
            uptime_s=time.monotonic() - self._started,
            role=self.state.role,
        )
        return web.Response(text=page, content_type="text/html")

    async def _metrics(self, request: web.Request) -> web.Response:
        """Render the registry on the event loop thread, the one the engine runs on.

        So the engine-state gauges (`monitor.observability.engine_gauges`) read the engine
        between two of its steps, never in the middle of one.
        """
        del request
        body = self._exposition.render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, request: web.Request) -> web.Response:
        del request
        return web.Response(text="ok\n")

    async def _readyz(self, request: web.Request) -> web.Response:
        del request
        ready = self.state.readiness()
        body = msgspec.json.encode({"ready": ready.ready, "checks": ready.checks})
        return web.Response(
            body=body, status=200 if ready.ready else 503, content_type="application/json"
        )

    async def _alerts(self, request: web.Request) -> web.Response:
        del request
        body = msgspec.json.encode({"alerts": self.state.active_alerts()})
        return web.Response(body=body, content_type="application/json")


def split_host_port(listen: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[::1]:9464`` too) into host and port."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)
