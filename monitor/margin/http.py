"""``POST /api/v1/margin-changes``: enter clearing-house notices over HTTP (bearer token).

Request: ``Authorization: Bearer <http.api_token>`` and a JSON body holding one change or a
list of changes. Fields are the event's: ``venue``, ``product``, ``asset``,
``basis``, ``old``, ``new``, the times as ``notice``/``effective`` (ISO date or datetime,
rules in `monitor.margin.model`) or ``notice_ts_ns``/``effective_ts_ns``; optional
``asset_class`` (default from ``assets.classes``), ``profile``, ``source``, ``tightening``
(computed when absent, checked when given), ``event_id`` (deterministic when absent) and
``type`` (``margin_change``), so a contract event can be posted as it is. Unknown fields
are refused, to catch typos such as ``efective``.

Responses (JSON objects; errors are ``{"error": "<one line>"}``):

- **202** ``{"accepted": [event_id, …], "duplicates": [event_id, …]}``: every change was
  valid; the new ones were handed to the bus. A change whose ``event_id`` this daemon
  already took (the same notice posted twice, or a retried request) is listed under
  ``duplicates`` and not published again; the engine also ignores a repeated id, so a
  change counts once whichever way it arrives.
- **200** the same body when every change was a duplicate (nothing new was published).
- **400** the body or one field is wrong (or nested too deep); the line names it
  (``items[1].old: …``). A list
  is all or nothing: nothing is published when any item is bad.
- **401** no token, another scheme, or a wrong token (constant-time compare); nothing is
  parsed or published (the HTTP server reads every body first, bounded in size and time).
  ``WWW-Authenticate: Bearer`` is set.
- **413** the body is larger than ``HttpLimits.max_body_bytes`` (1 MiB); **408** it did not
  arrive within ``HttpLimits.body_timeout_s`` (10 s).
- **503** no token is configured: the endpoint refuses everything until ``http.api_token``
  is set (an open endpoint would let anyone arm the margin-hike detector). Also 503 with
  ``Retry-After`` when the bus is full or closing.
"""

from __future__ import annotations

import hmac
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

import msgspec
from aiohttp import web

from monitor.errors import BusBackpressure, BusError
from monitor.events import AssetClass, MarginChange
from monitor.margin.calendar import MarginPublish
from monitor.margin.model import PATH, FieldError, build_change
from monitor.recent import RecentIds
from monitor.secret import Secret

logger = logging.getLogger(__name__)

MAX_ITEMS: Final = 1000
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, reason: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=msgspec.json.encode({"error": reason}),
        content_type="application/json",
        headers=headers,
    )


def authorized(request: web.Request, token: Secret) -> bool:
    """Return True when the request carries ``Authorization: Bearer <token>`` exactly."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.reveal().encode())


def parse_body(raw: bytes, classes: Mapping[str, AssetClass]) -> list[MarginChange]:
    """Validate a request body: one change object or a non-empty list of them.

    Raises:
        FieldError: naming the body or the first bad field (``items[i].field`` in a list).
    """
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise FieldError(field="body", reason="not JSON: %s" % exc) from None
    except RecursionError:  # msgspec's guard against a deeply nested body
        raise FieldError(field="body", reason="nested too deep") from None
    if isinstance(body, dict):
        return [_one(body, "", classes)]
    if not isinstance(body, list) or not body:
        raise FieldError(field="body", reason="expected a change object or a non-empty list")
    if len(body) > MAX_ITEMS:
        raise FieldError(field="body", reason="more than %d changes" % MAX_ITEMS)
    return [_one(item, "items[%d]." % i, classes) for i, item in enumerate(body)]


def _one(item: object, where: str, classes: Mapping[str, AssetClass]) -> MarginChange:
    if not isinstance(item, dict):
        raise FieldError(where.rstrip(".") or "body", "expected an object")
    try:
        return build_change(item, classes, default_source="http")
    except FieldError as exc:
        raise FieldError(where + exc.field, exc.reason) from None


async def _publish(
    publish: MarginPublish, changes: list[MarginChange], seen: RecentIds
) -> web.Response:
    """Hand the new `changes` to the bus; 202 with their ids, 503 when the bus cannot take them."""
    fresh = [c for c in changes if c.event_id not in seen]
    duplicates = [c.event_id for c in changes if c.event_id in seen]
    if not fresh:
        body = {"accepted": [], "duplicates": duplicates}
        return web.Response(
            status=200, body=msgspec.json.encode(body), content_type="application/json"
        )
    changes = fresh
    try:
        accepted = await publish(changes)
    except BusBackpressure as exc:
        retry = {"Retry-After": "%d" % max(1, round(exc.retry_after_s))}
        return _error(503, "bus full: %s" % exc, retry)
    except (BusError, RuntimeError) as exc:  # RuntimeError: the bus is closing
        return _error(503, "bus unavailable: %s" % exc, {"Retry-After": "5"})
    if accepted < len(changes):
        dropped = len(changes) - accepted
        return _error(503, "bus full: %d of %d changes dropped" % (dropped, len(changes)))
    ids = [c.event_id for c in changes]
    for event_id in ids:
        seen.seen(event_id)  # remembered once the bus took them: a retry after a 503 passes
    logger.info("margin API: accepted %d change(s): %s", len(ids), ", ".join(ids))
    body = {"accepted": ids, "duplicates": duplicates}
    return web.Response(status=202, body=msgspec.json.encode(body), content_type="application/json")


class _RefusalLog:
    """Logs refused requests at most once a minute, with how many were refused meanwhile."""

    def __init__(self, every_s: float = 60.0) -> None:
        self.every_s = every_s
        self.last = -math.inf
        self.pending = 0

    def note(self, remote: str | None) -> None:
        """Count one refusal; log it (and the ones since the last line) once per period."""
        self.pending += 1
        now = time.monotonic()
        if now - self.last >= self.every_s:
            logger.warning(
                "margin API: refused %d request(s) with a bad token, the last from %s "
                "(at most one line a minute)", self.pending, remote,
            )  # fmt: skip
            self.last, self.pending = now, 0


def margin_changes_handler(
    token: Secret | None,
    publish: MarginPublish,
    *,
    classes: Mapping[str, AssetClass],
    seen: RecentIds | None = None,
) -> Handler:
    """Return the aiohttp handler of ``POST /api/v1/margin-changes`` (module doc).

    Args:
        token: the bearer token (``http.api_token``); None or empty refuses everything (503).
        publish: hands accepted changes to the bus; returns how many it accepted.
        classes: the ``assets.classes`` table, for changes without ``asset_class``.
        seen: the ids already published (shared with the daemon's other margin inputs);
            a bounded set of this endpoint's own when None.
    """
    table = dict(classes)
    if seen is None:
        seen = RecentIds(capacity=10_000)  # ids this endpoint published (bounded)
    refused = _RefusalLog()

    async def handle(request: web.Request) -> web.StreamResponse:
        if token is None or not token.reveal():
            return _error(503, "margin API disabled: http.api_token is not set")
        if not authorized(request, token):
            refused.note(request.remote)
            return _error(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})
        try:
            changes = parse_body(await request.read(), table)
        except FieldError as exc:
            return _error(400, str(exc))
        return await _publish(publish, changes, seen)

    return handle


def margin_route(
    token: Secret | None,
    publish: MarginPublish,
    *,
    classes: Mapping[str, AssetClass],
    seen: RecentIds | None = None,
) -> web.RouteDef:
    """Return ``POST /api/v1/margin-changes`` as a route for ``app.add_routes([...])``."""
    return web.post(PATH, margin_changes_handler(token, publish, classes=classes, seen=seen))
