"""A local venue look-alike for benchmarks: liquidation frames at an offered rate.

Runs in its own process (`serve`): a `websockets` server on 127.0.0.1 that accepts the
adapter's connections and, every 5 ms, sends each open connection its share of the events
due at the current offered rate (a shared value the benchmark changes). Frames are
real-shaped, with the current event time and a unique size, so every event becomes one
liquidation with its own ``event_id``:

- ``binance``: one combined-stream ``forceOrder`` message per event, as Binance USDⓈ-M
  sends them (``tests/fixtures/payloads/binance_usdm/forceOrder_combined.json``);
- ``bybit``: ``allLiquidation`` snapshots whose ``data`` array holds `per_frame` events, as
  Bybit pushes them every 500 ms per symbol (``tests/fixtures/payloads/bybit/
  allLiquidation_linear.json``); the adapter's subscribe messages and pings are read and
  ignored.

The handshake is the `websockets` server's; the frames of one 5-ms tick are then written to
the connection's transport in one call, as pre-built unmasked text frames (RFC 6455 §5.2).
That keeps the feeder's own CPU small on a 2-core machine, so the measured cost is the
adapter's: the client still reads, unframes and parses every frame on its own. A connection
whose socket buffer holds more than `MAX_BACKLOG_BYTES` (a reader that cannot keep up) gets
no more frames until it drains; they count as ``skipped``, not ``sent``.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from typing import Final

from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as ws_serve

TICK_S: Final = 0.005
MAX_BACKLOG_BYTES: Final = 8 << 20
SYMBOLS: Final[tuple[tuple[str, float], ...]] = (
    ("BTCUSDT", 95_000.0), ("ETHUSDT", 3_300.0), ("SOLUSDT", 180.0), ("XRPUSDT", 2.4),
    ("DOGEUSDT", 0.3), ("AVAXUSDT", 30.0), ("LINKUSDT", 20.0), ("NEARUSDT", 4.0),
    ("BNBUSDT", 600.0), ("ADAUSDT", 0.7), ("LTCUSDT", 90.0), ("DOTUSDT", 6.0),
)  # fmt: skip
_BYBIT_ROW: Final = '{"T":%d,"s":"%s","S":"%s","v":"%s","p":"%s"}'
_BYBIT_FRAME: Final = '{"topic":"allLiquidation.%s","type":"snapshot","ts":%d,"data":[%s]}'
_FRAME: Final = (
    '{"stream":"!forceOrder@arr","data":{"e":"forceOrder","E":%d,"o":{"s":"%s","S":"%s",'
    '"o":"LIMIT","f":"IOC","q":"%s","p":"%s","ap":"%s","X":"FILLED","l":"%s","z":"%s",'
    '"T":%d}}}'
)


def ws_text_frame(payload: bytes) -> bytes:
    """Return one unmasked, final text frame (server → client) carrying `payload`."""
    n = len(payload)
    if n < 126:
        return b"\x81" + bytes((n,)) + payload
    if n < 1 << 16:
        return b"\x81\x7e" + struct.pack("!H", n) + payload
    return b"\x81\x7f" + struct.pack("!Q", n) + payload


def force_order(seq: int, now_ms: int) -> bytes:
    """Return the `seq`-th ``forceOrder`` message, stamped `now_ms` (epoch milliseconds)."""
    symbol, price = SYMBOLS[seq % len(SYMBOLS)]
    side = "SELL" if seq % 10 else "BUY"  # mostly longs liquidated, as in a cascade
    qty = "%d.%06d" % (seq % 7 + 1, seq % 1_000_000)  # unique per seq: distinct event ids
    px = "%.4f" % (price * (1 + (seq % 101 - 50) * 1e-5))
    return (_FRAME % (now_ms, symbol, side, qty, px, px, qty, qty, now_ms)).encode()


def all_liquidation(seq: int, n: int, now_ms: int) -> bytes:
    """Return a Bybit ``allLiquidation`` snapshot of events `seq` … `seq` + `n` − 1."""
    symbol, price = SYMBOLS[seq % len(SYMBOLS)]
    rows = []
    for i in range(seq, seq + n):
        side = "Buy" if i % 10 else "Sell"  # Bybit: Buy = a long position liquidated
        size = "%d.%06d" % (i % 7 + 1, i % 1_000_000)
        rows.append(_BYBIT_ROW % (now_ms, symbol, side, size, "%.4f" % price))
    return (_BYBIT_FRAME % (symbol, now_ms, ",".join(rows))).encode()


class Feeder:
    """Sends due frames to every open connection; the rate is read from a shared value.

    Args:
        venue: ``binance`` (one event per frame) or ``bybit`` (`per_frame` per frame).
        per_frame: events per ``bybit`` frame.
        rate: offered events per second over all connections (changed by the benchmark).
        sent: events written so far (read by the benchmark).
        skipped: events not written because a connection's backlog was full.
    """

    def __init__(
        self,
        venue: str,
        per_frame: int,
        rate: Synchronized[float],
        sent: Synchronized[int],
        skipped: Synchronized[int],
    ) -> None:
        self.venue = venue
        self.per_frame = per_frame if venue == "bybit" else 1
        self.rate = rate
        self.sent = sent
        self.skipped = skipped
        self.conns: list[ServerConnection] = []
        self.seq = 0

    async def handler(self, ws: ServerConnection) -> None:
        """Serve one adapter connection: keep it in the send list until it closes."""
        self.conns.append(ws)
        try:
            async for _ in ws:  # subscribe messages, pings: read and ignored
                pass
        finally:
            self.conns.remove(ws)

    async def pace(self) -> None:
        """Every 5 ms: split what is due at the current rate over the open connections."""
        due = 0.0
        last = time.perf_counter()
        while True:
            await asyncio.sleep(TICK_S)
            now = time.perf_counter()
            due += self.rate.value * (now - last)
            last = now
            if not self.conns:
                due = 0.0
                continue
            k = int(due)
            due -= k
            if k:
                self._send(k, self.conns)

    def _frames(self, n: int, now_ms: int) -> list[bytes]:
        """Return the WebSocket frames carrying the next `n` events."""
        seq, self.seq = self.seq, self.seq + n
        if self.venue == "binance":
            return [ws_text_frame(force_order(seq + j, now_ms)) for j in range(n)]
        k = self.per_frame
        return [
            ws_text_frame(all_liquidation(seq + j, min(k, n - j), now_ms)) for j in range(0, n, k)
        ]

    def _send(self, k: int, conns: Sequence[ServerConnection]) -> None:
        now_ms = time.time_ns() // 1_000_000
        share, extra = divmod(k, len(conns))
        sent = skipped = 0
        for i, ws in enumerate(conns):
            n = share + (i < extra)
            transport = ws.transport
            if transport.is_closing() or transport.get_write_buffer_size() > MAX_BACKLOG_BYTES:
                skipped += n
                continue
            transport.write(b"".join(self._frames(n, now_ms)))
            sent += n
        with self.sent.get_lock():
            self.sent.value += sent
        with self.skipped.get_lock():
            self.skipped.value += skipped


def serve(
    venue: str,
    per_frame: int,
    rate: Synchronized[float],
    sent: Synchronized[int],
    skipped: Synchronized[int],
    conn: Connection,
) -> None:
    """Process entry: serve on an ephemeral port, send ``ws://127.0.0.1:<port>`` on `conn`."""
    asyncio.run(_serve(Feeder(venue, per_frame, rate, sent, skipped), conn))


async def _serve(feeder: Feeder, conn: Connection) -> None:
    async with ws_serve(
        feeder.handler, "127.0.0.1", 0, compression=None, ping_interval=None, max_queue=16
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        conn.send("ws://127.0.0.1:%d" % port)
        pacer = asyncio.create_task(feeder.pace())
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, conn.recv)  # any message: stop
        pacer.cancel()
