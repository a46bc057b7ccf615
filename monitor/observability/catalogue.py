"""The metric catalogue as a Markdown table, generated from `Metrics` (`.metrics`).

``python -m monitor.observability.catalogue`` prints it; with ``--update docs/metrics.md``
it rewrites the table between the markers; a test checks docs/metrics.md carries the same table.
"""

from __future__ import annotations

import sys
from pathlib import Path

from prometheus_client import CollectorRegistry

from monitor.observability.metrics import Metrics
from monitor.observability.source_metrics import SourceMetrics

BEGIN = "<!-- metrics-table:begin -->"
END = "<!-- metrics-table:end -->"


def markdown_table() -> str:
    """Return one row per metric: name, type, labels, help."""
    registry = CollectorRegistry()
    Metrics(registry)
    SourceMetrics(registry).init_stream("binance_usdm", "liquidations", "sampled")
    rows = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    for family in sorted(registry.collect(), key=lambda f: f.name):
        name = family.name + ("_total" if family.type == "counter" else "")
        labels = sorted({k for s in family.samples for k in s.labels if k != "le"}) or ["—"]
        rows.append(
            "| `%s` | %s | %s | %s |" % (name, family.type, ", ".join(labels), family.documentation)
        )
    return "\n".join(rows)


def update(path: Path) -> None:
    """Replace the table between `BEGIN` and `END` in `path`."""
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    path.write_text("%s%s\n%s\n%s%s" % (head, BEGIN, markdown_table(), END, tail), encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--update":
        update(Path(sys.argv[2]))
    else:
        print(markdown_table())
