"""The page ``GET /`` answers: what a person opening the port in a browser wants to see.

Version, uptime, readiness with each check, the active alerts, and a link to every
endpoint. Plain HTML, no scripts, everything escaped; rendered on request from the same
read-only views ``/readyz`` and ``/api/v1/alerts`` use.
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from typing import Final

from monitor import __version__
from monitor.events import Alert

ENDPOINTS: Final[tuple[tuple[str, str], ...]] = (
    ("/metrics", "Prometheus exposition"),
    ("/healthz", "liveness: 200 while the process serves"),
    ("/readyz", "readiness, one line per check (503 when not ready)"),
    ("/api/v1/alerts", "active alerts, JSON"),
)
POSTS: Final[tuple[tuple[str, str], ...]] = (
    ("/api/v1/margin-changes", "enter a margin change (bearer token; see docs/operations.md)"),
)


def render(
    *, ready: bool, checks: dict[str, str], alerts: Sequence[Alert], uptime_s: float, role: str
) -> str:
    """Return the page as HTML text."""
    e = html.escape
    rows = "".join(
        "<tr><td>%s</td><td>%s</td></tr>" % (e(name), e(value)) for name, value in checks.items()
    )
    alert_rows = "".join(
        "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>"
        % (
            e(time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(a.ts_ns / 1e9))),
            e(a.state),
            e(a.severity),
            e(a.kind),
            e(a.scope),
            e(a.summary),
        )
        for a in alerts
    )
    links = "".join(
        '<li><a href="%s">%s</a>: %s</li>' % (e(path), e(path), e(what)) for path, what in ENDPOINTS
    )
    posts = "".join("<li>POST <code>%s</code>: %s</li>" % (e(p), e(w)) for p, w in POSTS)
    hours, rest = divmod(int(uptime_s), 3600)
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>liqmon</title></head><body>'
        "<h1>liqmon %s</h1>"
        "<p>Role: %s. Up %d h %02d min. Readiness: <strong>%s</strong>.</p>"
        "<h2>Checks</h2><table><tr><th>check</th><th>state</th></tr>%s</table>"
        "<h2>Active alerts (%d)</h2><table><tr><th>time</th><th>state</th><th>severity</th>"
        "<th>kind</th><th>scope</th><th>summary</th></tr>%s</table>"
        "<h2>Endpoints</h2><ul>%s%s</ul>"
        "</body></html>\n"
        % (
            e(__version__),
            e(role),
            hours,
            rest // 60,
            "ready" if ready else "NOT READY",
            rows,
            len(alerts),
            alert_rows,
            links,
            posts,
        )
    )
