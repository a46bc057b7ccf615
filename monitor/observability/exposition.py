"""``/metrics`` text: the Prometheus text format 0.0.4, rendered with cached line prefixes.

`prometheus_client.generate_latest` validates and escapes every metric and label name on
every scrape, about two thirds of its time. Here the text before each value
(``name{label="value",...} ``) and each family's ``# HELP``/``# TYPE`` lines are built
once per series and reused, so a scrape only collects the values and formats the numbers.
The output is byte for byte that of ``generate_latest`` with its default escaping
(tests/unit/test_exposition.py), whose own helpers escape the names once per series here.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.exposition import escape_label_name, escape_metric_name
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

_go_float: Callable[[float], str] = floatToGoString  # untyped upstream: the value as Go prints it

_OM_SUFFIXES = ("_created", "_gsum", "_gcount")
_TYPE_RENAMES = {
    "counter": ("_total", "counter"),
    "info": ("_info", "gauge"),
    "stateset": ("", "gauge"),
    "gaugehistogram": ("", "histogram"),
    "unknown": ("", "untyped"),
}


class Exposition:
    """Renders one registry's ``/metrics`` body; call `render` per scrape.

    The caches hold one string per series ever seen (label sets are closed: bounded).
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._prefixes: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
        self._heads: dict[tuple[str, str, str, str], str] = {}

    def render(self) -> bytes:
        """Return the text exposition of every metric of the registry (UTF-8)."""
        out: list[str] = []
        for metric in self.registry.collect():
            out.append(self._head(metric.name, metric.type, metric.documentation, ""))
            extra: dict[str, list[str]] = {}
            for sample in metric.samples:
                line = self._line(sample)
                suffix = sample.name[len(metric.name) :]
                if suffix in _OM_SUFFIXES and sample.name.startswith(metric.name):
                    extra.setdefault(suffix, []).append(line)
                else:
                    out.append(line)
            for suffix, lines in sorted(extra.items()):
                out.append(self._head(metric.name, "gauge", metric.documentation, suffix))
                out.extend(lines)
        return "".join(out).encode("utf-8")

    def _head(self, name: str, mtype: str, doc: str, suffix: str) -> str:
        key = (name, mtype, doc, suffix)
        head = self._heads.get(key)
        if head is None:
            if suffix:
                shown, shown_type = name + suffix, mtype
            else:
                add, shown_type = _TYPE_RENAMES.get(mtype, ("", mtype))
                shown = name + add
            shown = escape_metric_name(shown)
            help_text = doc.replace("\\", r"\\").replace("\n", r"\n")
            head = "# HELP %s %s\n# TYPE %s %s\n" % (shown, help_text, shown, shown_type)
            self._heads[key] = head
        return head

    def _line(self, sample: Sample) -> str:
        if sample.timestamp is not None:
            return _full_line(sample)
        key = (sample.name, tuple(sample.labels.items()))
        prefix = self._prefixes.get(key)
        if prefix is None:
            prefix = self._prefixes[key] = _prefix(sample)
        return prefix + _go_float(sample.value) + "\n"


def _prefix(sample: Sample) -> str:
    name = escape_metric_name(sample.name)
    if not sample.labels:
        return name + " "
    labels = ",".join(
        '%s="%s"'
        % (escape_label_name(k), v.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\""))
        for k, v in sorted(sample.labels.items())
    )
    return "%s{%s} " % (name, labels)


def _full_line(sample: Sample) -> str:
    line = _prefix(sample) + _go_float(sample.value)
    if sample.timestamp is not None:
        line += " %d" % int(float(sample.timestamp) * 1000)
    return line + "\n"
