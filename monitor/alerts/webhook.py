"""Generic JSON webhook: the contract alert, signed with HMAC-SHA256.

Each POST carries the alert as contract JSON (`monitor.codec.encode`) and

- ``X-Liqmon-Timestamp``: the sending time, integer unix seconds;
- ``X-Liqmon-Signature``: ``sha256=`` + the hex HMAC-SHA256, keyed with the shared secret,
  of the bytes ``<timestamp>.<body>`` (the header value, a dot, the raw request body).

A receiver verifies by recomputing the HMAC over the *raw* body it read (before any JSON
parsing), comparing in constant time, and refusing timestamps more than a few minutes from
its own clock (a replayed request keeps its old timestamp, and changing the timestamp breaks
the signature). `verify_signature` does exactly that::

    ok = verify_signature(secret, request.headers["X-Liqmon-Timestamp"], raw_body,
                          request.headers["X-Liqmon-Signature"], tolerance_s=300)

Each retry is signed afresh, with its own timestamp. Without a configured secret no
signature header is sent (the timestamp still is).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Final

from monitor.alerts.delivery import DeliveryPolicy, QueuedSink, Request
from monitor.codec import encode
from monitor.events import Alert
from monitor.observability.metrics import Metrics
from monitor.secret import Secret

TIMESTAMP_HEADER: Final = "X-Liqmon-Timestamp"
SIGNATURE_HEADER: Final = "X-Liqmon-Signature"
SCHEME: Final = "sha256="


def _key(secret: Secret | str | bytes) -> bytes:
    if isinstance(secret, Secret):
        return secret.reveal().encode()
    return secret.encode() if isinstance(secret, str) else secret


def sign(secret: Secret | str | bytes, timestamp: int | str, body: bytes) -> str:
    """Return the ``X-Liqmon-Signature`` value for `body` sent at `timestamp` (unix seconds)."""
    message = str(timestamp).encode() + b"." + body
    return SCHEME + hmac.new(_key(secret), message, hashlib.sha256).hexdigest()


def verify_signature(
    secret: Secret | str | bytes,
    timestamp: str | int,
    body: bytes,
    header: str | None,
    tolerance_s: float = 300.0,
    now_s: float | None = None,
) -> bool:
    """Return True when `header` signs `body` at `timestamp` and the timestamp is fresh.

    Args:
        secret: the shared secret (as configured on the sender).
        timestamp: the ``X-Liqmon-Timestamp`` header, unix seconds.
        body: the raw request body, byte for byte.
        header: the ``X-Liqmon-Signature`` header (None when missing: False).
        tolerance_s: the largest accepted distance between `timestamp` and `now_s`, seconds.
        now_s: the receiver's clock, unix seconds (``time.time()`` when None).
    """
    if header is None or not header.startswith(SCHEME):
        return False
    try:
        sent_s = int(str(timestamp))
    except ValueError:
        return False
    now = time.time() if now_s is None else now_s
    if abs(now - sent_s) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, sent_s, body), header)


class WebhookSink(QueuedSink):
    """POSTs contract alert JSON to a URL, signed when a secret is configured."""

    def __init__(
        self,
        url: Secret,
        metrics: Metrics,
        policy: DeliveryPolicy | None = None,
        *,
        secret: Secret | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__("webhook", metrics, policy)
        self._url = url
        self._secret = secret
        self._wall = wall_clock

    def request(self, alert: Alert) -> Request:
        """Return the signed POST of `alert`'s contract JSON."""
        body = encode(alert)
        ts = int(self._wall())
        headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: str(ts)}
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = sign(self._secret, ts, body)
        return Request(self._url.reveal(), body, headers)
