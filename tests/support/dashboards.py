"""The shipped Grafana boards as queries a real Prometheus can run.

`iter_queries` walks every board in ``grafana/dashboards/`` and returns each target's (and
each Prometheus annotation's) expression with the template variables replaced by values that
exist from start-up, so an end-to-end test can run them against a Prometheus that scraped a
fresh daemon and expect every one to parse and return data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "grafana" / "dashboards"

# What Grafana would put in for each variable on a fresh install: the boards' All (".*")
# for venue and stream, one watched asset for the repeated scope rows, the default window,
# and the interval macros at a 15 s scrape.
VALUES: Mapping[str, str] = {
    "exchange": ".*",
    "stream": ".*",
    "scope": "BTC",
    "window": "300s",
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "5m",
}
_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")


def boards() -> dict[str, dict[str, Any]]:
    """Return file name → parsed board for every JSON file in ``grafana/dashboards/``."""
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARDS.glob("*.json"))
    }


def iter_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Yield every panel, including those nested in collapsed rows."""
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels", []))


def raw_queries(board: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Yield (title, expr) for each panel target and each Prometheus annotation of `board`."""
    for panel in iter_panels(board.get("panels", [])):
        for target in panel.get("targets", []):
            if target.get("expr"):
                yield panel.get("title", ""), target["expr"]
    for annotation in board.get("annotations", {}).get("list", []):
        if annotation.get("expr"):
            yield "annotation: %s" % annotation["name"], annotation["expr"]


def substitute(expr: str, values: Mapping[str, str] = VALUES) -> str:
    """Replace ``$var`` and ``${var}`` in `expr`; an unknown variable raises `KeyError`."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError("no test value for template variable $%s in %r" % (name, expr))
        return values[name]

    return _VARIABLE.sub(value, expr)


def iter_queries(values: Mapping[str, str] = VALUES) -> list[tuple[str, str, str]]:
    """Return (board uid, panel title, expr) for every query of every board, variables filled."""
    return [
        (board["uid"], title, substitute(expr, values))
        for board in boards().values()
        for title, expr in raw_queries(board)
    ]
