"""A daemon's HTTP port (`monitor.observability.http`) for a `Runtime`: bound first, stopped last.

Imported only where HTTP is served (aiohttp).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence

from aiohttp import web

from monitor.events import Alert
from monitor.observability.http import HttpServer, HttpState, Readiness, split_host_port
from monitor.runtime.core import Runtime


@contextlib.asynccontextmanager
async def serving(
    runtime: Runtime,
    *,
    ready: Callable[[], Readiness],
    active: Callable[[], list[Alert]],
    role: str,
    routes: Sequence[web.RouteDef] = (),
) -> AsyncIterator[HttpServer]:
    """Serve ``settings.http.listen`` for `runtime` (``runtime.http``) until the block ends.

    Args:
        runtime: the daemon's handle; its registry is ``/metrics``.
        ready: ``/readyz`` (`monitor.runtime.core.readiness` over the transport's checks).
        active: the pending and firing alerts (``/api/v1/alerts``, the ``/`` page).
        role: shown on the ``/`` page: run, replay, ingest, aggregate, ingest+aggregate.
        routes: extra routes (``POST /api/v1/margin-changes`` where margin inputs run).

    Raises:
        ConfigError: the address cannot be bound.
    """
    host, port = split_host_port(runtime.settings.http.listen)
    state = HttpState(runtime.registry, ready, active, role=role)
    server = HttpServer(state, host, port, routes=routes)
    await server.start()
    runtime.http = server
    try:
        yield server
    finally:
        await server.stop()
