"""A scripted fake exchange: a real `websockets` server on 127.0.0.1, port 0.

Each accepted connection runs the next script (a list of steps); after the last script,
the last one repeats. Steps: `Expect` (wait for a client message containing a text),
`Send` (a text or binary frame), `Close` (with a code), `Kill` (drop the TCP connection),
`Stall` (hold without sending), `Reject` (answer the handshake with an HTTP status, e.g.
503). The server records every connection's path and every message the client sent, so
tests assert subscriptions, reconnects and pings exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response


@dataclass(frozen=True)
class Expect:
    text: str
    timeout_s: float = 5.0


@dataclass(frozen=True)
class Send:
    frame: str | bytes


@dataclass(frozen=True)
class SendNow:
    """Send the frame `make()` builds at send time (frames stamped with the current time)."""

    make: Callable[[], str]


@dataclass(frozen=True)
class Close:
    code: int = 1000
    reason: str = ""


@dataclass(frozen=True)
class Kill:
    """Drop the TCP connection without a close frame (a venue or network dying)."""


@dataclass(frozen=True)
class Stall:
    seconds: float


@dataclass(frozen=True)
class Reject:
    status: int = 503


Step = Expect | Send | SendNow | Close | Kill | Stall | Reject


@dataclass
class Connection:
    index: int
    path: str
    received: list[str] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    closed: asyncio.Event = field(default_factory=asyncio.Event)


class FakeExchange:
    """``async with FakeExchange(scripts) as fx:`` then connect to ``fx.url``."""

    def __init__(
        self, scripts: list[list[Step]], routes: dict[str, list[list[Step]]] | None = None
    ) -> None:
        """`scripts` play in connection order; `routes` (path substring → scripts) win."""
        self.scripts = scripts
        self.routes = routes or {}
        self._route_counts: dict[str, int] = {}
        self.connections: list[Connection] = []
        self.handshakes = 0
        self._server: Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return "ws://127.0.0.1:%d" % self.port

    def _script(self, n: int) -> list[Step]:
        return self.scripts[min(n, len(self.scripts) - 1)]

    async def __aenter__(self) -> FakeExchange:
        self._server = await serve(
            self._handler, "127.0.0.1", 0, process_request=self._process_request, compression=None
        )
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def stop(self) -> None:
        """Stop serving and drop every connection (a venue outage)."""
        await self.__aexit__()

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        n = self.handshakes
        self.handshakes += 1
        script = self._script(n)
        for key, scripts in self.routes.items():
            if key in request.path:
                k = self._route_counts.get(key, 0)
                self._route_counts[key] = k + 1
                script = scripts[min(k, len(scripts) - 1)]
                break
        conn.liqmon_script = script  # type: ignore[attr-defined]
        if script and isinstance(script[0], Reject):
            status = HTTPStatus(script[0].status)
            return Response(status.value, status.phrase, Headers(), b"rejected\n")
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        record = Connection(len(self.connections), ws.request.path if ws.request else "")
        self.connections.append(record)
        reader = asyncio.create_task(self._read(ws, record))
        try:
            for step in ws.liqmon_script:  # type: ignore[attr-defined]
                if not await self._run(ws, record, step):
                    return
            await ws.wait_closed()
        except ConnectionClosed:
            pass
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            record.closed.set()

    async def _read(self, ws: ServerConnection, record: Connection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                record.received.append(message if isinstance(message, str) else message.decode())
                record.arrived.set()

    async def _run(self, ws: ServerConnection, record: Connection, step: Step) -> bool:
        if isinstance(step, Expect):
            async with asyncio.timeout(step.timeout_s):
                while not any(step.text in m for m in record.received):
                    record.arrived.clear()
                    await record.arrived.wait()
        elif isinstance(step, Send):
            await ws.send(step.frame)
        elif isinstance(step, SendNow):
            await ws.send(step.make())
        elif isinstance(step, Close):
            await ws.close(step.code, step.reason)
            return False
        elif isinstance(step, Kill):
            ws.transport.abort()
            return False
        elif isinstance(step, Stall):  # hold, but end as soon as the connection closes
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(step.seconds):
                    await ws.wait_closed()
                    return False
        return True
