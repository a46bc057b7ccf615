"""The ``detect.data_gap`` section: when a silent stream counts as a gap."""

from __future__ import annotations

from monitor.config._base import Pos, PosFloat, _Section


class DataGapSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A venue's stream (liquidations or prices) silent while a peer venue's flows.

    Stale bound per stream: max(``min_stale_s``, ``interarrival_multiple`` × its typical
    inter-arrival time). Judged in event time at every evaluation, so replays give the
    same alerts.
    """

    enabled: bool = True
    min_stale_s: PosFloat = 60.0  # never stale sooner than this, seconds
    interarrival_multiple: PosFloat = 20.0  # k: stale after k typical gaps between events
    min_events: Pos = 30  # a stream is judged once it has delivered this many events
