"""The one HTTP port: ``/``, ``/metrics``, ``/healthz``, ``/readyz``, the API (aiohttp).

Handlers only read state through the callables they are given; they never block the
event loop for long (rendering ``/metrics`` is the slowest: 10-20 ms for the default catalogue).
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from monitor import status_page
from monitor.errors import ConfigError
from monitor.events import Alert
from monitor.exposition import Exposition

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Readiness:
    """What ``/readyz`` reports: ready or not, and one line per check."""

    ready: bool
    checks: dict[str, str]


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
        self, state: HttpState, host: str, port: int, routes: Sequence[web.RouteDef] = ()
    ) -> None:
        self.state = state
        self.host = host
        self.port = port
        self._exposition = Exposition(state.registry)
        self._started = time.monotonic()
        app = web.Application()
        app.router.add_get("/", self._index)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/api/v1/alerts", self._alerts)
        app.add_routes(list(routes))  # e.g. POST /api/v1/margin-changes
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)

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
