"""A local HTTP receiver that records JSON POSTs (Alertmanager's webhook, liqmon's sinks)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web


class Receiver:
    """Collects every POSTed JSON body; `wait_for(pred)` waits for a matching one."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self.url = ""
        self._arrived = asyncio.Event()

    async def _handle(self, request: web.Request) -> web.Response:
        self.bodies.append(json.loads(await request.text()))
        self._arrived.set()
        return web.Response(text="ok")

    async def wait_for(self, predicate: Callable[[Any], bool], timeout_s: float) -> Any:
        async with asyncio.timeout(timeout_s):
            while True:
                for body in self.bodies:
                    if predicate(body):
                        return body
                self._arrived.clear()
                await self._arrived.wait()


@contextlib.asynccontextmanager
async def receiver(path: str = "/alerts") -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post(path, rec._handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.url = "http://127.0.0.1:%d%s" % (runner.addresses[0][1], path)
    try:
        yield rec
    finally:
        await runner.cleanup()
