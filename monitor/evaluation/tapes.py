"""Burst alerts against a real liquidation tape's busiest hours: the maths.

A tape gives, per asset, the liquidated USD of every hour of the days it has data for
(hours without a liquidation count as 0). Its busiest 3 % and 1 % of those hours are
where a cascade monitor should speak; elsewhere an alert is most likely noise. Per asset:

- **incidents**: alerts of kind ``cascade`` on the asset, one per alert id (waves
  merged), from the first transition's ``started_ns`` to the last transition;
- **quiet incidents per day**: incidents whose start hour is not among the busiest 3 %
  of hours, divided by the days with data (target ≤ 0.15);
- **busiest 1 % alerted**: the share of the busiest 1 % of hours that some incident
  overlaps (target ≥ 80 %).

Pure functions; `monitor.evaluation.tapes_command` feeds them from replays.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from monitor.events import Alert

HOUR_S = 3600
QUIET_SHARE = 0.03  # incidents starting outside this share of busiest hours are quiet
BUSY_SHARE = 0.01  # this share of busiest hours should alert


@dataclass(frozen=True, slots=True)
class Incident:
    """One alert id: an asset's alert from its start to its last transition, epoch s."""

    asset: str
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class AssetScore:
    """The tape numbers of one asset (see the module docstring)."""

    asset: str
    days: int
    hours: int
    incidents: int
    quiet_incidents: int
    busy_hours: int
    busy_alerted: int

    @property
    def quiet_per_day(self) -> float:
        """Return quiet incidents per day with data."""
        return self.quiet_incidents / self.days if self.days else 0.0

    @property
    def busy_share(self) -> float:
        """Return the share of the busiest 1 % of hours that alerted (1 when there are none)."""
        return self.busy_alerted / self.busy_hours if self.busy_hours else 1.0


def hour_usd(rows: Iterable[tuple[str, float, float]]) -> dict[str, dict[int, float]]:
    """Return asset → {hour (epoch s // 3600): USD} from (asset, epoch s, USD) rows."""
    out: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for asset, ts_s, usd in rows:
        out[asset][int(ts_s // HOUR_S)] += usd
    return {a: dict(h) for a, h in out.items()}


def day_hours(hours: Mapping[int, float]) -> dict[int, float]:
    """Return every hour of the UTC days that have data, with its USD (0 if none)."""
    days = {h // 24 for h in hours}
    return {d * 24 + k: hours.get(d * 24 + k, 0.0) for d in sorted(days) for k in range(24)}


def busiest(hours: Mapping[int, float], share: float) -> set[int]:
    """Return the ceil(share · n) hours with the most USD (ties: the earlier hour)."""
    if not hours:
        return set()
    k = max(1, math.ceil(share * len(hours)))
    ranked = sorted(hours.items(), key=lambda kv: (-kv[1], kv[0]))
    return {h for h, _ in ranked[:k]}


def incidents(alerts: Iterable[Alert], end_s: float) -> list[Incident]:
    """Return one `Incident` per cascade alert id, in start order.

    An alert id without a resolve runs to `end_s` (the tape's end).
    """
    first: dict[str, Alert] = {}
    last: dict[str, Alert] = {}
    for a in alerts:
        if a.kind != "cascade":
            continue
        first.setdefault(a.alert_id, a)
        last[a.alert_id] = a
    out = []
    for aid, a in first.items():
        z = last[aid]
        stop = z.ts_ns / 1e9 if z.state == "resolved" else end_s
        out.append(Incident(a.scope, a.started_ns / 1e9, max(stop, a.started_ns / 1e9)))
    return sorted(out, key=lambda i: (i.start_s, i.asset))


def score_asset(asset: str, hours: Mapping[int, float], found: Iterable[Incident]) -> AssetScore:
    """Return the tape numbers of `asset` from its hourly USD and its incidents."""
    grid = day_hours(hours)
    quiet_set = busiest(grid, QUIET_SHARE)
    busy = busiest(grid, BUSY_SHARE)
    mine = [i for i in found if i.asset == asset]
    quiet = sum(1 for i in mine if int(i.start_s // HOUR_S) not in quiet_set)
    alerted = sum(1 for h in busy if _overlaps(h, mine))
    return AssetScore(
        asset=asset,
        days=len({h // 24 for h in hours}),
        hours=len(grid),
        incidents=len(mine),
        quiet_incidents=quiet,
        busy_hours=len(busy),
        busy_alerted=alerted,
    )


def _overlaps(hour: int, found: list[Incident]) -> bool:
    lo, hi = hour * HOUR_S, (hour + 1) * HOUR_S
    return any(i.start_s < hi and i.end_s >= lo for i in found)


def table(scores: Iterable[AssetScore]) -> str:
    """Return a Markdown table of `scores`, one row per asset."""
    lines = [
        "| asset | days | incidents | quiet incidents / day (≤ 0.15) | busiest 1 % hours "
        "alerted (≥ 80 %) |",
        "|---|---:|---:|---:|---:|",
    ]
    for s in scores:
        lines.append(
            "| %s | %d | %d | %.3f (%d) | %.0f %% (%d of %d) |"
            % (
                s.asset,
                s.days,
                s.incidents,
                s.quiet_per_day,
                s.quiet_incidents,
                100 * s.busy_share,
                s.busy_alerted,
                s.busy_hours,
            )
        )
    return "\n".join(lines)
