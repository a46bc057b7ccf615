"""The HTTP port against hostile clients, over raw loopback sockets.

The real `HttpServer` with the margin route, with short limits so slow clients are judged
in under a second: slow headers, idle keep-alive, slow and oversized bodies, malformed
requests. None may hold the port, get a 500, or write a log line per request.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from prometheus_client import CollectorRegistry

from monitor.margin.http import PATH, margin_route
from monitor.observability.http import HttpLimits, HttpServer, HttpState, Readiness
from monitor.secret import Secret

pytestmark = pytest.mark.integration
TOKEN = "s3cret-token"  # noqa: S105 - a test token
LIMITS = HttpLimits(header_timeout_s=0.5, body_timeout_s=0.5, max_body_bytes=64 * 1024)
CLOSED_WITHIN_S = 5.0  # ten times the limit: generous on a loaded machine
GOOD = {
    "venue": "cme", "product": "SI", "asset": "XAG", "basis": "pct_notional",
    "old": 15, "new": 18, "notice": "2026-02-05", "effective": "2026-02-06T22:00Z",
}  # fmt: skip


@pytest.fixture
async def server():
    published: list[object] = []

    async def publish(events) -> int:
        published.extend(events)
        return len(events)

    state = HttpState(CollectorRegistry(), lambda: Readiness(True, {}), list)
    route = margin_route(Secret(TOKEN), publish, classes={"XAG": "metal"})
    http = HttpServer(state, "127.0.0.1", 0, routes=[route], limits=LIMITS)
    await http.start()
    yield http, published
    await http.stop()


async def exchange(port: int, data: bytes) -> bytes:
    """Send `data` at once and return everything until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    async with asyncio.timeout(CLOSED_WITHIN_S):
        out = await reader.read()
    writer.close()
    return out


def status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def post(body: bytes, extra: bytes = b"") -> bytes:
    head = (
        b"POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer %s\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n"
        % (PATH.encode(), TOKEN.encode(), len(body))
    )
    return head + extra + b"\r\n" + body


async def trickle_until_closed(port: int, first: bytes, drip: bytes) -> bytes:
    """Send `first`, then `drip` every 50 ms; return what came back once the server closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(first)

    async def drip_forever() -> None:
        while True:
            await asyncio.sleep(0.05)
            writer.write(drip)

    dripping = asyncio.create_task(drip_forever())
    try:
        async with asyncio.timeout(CLOSED_WITHIN_S):
            return await reader.read()
    finally:
        dripping.cancel()
        writer.close()


async def healthy(port: int) -> bool:
    got = await exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    return status(got) == 200


async def test_a_slow_header_client_is_dropped(server) -> None:
    http, _ = server
    got = await trickle_until_closed(http.port, b"GET /metrics HTTP/1.1\r\n", b"X-A: b\r\n")
    assert got == b""  # closed without an answer: the headers never completed
    assert await healthy(http.port)


async def test_an_idle_keep_alive_connection_is_dropped(server) -> None:
    http, _ = server
    got = await trickle_until_closed(
        http.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\n", b"X: y\r\n"
    )
    assert got.count(b"HTTP/1.1 200") == 1  # the first request answered, the slow one dropped


async def test_a_slow_body_gets_408_and_nothing_is_published(server) -> None:
    http, published = server
    body = json.dumps(GOOD).encode()
    got = await trickle_until_closed(http.port, post(body)[: -len(body) + 1], b" ")
    assert status(got) == 408
    assert published == []


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_body_over_the_limit_gets_413(server, chunked: bool) -> None:
    http, published = server
    big = b"[" + b"1," * (LIMITS.max_body_bytes // 2) + b"1]"
    if chunked:
        request = post(b"")[: -len(b"Content-Length: 0\r\n\r\n")]
        request += b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(big), big)
    else:
        request = post(big)
    assert status(await exchange(http.port, request)) == 413
    assert published == []
    assert await healthy(http.port)


MALFORMED = {
    "garbage request line": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    "header line of 64 KiB": b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n",
    "bad content length": b"POST %s HTTP/1.1\r\nContent-Length: nine\r\n\r\n" % PATH.encode(),
    "both length and chunked": b"POST %s HTTP/1.1\r\nContent-Length: 3\r\n"
    b"Transfer-Encoding: chunked\r\n\r\nabc" % PATH.encode(),
    "bad chunk size": b"POST %s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    % PATH.encode(),
    "deep JSON": post(b"[" * 100_000 + b"]" * 100_000),
    "not UTF-8": post(b'{"venue": "\xff\xfe"}'),
    "not JSON": post(b"\x00\x01\x02 not json"),
    "absurd query": b"GET /metrics?" + b"a=1&" * 1000 + b" HTTP/1.1\r\nConnection: close\r\n\r\n",
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_malformed_requests_get_4xx_never_500(server, case: str) -> None:
    http, published = server
    got = await exchange(http.port, MALFORMED[case])
    assert got == b"" or 200 <= status(got) < 500, got[:200]
    if case != "absurd query":
        assert published == []
    assert await healthy(http.port)


async def test_a_flood_of_bad_requests_writes_one_log_line(server, caplog) -> None:
    http, _ = server
    caplog.set_level(logging.DEBUG, logger="aiohttp.server")
    statuses = [
        status(got)
        for got in await asyncio.gather(
            *(exchange(http.port, b"NOT HTTP AT ALL\r\n\r\n") for _ in range(200))
        )
    ]
    assert set(statuses) == {400}
    lines = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert len(lines) <= 1
    assert all(r.exc_info is None for r in lines)  # one line, no traceback


async def test_many_slow_clients_do_not_block_a_scrape(server) -> None:
    http, _ = server
    held = [await asyncio.open_connection("127.0.0.1", http.port) for _ in range(200)]
    for _, writer in held:
        writer.write(b"GET / HTTP/1.1\r\n")
    assert await healthy(http.port)
    async with asyncio.timeout(CLOSED_WITHIN_S):  # all of them dropped by the header timeout
        ends = await asyncio.gather(*(reader.read() for reader, _ in held))
    assert ends == [b""] * len(held)
    for _, writer in held:
        writer.close()
