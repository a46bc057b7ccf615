"""Generate the liqmon Grafana boards in ``grafana/dashboards/`` from plain Python data.

The JSON files are committed; this script is their source. After editing it, run::

    .venv/bin/python grafana/build.py          # rewrite grafana/dashboards/*.json
    .venv/bin/python grafana/build.py --check  # exit 1 if a file differs from the output

``tests/unit/test_dashboards.py`` fails when a committed file is not this script's output.
Output is deterministic: sorted keys, 2-space indent, one trailing newline.

Every panel, target, variable and annotation reads its data source from the
``DS_PROMETHEUS`` template variable (type ``datasource``), so a provisioned board works
unchanged and an imported one offers a picker. Metric names come from the catalogue in
``monitor/observability/metrics.py``; every series a board uses exists from start-up at 0,
so queries return data on a calm day.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final, TypedDict, Unpack

Json = dict[str, Any]


class Look(TypedDict, total=False):
    """How a panel shows its values: unit, (width, height) in grid units, thresholds."""

    unit: str
    size: tuple[int, int]
    thresholds: Json


OUT: Final = Path(__file__).resolve().parent / "dashboards"
SCHEMA_VERSION: Final = 39
DS: Final[Json] = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
DEFAULT_DS_UID: Final = "prometheus"  # deploy/grafana/provisioning/datasources/prometheus.yml
CLASSES: Final = "crypto|metal|equity|index|energy|fx"  # monitor.events.ASSET_CLASSES
NOT_ASSETS: Final = CLASSES + "|market|other"  # scope values that are not a watched asset
WINDOWS: Final = ("10s", "60s", "300s", "900s", "3600s")
BURST_WINDOW: Final = "60s"  # detect.burst.window_s default; the baseline is per minute
RATE: Final = "$__rate_interval"
SIDE_COLORS: Final = {"long": "red", "short": "green"}

# --- panels -------------------------------------------------------------------------------


def target(expr: str, legend: str = "", *, instant: bool = False) -> Json:
    """Return one Prometheus query of a panel (refIds are set by `panel`)."""
    t: Json = {"datasource": DS, "editorMode": "code", "expr": expr, "legendFormat": legend}
    if instant:
        t.update(format="table", instant=True, range=False)
    else:
        t.update(instant=False, range=True)
    return t


def steps(*pairs: tuple[float | None, str]) -> Json:
    """Return absolute thresholds from (value, colour) pairs; the first value is None."""
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in pairs]}


GREEN: Final = steps((None, "green"))


def panel(
    kind: str,
    title: str,
    description: str,
    targets: Iterable[Json],
    options: Json,
    defaults: Json,
    **look: Unpack[Look],
) -> Json:
    """Return a panel of type `kind` with its display `options` and field `defaults`."""
    tlist = list(targets)
    for i, t in enumerate(tlist):
        t["refId"] = chr(ord("A") + i)
    width, height = look.get("size", (12, 8))
    field_defaults: Json = {
        "mappings": [],
        "thresholds": look.get("thresholds", GREEN),
        "unit": look.get("unit", "short"),
    }
    field_defaults.update(defaults)
    return {
        "datasource": DS,
        "description": description,
        "fieldConfig": {"defaults": field_defaults, "overrides": []},
        "gridPos": {"w": width, "h": height},
        "options": options,
        "targets": tlist,
        "title": title,
        "type": kind,
    }


def legend(*, table: bool = False) -> Json:
    """Return the legend and tooltip options of a time series."""
    return {
        "legend": {
            "calcs": ["lastNotNull", "max"] if table else [],
            "displayMode": "table" if table else "list",
            "placement": "right" if table else "bottom",
            "showLegend": True,
        },
        "tooltip": {"mode": "multi", "sort": "desc"},
    }


def timeseries(
    title: str,
    description: str,
    targets: Iterable[Json],
    *,
    style: str = "line",
    overrides: Iterable[Json] = (),
    **look: Unpack[Look],
) -> Json:
    """Return a time series panel.

    `style` is a ``+``-joined set of: ``line`` or ``bars`` (per-interval counts), ``stack``,
    ``table`` (legend as a table on the right), ``signed`` (no soft minimum at 0).
    Thresholds, when given, are drawn as dashed lines.
    """
    flags = set(style.split("+"))
    bars = "bars" in flags
    custom: Json = {
        "drawStyle": "bars" if bars else "line",
        "fillOpacity": 60 if bars else 10,
        "lineWidth": 1,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"group": "A", "mode": "normal" if "stack" in flags else "none"},
        "thresholdsStyle": {"mode": "dashed" if "thresholds" in look else "off"},
    }
    if "signed" not in flags:
        custom["axisSoftMin"] = 0
    defaults: Json = {"color": {"mode": "palette-classic"}, "custom": custom}
    p = panel("timeseries", title, description, targets, legend(table="table" in flags),
              defaults, **look)  # fmt: skip
    p["fieldConfig"]["overrides"] = list(overrides)
    return p


def reduce_options(calc: str = "lastNotNull") -> Json:
    """Return the reduce options of stat and bar gauge panels."""
    return {"calcs": [calc], "fields": "", "values": False}


def stat(
    title: str,
    description: str,
    targets: Iterable[Json],
    *,
    mappings: Iterable[Json] = (),
    text_mode: str = "auto",
    graph: bool = True,
    **look: Unpack[Look],
) -> Json:
    """Return a stat panel showing the last value of each series (default size 6×4)."""
    options = {
        "colorMode": "value",
        "graphMode": "area" if graph else "none",
        "justifyMode": "auto",
        "orientation": "auto",
        "reduceOptions": reduce_options(),
        "textMode": text_mode,
    }
    look.setdefault("size", (6, 4))
    defaults = {"color": {"mode": "thresholds"}, "mappings": list(mappings)}
    return panel("stat", title, description, targets, options, defaults, **look)


def bargauge(title: str, description: str, targets: Iterable[Json], **look: Unpack[Look]) -> Json:
    """Return a horizontal bar gauge, one bar per series (instant values)."""
    options = {
        "displayMode": "gradient",
        "minVizHeight": 10,
        "orientation": "horizontal",
        "reduceOptions": reduce_options(),
        "showUnfilled": True,
        "valueMode": "color",
    }
    defaults = {"color": {"mode": "thresholds"}, "min": 0}
    return panel("bargauge", title, description, targets, options, defaults, **look)


def table(
    title: str, description: str, targets: Iterable[Json], *,
    transformations: Iterable[Json] = (), **look: Unpack[Look],
) -> Json:  # fmt: skip
    """Return a table of instant query results."""
    p = panel(
        "table", title, description, targets, {"cellHeight": "sm", "showHeader": True},
        {"custom": {"align": "auto", "filterable": True}}, **look,
    )  # fmt: skip
    p["transformations"] = list(transformations)
    return p


def timeline(
    title: str, description: str, targets: Iterable[Json], *, mappings: Iterable[Json],
    **look: Unpack[Look],
) -> Json:  # fmt: skip
    """Return a state timeline: one row per series, coloured by value (default 24 wide)."""
    look.setdefault("size", (24, 8))
    return panel(
        "state-timeline", title, description, targets,
        {"alignValue": "left", "mergeValues": True, "rowHeight": 0.9, "showValue": "never",
         **legend()},
        {"color": {"mode": "thresholds"}, "custom": {"fillOpacity": 70, "lineWidth": 0},
         "mappings": list(mappings)},
        **look,
    )  # fmt: skip


def row(title: str, *, repeat: str | None = None) -> Json:
    """Return a row header; the panels after it (up to the next row) belong to it."""
    r: Json = {"collapsed": False, "gridPos": {"w": 24, "h": 1}, "panels": [], "title": title,
               "type": "row"}  # fmt: skip
    if repeat:
        r["repeat"] = repeat
    return r


def value_map(value: str, text: str, color: str) -> Json:
    """Return a mapping of one exact value to a text and colour."""
    return {"type": "value", "options": {value: {"color": color, "index": 0, "text": text}}}


def range_map(low: float, text: str, color: str) -> Json:
    """Return a mapping of every value at or above `low` to a text and colour."""
    return {"type": "range",
            "options": {"from": low, "to": None, "result": {"color": color, "index": 1,
                                                            "text": text}}}  # fmt: skip


# Unix times: "time() - ts" above ~30 years means the timestamp is still 0 (never set).
NEVER: Final = range_map(1e9, "never", "text")
UP_DOWN: Final = (value_map("0", "DOWN", "red"), value_map("1", "UP", "green"))
FIRING: Final = (value_map("0", "ok", "transparent"), range_map(1, "firing", "red"))


def side_colors() -> list[Json]:
    """Return overrides colouring the long and short series (legend = the side)."""
    return [
        {"matcher": {"id": "byName", "options": side},
         "properties": [{"id": "color", "value": {"fixedColor": color, "mode": "fixed"}}]}
        for side, color in SIDE_COLORS.items()
    ]  # fmt: skip


def hide_columns(*names: str) -> Json:
    """Return an `organize` transformation hiding `names` from a table."""
    return {"id": "organize", "options": {"excludeByName": dict.fromkeys(names, True)}}


def only_positive(field: str = "Value") -> Json:
    """Return a transformation keeping table rows whose `field` is above 0."""
    return {
        "id": "filterByValue",
        "options": {
            "filters": [{"config": {"id": "greater", "options": {"value": 0}},
                         "fieldName": field}],
            "match": "any",
            "type": "include",
        },
    }  # fmt: skip


# --- template variables and annotations ----------------------------------------------------


def ds_variable() -> Json:
    """Return the data source picker every query reads (default: the provisioned uid)."""
    return {
        "current": {"selected": False, "text": "Prometheus", "value": DEFAULT_DS_UID},
        "hide": 0, "includeAll": False, "label": "Data source", "multi": False,
        "name": "DS_PROMETHEUS", "options": [], "query": "prometheus", "refresh": 1,
        "regex": "", "skipUrlSync": False, "type": "datasource",
    }  # fmt: skip


def query_variable(
    name: str, label: str, query: str, *, default: Iterable[str] = (), description: str = ""
) -> Json:
    """Return a multi-value label_values variable; All matches everything (``.*``)."""
    chosen = list(default)
    current = (
        {"selected": True, "text": chosen, "value": chosen}
        if chosen
        else {"selected": True, "text": ["All"], "value": ["$__all"]}
    )
    return {
        "allValue": ".*", "current": current, "datasource": DS, "definition": query,
        "description": description, "hide": 0, "includeAll": True, "label": label,
        "multi": True, "name": name, "options": [],
        "query": {"qryType": 1, "query": query,
                  "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2, "regex": "", "skipUrlSync": False, "sort": 1, "type": "query",
    }  # fmt: skip


def window_variable() -> Json:
    """Return the sliding-window picker (the ``window`` label of the window gauges)."""
    default = "300s"
    return {
        "current": {"selected": True, "text": default, "value": default},
        "description": "Sliding window of liqmon_window_liquidated_usd (aggregate.windows_s).",
        "hide": 0, "includeAll": False, "label": "Window", "multi": False, "name": "window",
        "options": [{"selected": w == default, "text": w, "value": w} for w in WINDOWS],
        "query": ",".join(WINDOWS), "skipUrlSync": False, "type": "custom",
    }  # fmt: skip


def exchange_variable() -> Json:
    """Return the venue picker (enabled venues: those with a WebSocket frame counter)."""
    return query_variable(
        "exchange", "Venue", "label_values(liqmon_ws_messages_received_total, exchange)",
        description="Enabled venues (sources.enabled).",
    )  # fmt: skip


def annotation(name: str, expr: str, text: str, tags: str, color: str) -> Json:
    """Return a Prometheus annotation; `expr` must be 1 at the steps to mark (0 elsewhere)."""
    return {
        "datasource": DS, "enable": True, "expr": expr, "hide": False, "iconColor": color,
        "name": name, "step": "30s", "tagKeys": tags, "textFormat": text, "titleFormat": name,
        "useValueForTime": False,
    }  # fmt: skip


def happened(series: str) -> str:
    """Return an expr that is 1 where `series` (a counter selector, summed) rose in 1m, else 0."""
    return "ceil(clamp_max(%s, 1))" % series


ALERTS_FIRED: Final = annotation(
    "Alerts firing",
    happened('sum by (kind, severity) (increase(liqmon_alerts_total{state="firing"}[1m]))'),
    "{{kind}} alert firing ({{severity}})", "kind,severity", "red",
)  # fmt: skip
MARGIN_CHANGES: Final = annotation(
    "Margin changes",
    happened("sum by (asset_class, direction) (increase(liqmon_margin_changes_total[1m]))"),
    "{{asset_class}} margin {{direction}}", "asset_class,direction", "orange",
)  # fmt: skip

# --- boards --------------------------------------------------------------------------------


def layout(panels: list[Json]) -> list[Json]:
    """Give each panel an id and an x/y position, filling 24-wide lines left to right."""
    x = y = line_h = 0
    for i, p in enumerate(panels, start=1):
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if p["type"] == "row" or x + w > 24:
            x, y, line_h = 0, y + line_h, 0
        p["id"] = i
        p["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
        x, line_h = x + w, max(line_h, h)
        if p["type"] == "row":
            x, y, line_h = 0, y + h, 0
    return panels


def board(
    uid: str, title: str, description: str, panels: list[Json], *,
    variables: Iterable[Json] = (), annotations: Iterable[Json] = (),
) -> Json:  # fmt: skip
    """Return a dashboard (schema 39, Grafana 10/11) linked to the other liqmon boards."""
    return {
        "annotations": {"list": list(annotations)},
        "description": description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [{"asDropdown": False, "icon": "external link", "includeVars": False,
                   "keepTime": True, "tags": ["liqmon"], "targetBlank": False,
                   "title": "liqmon", "type": "dashboards"}],
        "panels": layout(panels),
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "tags": ["liqmon"],
        "templating": {"list": [ds_variable(), *variables]},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "utc",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    }  # fmt: skip


def overview() -> Json:
    """Liquidations by class, venue and side; top assets; alerts firing."""
    venue = 'exchange=~"$exchange"'
    win = 'window="$window"'
    panels = [
        row("Now"),
        stat("Liquidated USD, whole market ($window)",
             "Liquidated notional of every venue in the sliding window ending at the watermark.",
             [target('sum(liqmon_window_liquidated_usd{scope="market", %s})' % win)],
             unit="currencyUSD"),
        stat("Liquidations per second",
             "Liquidations accepted by the aggregator per second, selected venues.",
             [target("sum(rate(liqmon_liquidations_total{%s}[%s]))" % (venue, RATE))]),
        stat("Alerts firing",
             "Alerts firing now, every kind and scope (see the table below).",
             [target("sum(liqmon_alert_active) or vector(0)")],
             thresholds=steps((None, "green"), (1, "red"))),
        stat("Data gaps firing",
             "data_gap alerts firing now: a venue or stream the detectors rely on is silent.",
             [target('sum(liqmon_alert_active{kind="data_gap"}) or vector(0)')],
             thresholds=steps((None, "green"), (1, "orange"))),
        row("By asset class, venue and side"),
        timeseries("Window USD by asset class ($window)",
                   "Liquidated USD in the sliding window, per asset class (stacked). A step up "
                   "in one class alone is local; several at once is contagion.",
                   [target('sum by (scope) (liqmon_window_liquidated_usd{scope=~"%s", %s})'
                           % (CLASSES, win), "{{scope}}")],
                   unit="currencyUSD", style="line+stack"),
        timeseries("Liquidated USD per second by side",
                   "Liquidated notional per second, longs (red) against shorts (green). One "
                   "side dominating is the signature of a forced-selling (or squeeze) cascade.",
                   [target("sum by (position_side) (rate(liqmon_liquidated_notional_usd_total"
                           "{%s}[%s]))" % (venue, RATE), "{{position_side}}")],
                   unit="currencyUSD", style="line+stack", overrides=side_colors()),
        timeseries("Liquidated USD per second by venue",
                   "Liquidated notional per second, per venue (stacked).",
                   [target("sum by (exchange) (rate(liqmon_liquidated_notional_usd_total"
                           "{%s}[%s]))" % (venue, RATE), "{{exchange}}")],
                   unit="currencyUSD", style="line+stack"),
        timeseries("Liquidations per second by venue and side",
                   "Count of liquidations per second (orders, not USD), per venue and side. "
                   "Many small orders with little USD is retail flush; few large is a whale.",
                   [target("sum by (exchange, position_side) (rate(liqmon_liquidations_total"
                           "{%s}[%s]))" % (venue, RATE), "{{exchange}} {{position_side}}")]),
        row("Top assets and alerts"),
        bargauge("Top assets by window USD ($window)",
                 "Watched assets (and every unwatched asset together, as other) ranked by "
                 "liquidated USD in the sliding window, now.",
                 [target('sort_desc(topk(10, sum by (scope) (liqmon_window_liquidated_usd'
                         '{scope!~"%s|market", %s})))' % (CLASSES, win), "{{scope}}",
                         instant=True)],
                 unit="currencyUSD", size=(8, 9)),
        table("Active alerts",
              "Alerts firing now by kind and scope (rows at 0 are hidden). The daemon's "
              "/api/v1/alerts has the full alert bodies.",
              [target("sum by (kind, scope) (liqmon_alert_active)", instant=True)],
              size=(8, 9), transformations=[only_positive(), hide_columns("Time")]),
        table("Liquidated USD by venue over the range",
              "Liquidated notional per venue and side over the dashboard's time range.",
              [target("sum by (exchange, position_side) (increase("
                      "liqmon_liquidated_notional_usd_total{%s}[$__range]))" % venue,
                      instant=True)],
              unit="currencyUSD", size=(8, 9), transformations=[hide_columns("Time")]),
    ]  # fmt: skip
    return board(
        "liqmon-overview", "liqmon / Overview",
        "Liquidations by asset class, venue and side; top assets; alerts firing.", panels,
        variables=[exchange_variable(), window_variable()], annotations=[ALERTS_FIRED],
    )  # fmt: skip


def cascades() -> Json:
    """Per watched scope: burst window against baseline, z, score, drawdown; alert timeline."""
    one = 'scope=~"$scope"'  # a single value inside the repeated row
    panels = [
        row("Alerts"),
        timeline("Alert timeline (selected scopes)",
                 "Alerts firing per scope and kind over time (liqmon_alert_active).",
                 [target('sum by (scope, kind) (liqmon_alert_active{scope=~"$scope"})',
                         "{{scope}} {{kind}}")],
                 mappings=FIRING, thresholds=steps((None, "transparent"), (1, "red")),
                 size=(24, 9)),
        timeseries("Alert transitions",
                   "Alert transitions (pending, firing, resolved) per interval, every scope: "
                   "liqmon_alerts_total has no scope label.",
                   [target("sum by (kind, state) (increase(liqmon_alerts_total[%s]))" % RATE,
                           "{{kind}} {{state}}")],
                   style="bars"),
        timeseries("Burst z-score (selected scopes)",
                   "Robust z of each scope's burst window against its baseline (0 in warm-up). "
                   "Dashed lines: the default warning (4) and critical (6) thresholds.",
                   [target('liqmon_window_zscore{scope=~"$scope"}', "{{scope}}")],
                   thresholds=steps((None, "transparent"), (4, "orange"), (6, "red")),
                   style="signed"),
        row("$scope", repeat="scope"),
        timeseries("$scope: burst window against baseline",
                   "Liquidated USD in the %s burst window (detect.burst.window_s default) by "
                   "side, against the per-minute EWMA baseline (black). A cascade is the bars "
                   "far above the line." % BURST_WINDOW,
                   [target('sum by (position_side) (liqmon_window_liquidated_usd{%s, '
                           'window="%s"})' % (one, BURST_WINDOW), "{{position_side}}"),
                    target("sum(liqmon_window_baseline_usd{%s})" % one, "baseline per minute")],
                   unit="currencyUSD", size=(12, 8), style="line+stack",
                   overrides=[*side_colors(),
                              {"matcher": {"id": "byName", "options": "baseline per minute"},
                               "properties": [
                                   {"id": "color", "value": {"fixedColor": "text",
                                                             "mode": "fixed"}},
                                   {"id": "custom.stacking",
                                    "value": {"group": "B", "mode": "none"}},
                                   {"id": "custom.fillOpacity", "value": 0},
                                   {"id": "custom.lineWidth", "value": 2}]}]),
        timeseries("$scope: z-score",
                   "Robust z of the burst window's liquidated USD against the baseline. The "
                   "burst detector needs z ≥ 4 (warning) or 6 (critical) and the USD floor.",
                   [target("liqmon_window_zscore{%s}" % one, "z")],
                   size=(4, 8), thresholds=steps((None, "transparent"), (4, "orange"),
                                                 (6, "red")), style="signed"),
        timeseries("$scope: cascade score",
                   "Burst window USD over the scope's USD floor: at 100% the floor is met; the "
                   "default critical multiple is 5× (500%).",
                   [target("liqmon_cascade_score_ratio{%s}" % one, "score")],
                   unit="percentunit", size=(4, 8),
                   thresholds=steps((None, "transparent"), (1, "orange"), (5, "red"))),
        timeseries("$scope: price drawdown",
                   "Fall of the price from its window high (≤ 0), worst instrument of the "
                   "asset, over 300 s and 900 s. Empty (0) for classes and the market.",
                   [target('liqmon_price_drawdown_ratio{%s, window=~"300s|900s"}' % one,
                           "{{window}}")],
                   unit="percentunit", size=(4, 8), style="signed"),
    ]  # fmt: skip
    scope = query_variable(
        "scope", "Scope", "label_values(liqmon_window_zscore, scope)",
        default=("BTC", "ETH", "market"),
        description="Watched assets (assets.watch), asset classes, market and other.",
    )  # fmt: skip
    return board(
        "liqmon-cascades", "liqmon / Cascades",
        "Per watched scope: the burst window against its baseline, z, cascade score and "
        "drawdown; when alerts fired.", panels,
        variables=[scope], annotations=[ALERTS_FIRED],
    )  # fmt: skip


def cross_asset() -> Json:
    """Breadth of alerts, classes side by side, drawdowns, margin changes."""
    win = 'window="$window"'
    assets = 'scope!~"%s"' % NOT_ASSETS
    classes = 'scope=~"%s"' % CLASSES

    def in_alert(selector: str) -> str:
        return "sum(clamp_max(sum by (scope) (liqmon_alert_active{%s}), 1))" % selector

    panels = [
        row("Breadth"),
        stat("Watched assets in alert", "Watched assets with at least one alert firing.",
             [target(in_alert(assets))], thresholds=steps((None, "green"), (1, "orange"),
                                                          (3, "red"))),
        stat("Asset classes in alert", "Asset-class scopes with at least one alert firing.",
             [target(in_alert(classes))], thresholds=steps((None, "green"), (1, "orange"),
                                                           (2, "red"))),
        stat("Market-wide alerts", "Alerts firing on the market scope (every venue, every "
             "asset).", [target('sum(liqmon_alert_active{scope="market"}) or vector(0)')],
             thresholds=steps((None, "green"), (1, "red"))),
        stat("Contagion alerts", "contagion alerts firing: several classes liquidating at "
             "once.", [target('sum(liqmon_alert_active{kind="contagion"}) or vector(0)')],
             thresholds=steps((None, "green"), (1, "red"))),
        timeseries("Breadth over time",
                   "How many watched assets and asset classes had an alert firing.",
                   [target(in_alert(assets), "watched assets"),
                    target(in_alert(classes), "asset classes")],
                   size=(24, 7)),
        row("Asset classes side by side"),
        bargauge("Window USD by asset class now ($window)",
                 "Liquidated USD per asset class in the sliding window, now.",
                 [target("sum by (scope) (liqmon_window_liquidated_usd{%s, %s})"
                         % (classes, win), "{{scope}}", instant=True)],
                 unit="currencyUSD", size=(8, 8)),
        timeseries("Window USD by asset class ($window)",
                   "Liquidated USD per asset class in the sliding window, over time.",
                   [target("sum by (scope) (liqmon_window_liquidated_usd{%s, %s})"
                           % (classes, win), "{{scope}}")],
                   unit="currencyUSD", size=(16, 8), style="line+table"),
        timeseries("Window USD by watched asset ($window)",
                   "Liquidated USD per watched asset in the sliding window (other: every "
                   "unwatched asset together).",
                   [target('sum by (scope) (liqmon_window_liquidated_usd{scope!~"%s|market", '
                           '%s})' % (CLASSES, win), "{{scope}}")],
                   unit="currencyUSD", size=(24, 8), style="line+table"),
        row("Drawdowns"),
        timeseries("Drawdown from the 300 s high",
                   "Fall of each watched asset's price from its 300 s high (worst instrument).",
                   [target('liqmon_price_drawdown_ratio{%s, window="300s"}' % assets,
                           "{{scope}}")], unit="percentunit", style="signed"),
        timeseries("Drawdown from the 900 s high",
                   "Fall of each watched asset's price from its 900 s high (worst instrument).",
                   [target('liqmon_price_drawdown_ratio{%s, window="900s"}' % assets,
                           "{{scope}}")], unit="percentunit", style="signed"),
        row("Open interest and sessions"),
        timeseries("Open-interest fall by scope",
                   "Fall of open interest over the deleveraging window (1 h), from each "
                   "instrument's high, as a share of the scope's open interest. A fast fall "
                   "while the price moves is an unwind, forced or not, that liquidation feeds "
                   "may undercount (kind deleveraging).",
                   [target("liqmon_open_interest_drop_ratio", "{{scope}}")],
                   unit="percentunit", size=(16, 8)),
        timeline("Market sessions",
                 "The session of each TradFi underlying market (equities, commodities): a "
                 "closed market explains quiet stock and metal perps.",
                 [target('max by (market, session) (liqmon_market_session_info) == 1',
                         "{{market}} {{session}}")],
                 mappings=[value_map("1", "in session", "green")], size=(8, 8)),
        row("Margin"),
        timeseries("Margin tightening by scope",
                   "D of the latest margin change per scope (1 − old/new): positive is a "
                   "hike, negative a cut. Annotations mark when changes arrived.",
                   [target("liqmon_margin_tightening_ratio", "{{scope}}")],
                   unit="percentunit", style="signed"),
        timeseries("Margin changes received",
                   "Margin requirement changes received per interval, by class and direction.",
                   [target("sum by (asset_class, direction) (increase("
                           "liqmon_margin_changes_total[%s]))" % RATE,
                           "{{asset_class}} {{direction}}")], style="bars"),
    ]  # fmt: skip
    return board(
        "liqmon-cross-asset", "liqmon / Cross-asset",
        "Breadth of alerts across scopes, asset classes side by side, drawdowns and margin "
        "changes.", panels,
        variables=[window_variable()], annotations=[MARGIN_CHANGES, ALERTS_FIRED],
    )  # fmt: skip


def sources() -> Json:
    """Per venue and stream: up, frames, staleness, reconnects, errors, lag, saturation."""
    sel = 'exchange=~"$exchange", stream=~"$stream"'
    venue = 'exchange=~"$exchange"'
    by = "{{exchange}}/{{stream}}"

    def quantile(q: str) -> Json:
        return target("histogram_quantile(%s, sum by (exchange, le) (rate("
                      "liqmon_event_lag_seconds_bucket{%s}[%s])))" % (q, venue, RATE),
                      "{{exchange}} p%s" % q.removeprefix("0.").ljust(2, "0"))  # fmt: skip

    staleness = "time() - liqmon_ws_last_message_timestamp_seconds{%s}" % sel
    panels = [
        row("Status"),
        stat("Streams up", "1 while every connection of the stream is open and subscribed.",
             [target("liqmon_source_up{%s}" % sel, by)], size=(12, 6), mappings=UP_DOWN,
             thresholds=steps((None, "red"), (1, "green")), graph=False),
        stat("Seconds since the last frame",
             "Wall time since each stream's last frame. Price streams tick every second; "
             "liquidation streams can be quiet for minutes on a calm market (the watchdog "
             "calls one dead after sources.quiet_max_s, 900 s, while prices flow).",
             [target(staleness, by)], unit="s", size=(12, 6), mappings=[NEVER],
             thresholds=steps((None, "green"), (60, "orange"), (900, "red")), graph=False),
        timeline("Up over time", "liqmon_source_up per stream over time.",
                 [target("liqmon_source_up{%s}" % sel, by)], mappings=UP_DOWN,
                 thresholds=steps((None, "red"), (1, "green")), size=(16, 7)),
        table("Completeness", "What each stream declares: exact (every liquidation) or sampled "
              "(at most one per symbol per second, e.g. Binance's forceOrder).",
              [target("liqmon_source_completeness_info{%s}" % sel, instant=True)],
              size=(8, 7), transformations=[hide_columns("Time", "Value", "__name__",
                                                         "instance", "job")]),
        row("Traffic"),
        timeseries("Frames per second", "WebSocket frames read per second, per stream.",
                   [target("sum by (exchange, stream) (rate(liqmon_ws_messages_received_total"
                           "{%s}[%s]))" % (sel, RATE), by)], style="line+table"),
        timeseries("Seconds since the last frame (over time)",
                   "Wall time since each stream's last frame; saw-tooth is healthy, a ramp is "
                   "a silent stream.",
                   [target(staleness, by)], unit="s", style="line+table"),
        timeseries("Open connections", "Open WebSocket connections per stream.",
                   [target("sum by (exchange, stream) (liqmon_ws_connections{%s})" % sel, by)],
                   size=(8, 8)),
        timeseries("Subscribed topics", "Topics subscribed on the open connections.",
                   [target("sum by (exchange, stream) (liqmon_ws_subscriptions{%s})" % sel,
                           by)], size=(8, 8)),
        timeseries("Sampled-stream saturation",
                   "Symbol-seconds per second that carried a liquidation on a sampled (1/s per "
                   "symbol) stream. Near the number of symbols the stream is saturated: it "
                   "hides liquidations, which is itself a burst signal.",
                   [target("sum by (exchange) (rate(liqmon_sampled_symbol_seconds_total{%s}"
                           "[%s]))" % (venue, RATE), "{{exchange}}")], size=(8, 8)),
        row("Errors and lag"),
        timeseries("Reconnects by reason",
                   "Connection ends and failed connects per interval, by reason (closed, "
                   "error, stale, server_5xx, rejected, rotation).",
                   [target("sum by (exchange, stream, reason) (increase("
                           "liqmon_ws_reconnects_total{%s}[%s]))" % (sel, RATE),
                           "{{exchange}}/{{stream}} {{reason}}")], style="bars"),
        timeseries("Parse errors per second", "Frames that could not be parsed (skipped).",
                   [target("sum by (exchange, stream) (rate(liqmon_parse_errors_total{%s}[%s]))"
                           % (sel, RATE), by)]),
        timeseries("Event lag p50 and p99",
                   "Receive time minus the venue's event time, per venue (NaN: no events in "
                   "the interval). Liquidation streams batched by the venue lag by design.",
                   [quantile("0.5"), quantile("0.99")], unit="s"),
        timeseries("Late events per second",
                   "Events older than the watermark per venue (aggregate.grace_ms): counted "
                   "in the first open second, or dropped beyond aggregate.allowed_lateness_ms.",
                   [target("sum by (exchange) (rate(liqmon_late_events_total{%s}[%s]))"
                           % (venue, RATE), "{{exchange}}")]),
    ]  # fmt: skip
    stream = query_variable(
        "stream", "Stream",
        'label_values(liqmon_ws_messages_received_total{exchange=~"$exchange"}, stream)',
        description="Streams of the selected venues.",
    )  # fmt: skip
    return board(
        "liqmon-sources", "liqmon / Sources",
        "Per venue and stream: up, frames, staleness, reconnects, parse errors, event lag, "
        "completeness and sampled saturation.", panels,
        variables=[exchange_variable(), stream],
    )  # fmt: skip


def pipeline() -> Json:
    """Events, drops, bus, micro-batches, ingest-to-alert latency, sinks."""

    def quantiles(metric: str) -> list[Json]:
        return [
            target("histogram_quantile(%s, sum by (le) (rate(%s_bucket[%s])))" % (q, metric, RATE),
                   name)
            for q, name in (("0.5", "p50"), ("0.99", "p99"))
        ]  # fmt: skip

    panels = [
        row("Daemon"),
        stat("Build", "Version and Python of the running daemon (liqmon_build_info).",
             [target("liqmon_build_info", "{{version}} (Python {{python}})")],
             text_mode="name", graph=False, size=(8, 4)),
        stat("Watermark behind wall clock",
             "Wall time minus the event time up to which windows are closed; about "
             "aggregate.grace_ms plus a micro-batch when live (never: no event yet).",
             [target("time() - liqmon_watermark_timestamp_seconds")], unit="s", size=(8, 4),
             mappings=[NEVER], thresholds=steps((None, "green"), (10, "orange"), (60, "red"))),
        stat("Events per second", "Contract events taken by the aggregator per second.",
             [target("sum(rate(liqmon_events_total[%s]))" % RATE)], size=(8, 4)),
        row("Flow"),
        timeseries("Events per second by type",
                   "Contract events taken by the aggregator per second: liquidations, ticks, "
                   "margin changes.",
                   [target("sum by (type) (rate(liqmon_events_total[%s]))" % RATE, "{{type}}")]),
        timeseries("Drops per second by reason",
                   "Events dropped per second: queue_full (back-pressure), late (beyond "
                   "aggregate.allowed_lateness_ms), decode (bad bus payload). Should be 0.",
                   [target("sum by (reason) (rate(liqmon_events_dropped_total[%s]))" % RATE,
                           "{{reason}}")]),
        timeseries("Bus queue depth", "Events waiting in the fullest bus queue.",
                   [target("sum by (bus) (liqmon_bus_queue_depth)", "{{bus}}")], size=(8, 8)),
        timeseries("Consumer lag", "Events behind the end of the input topics (Kafka bus).",
                   [target("sum by (bus) (liqmon_bus_consumer_lag_events)", "{{bus}}")],
                   size=(8, 8)),
        timeseries("Bus deliveries per second",
                   "Bus deliveries acknowledged per second, by bus and outcome.",
                   [target("sum by (bus, outcome) (rate(liqmon_bus_deliveries_total[%s]))"
                           % RATE, "{{bus}} {{outcome}}")], size=(8, 8)),
        row("Latency"),
        timeseries("Micro-batch duration",
                   "Time to process one micro-batch (buckets, windows, detectors): p50, p99 "
                   "and the mean (NaN: no batch in the interval).",
                   [*quantiles("liqmon_window_evaluation_duration_seconds"),
                    target("sum(rate(liqmon_window_evaluation_duration_seconds_sum[%s])) / "
                           "sum(rate(liqmon_window_evaluation_duration_seconds_count[%s]))"
                           % (RATE, RATE), "mean")], unit="s"),
        timeseries("Ingest-to-alert latency",
                   "Wall time from receiving the newest frame of a batch to routing its "
                   "alerts (live only; NaN: no alert in the interval).",
                   quantiles("liqmon_ingest_to_alert_seconds"), unit="s",
                   thresholds=steps((None, "transparent"), (1, "orange"))),
        row("Alert sinks"),
        timeseries("Alert deliveries by sink and outcome",
                   "Alert deliveries by the direct sinks per interval: ok, error, timeout, "
                   "dropped (queue full), suppressed (rate limit or dedup).",
                   [target("sum by (sink, outcome) (increase(liqmon_alerts_sent_total[%s]))"
                           % RATE, "{{sink}} {{outcome}}")], style="bars"),
        timeseries("Alert sink queue depth", "Alerts waiting in each direct sink's queue.",
                   [target("sum by (sink) (liqmon_alert_sink_queue_depth)", "{{sink}}")]),
    ]  # fmt: skip
    return board(
        "liqmon-pipeline", "liqmon / Pipeline",
        "Events by type, drops, bus queues and lag, micro-batch and ingest-to-alert latency, "
        "alert sink deliveries.", panels,
    )  # fmt: skip


BOARDS: Final[dict[str, Callable[[], Json]]] = {
    "liqmon-overview.json": overview,
    "liqmon-cascades.json": cascades,
    "liqmon-cross-asset.json": cross_asset,
    "liqmon-sources.json": sources,
    "liqmon-pipeline.json": pipeline,
}


def render(dashboard: Json) -> str:
    """Return the canonical text of a board: sorted keys, 2-space indent, final newline."""
    return json.dumps(dashboard, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def rendered() -> dict[str, str]:
    """Return file name → canonical JSON text for every board."""
    return {name: render(build()) for name, build in BOARDS.items()}


def main(argv: list[str]) -> int:
    """Write the boards (or, with ``--check``, report those that differ); return the exit code."""
    check = argv == ["--check"]
    stale = []
    for name, text in rendered().items():
        path = OUT / name
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(name)
        if not check:
            OUT.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if check and stale:
        sys.stderr.write("out of date (run grafana/build.py): %s\n" % ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
