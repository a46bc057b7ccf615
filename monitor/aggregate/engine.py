"""The aggregation engine: the only stateful part of detection.

Fed micro-batches of contract events in bus order, it

1. judges lateness per event, against the newest event before it, so the result does not
   depend on batch boundaries (``liqmon_late_events_total``): an event whose second has
   closed counts in the first open second, unless its second is below that of the newest
   event − ``allowed_lateness_ms``: then it is dropped;
2. turns the rest into 1-second buckets (numpy, `monitor.aggregate.windows.columns`);
3. closes every second older than the global watermark (newest event time − grace, or the
   clock when idle): folds it into the sliding windows, rolls the per-minute baselines, and
   evaluates the detectors at that second;
4. feeds the signals to the alert state machine and returns the transitions.

Seconds are evaluated where data closed, and every ``idle_eval_s`` between them while an
alert is open, so alerts resolve when data stops. All of it runs in event time.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from typing import Final, cast

import numpy as np
import numpy.typing as npt
import polars as pl

from monitor.aggregate.detect import overlays
from monitor.aggregate.detect.bursts import BurstState
from monitor.aggregate.detect.crash import detect_crashes
from monitor.aggregate.detect.deleveraging_stage import DeleveragingStage
from monitor.aggregate.detect.detectors import Signal
from monitor.aggregate.detect.extras import ExtraDetectors
from monitor.aggregate.detect.gaps import StreamGaps
from monitor.aggregate.windows import buckets, columns
from monitor.aggregate.windows.lateness import judge
from monitor.aggregate.windows.prices import PriceWindows
from monitor.aggregate.windows.scopes import LEVEL_CODE, MARKET, Level, ScopeIndex, grown
from monitor.aggregate.windows.sliding import LONG_USD, SHORT_USD, LiquidationWindows
from monitor.alerts.lifecycle import AlertBook
from monitor.config import Settings
from monitor.events import NS, Alert, AssetClass, Event, Liquidation, MarginChange, Tick
from monitor.observability.metrics import Metrics
from monitor.recent import RecentIds
from monitor.sessions.calendar import TRADFI_MARKETS, SessionCalendar
from monitor.sessions.guard import SessionGuard

_LIQ_ONLY: Final = frozenset({Liquidation})
Calendar = SessionCalendar | None  # a calendar kept by its feeders across engines, or None


class Engine:
    """Windows, baselines, detectors and alert book for one stream of events.

    `metrics` count what it takes; their state gauges read it at scrape (`Metrics.read_engine`).
    """

    def __init__(
        self, settings: Settings, metrics: Metrics | None = None, sessions: Calendar = None
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        agg, det = settings.aggregate, settings.detect
        self.grace_ns = agg.grace_ms * 1_000_000
        self.lateness_ns = agg.allowed_lateness_ms * 1_000_000
        self.scopes = ScopeIndex()
        self.liq = LiquidationWindows(agg.windows_s)
        crash = det.crash
        self.prices = PriceWindows(
            crash.windows_s, crash.baseline_half_life_min,
            vol_hours=round(24 * crash.vol_days), tail_hours=round(24 * crash.tail_days),
            prior_sd_1m=crash.prior_sd_1m, warmup_min=crash.warmup_min,
        )  # fmt: skip
        self.book = AlertBook(det.lifecycle)
        self.bursts = BurstState(settings, self.scopes, self.liq, self.book)
        self.margin_changes: list[MarginChange] = []
        self._margin_ids = RecentIds(capacity=10_000)
        self.spread = overlays.Spread()  # which scopes entered a cascade, and when
        self.sessions = SessionCalendar() if sessions is None else sessions  # template till fed
        self.guard = SessionGuard(
            self.sessions, settings.sessions, self.spread.class_of, self.window_usd,
            det.burst.window_s,
        )  # fmt: skip
        self.bursts.quiet = self.guard.scope_mask(self.scopes)
        self.gaps = StreamGaps(det.data_gap, self.guard)  # a venue's stream silent, peers not
        self._inst_info: dict[str, tuple[str, AssetClass]] = {}
        self.extras = ExtraDetectors(  # liquidity, saturation, rules, downside correlation
            settings, self.scopes, self.liq, self.book, self.spread, self._inst_info, self.guard
        )
        self.deleveraging = DeleveragingStage(
            det.deleveraging, self.window_usd, self.guard, self.liq.windows_s
        )
        self._coder = columns.LiquidationCoder(self.scopes)
        self._pending_liq = columns.PendingBuckets()
        self._pending_px = pl.DataFrame(schema=buckets.PRICE_SCHEMA)
        self._hot_instruments: set[str] = set()
        self._next_idle = -1
        self.max_ts_ns: int | None = None
        self.closed_sec: int | None = None  # every second below this is closed
        self.events_seen = 0
        if metrics is not None:  # its state gauges read this engine at each scrape from now on
            metrics.read_engine(self)

    # ---- feeding -------------------------------------------------------------------------

    def process(self, batch: Sequence[Event]) -> list[Alert]:
        """Take one micro-batch in bus order; return the alert transitions it caused.

        Called by the engine loop once per micro-batch (≤ ``micro_batch_max_events``).
        """
        self.events_seen += len(batch)
        liq_only = set(map(type, batch)) <= _LIQ_ONLY  # the usual batch: skip the filters
        market: list[Liquidation | Tick]
        market = list(cast("Sequence[Liquidation]", batch)) if liq_only else self._split(batch)
        self.gaps.observe_events(market)
        kept, ts_ns = self._judge_lateness(market, columns.event_times(market))
        if liq_only:
            self._add_liquidations(cast("list[Liquidation]", kept), ts_ns)
        else:
            is_liq = np.fromiter((type(e) is Liquidation for e in kept), np.bool_, len(kept))
            self._add_ticks([e for e in kept if type(e) is Tick], ts_ns[~is_liq])
            self._add_liquidations([e for e in kept if type(e) is Liquidation], ts_ns[is_liq])
        if self.max_ts_ns is None:
            return []
        return self._close_until((self.max_ts_ns - self.grace_ns) // NS)

    def _split(self, batch: Sequence[Event]) -> list[Liquidation | Tick]:
        """Take the margin changes of a mixed batch; return its liquidations and ticks.

        A change whose ``event_id`` was taken before (posted twice, a calendar re-read, a
        replayed topic) is ignored: one notice is one change.
        """
        self.take_margins([e for e in batch if isinstance(e, MarginChange)])
        return [e for e in batch if isinstance(e, Liquidation | Tick)]

    def take_margins(self, changes: Sequence[MarginChange]) -> None:
        """Keep margin changes for the margin-hike rule; one ``event_id`` is one change.

        Called with each batch (`add`) and by the Kafka cross stage with the changes its
        summaries forward. A change arms its asset only from its notice time on (event time),
        so taking it early changes nothing before then.
        """
        fresh = [c for c in changes if not self._margin_ids.seen(c.event_id)]
        self.margin_changes += fresh
        if self.metrics is not None:
            for change in fresh:
                self.metrics.observe_margin_change(change)

    def _add_liquidations(self, liqs: list[Liquidation], ts_ns: npt.NDArray[np.int64]) -> None:
        """Bucket liquidations at `ts_ns`, one time per liquidation (epoch ns).

        The times are the event times, or for a late event the first open second's start.
        """
        if not liqs:
            return
        cols = self._coder.columns(liqs, ts_ns)
        self.extras.learn_sampled(self._coder, cols, liqs)
        for _, _, asset, cls in self._coder.present(cols):
            self.spread.class_of[asset] = cls
        if self.metrics is not None:
            for exchange, is_long, n, usd in self._coder.totals_by_exchange(cols):
                self.metrics.add_liquidations(exchange, "long" if is_long else "short", n, usd)
        self._pending_liq.add(columns.bucket(cols, self._coder))

    def _add_ticks(self, ticks: list[Tick], ts_ns: npt.NDArray[np.int64]) -> None:
        """Bucket ticks at `ts_ns` (epoch ns, as `_add_liquidations`); note their scopes."""
        for tick in ticks:
            self.spread.class_of[tick.asset] = tick.asset_class
            self._inst_info["%s:%s" % (tick.exchange, tick.symbol)] = (
                tick.asset,
                tick.asset_class,
            )
        if ticks:
            seconds = (ts_ns // NS).tolist()
            self._pending_px = pl.concat([self._pending_px, buckets.price_buckets(ticks, seconds)])
            self.extras.add_ticks(ticks, seconds)

    def add_buckets(self, liq: pl.DataFrame, px: pl.DataFrame, max_ts_ns: int) -> None:
        """Take closed instrument-level buckets from the partitioned stage (no lateness here).

        Args:
            liq: ``sec, instrument, asset, class, long_usd, short_usd, long_n, short_n``
                (and ``sampled``, see `ExtraDetectors.take_buckets`).
            px: ``sec, inst, asset, class, high, low, last`` (``oi``, ``spread_*``).
            max_ts_ns: the newest event time the sources have seen (epoch ns).
        """
        if self.max_ts_ns is None or max_ts_ns > self.max_ts_ns:
            self.max_ts_ns = max_ts_ns
        self.gaps.observe_buckets(liq, px)
        if not liq.is_empty():
            for asset, asset_class in liq.select("asset", "class").unique().iter_rows():
                self.spread.class_of[asset] = asset_class
            rolled = buckets.rollup_buckets(liq, self.scopes)
            self._pending_liq.add(columns.Buckets.from_frame(rolled))
        if not px.is_empty():
            for inst, asset, asset_class in px.select("inst", "asset", "class").iter_rows():
                self._inst_info[inst] = (asset, asset_class)
                self.spread.class_of[asset] = asset_class
            if "oi" not in px.columns:  # summaries from before open interest travelled
                px = px.with_columns(pl.lit(None, pl.Float64).alias("oi"))
            self._pending_px = pl.concat([self._pending_px, px.select(list(buckets.PRICE_SCHEMA))])
        self.extras.take_buckets(liq, px)  # sampled instruments, spreads (summary version 2)

    def close_until(self, first_open: int) -> list[Alert]:
        """Close every second below `first_open` (epoch s); return the alert transitions."""
        return self._close_until(first_open)

    def advance_to(self, now_ns: int) -> list[Alert]:
        """Close seconds up to `now_ns` − grace even without data (live idle time)."""
        return self._close_until((now_ns - self.grace_ns) // NS)

    def flush(self) -> list[Alert]:
        """Close every second up to the newest event (end of a replay)."""
        if self.max_ts_ns is None:
            return []
        return self._close_until(self.max_ts_ns // NS + 1)

    def _judge_lateness(
        self, events: list[Liquidation | Tick], ts: npt.NDArray[np.int64]
    ) -> tuple[list[Liquidation | Tick], npt.NDArray[np.int64]]:
        """Return the events to bucket and their times (`ts`: event times, epoch ns).

        An event is late when its second is below the first open one, judged against the
        newest event before it, so batch boundaries do not matter. A late event is kept and
        counted in the first open second (its time becomes that second's start), unless its
        second is below that of the newest event − ``allowed_lateness_ms``: then it is
        dropped (the rule that ``grace_ms`` alone applied before it was shortened).
        Returns `events` and `ts` themselves when none is late.
        """
        if not events:
            return events, ts
        j = judge(ts, self.max_ts_ns, self.closed_sec, self.grace_ns, self.lateness_ns)
        self.max_ts_ns = j.newest_ns
        if not j.late.any():
            return events, ts
        if self.metrics is not None:
            for i in np.flatnonzero(j.late).tolist():
                self.metrics.late(events[i].exchange, dropped=bool(j.dropped[i]))
        moved = np.where(j.late, j.first_open * NS, ts)
        if not j.dropped.any():
            return events, moved
        keep = ~j.dropped
        return [e for e, k in zip(events, keep.tolist(), strict=True) if k], moved[keep]

    # ---- closing seconds -----------------------------------------------------------------

    def _close_until(self, first_open: int) -> list[Alert]:
        if self.closed_sec is not None and first_open <= self.closed_sec:
            return []
        liq = self._take_ready_liq(first_open)
        px = self._take_ready_px(first_open)
        liq_sec, liq_sid, liq_vals = liq
        px_sec = px.get_column("sec").to_numpy()
        seconds = np.union1d(liq_sec, px_sec)
        px_inst = px.get_column("inst").to_list()
        px_vals = px.select("high", "last").to_numpy()
        oi_rows = self.deleveraging.oi_rows(px)
        oi_sec = [row[0] for row in oi_rows]
        out: list[Alert] = []
        for second in seconds.tolist():
            out += self._idle_until(second)
            a, b = np.searchsorted(liq_sec, [second, second + 1])
            c, d = np.searchsorted(px_sec, [second, second + 1])
            e, f = bisect_left(oi_sec, second), bisect_left(oi_sec, second + 1)
            self.deleveraging.observe(oi_rows[e:f], self._inst_info)
            out += self._step(second, liq_sid[a:b], liq_vals[a:b], px_inst[c:d], px_vals[c:d])
        out += self._idle_until(first_open)
        self.closed_sec = first_open
        return out

    def _take_ready_liq(self, first_open: int) -> columns.Buckets:
        return self._pending_liq.take(first_open)

    def _take_ready_px(self, first_open: int) -> pl.DataFrame:
        if (pending := self._pending_px).is_empty():  # no ticks: no polars query
            return pending
        if not pending.get_column("sec").flags["SORTED_ASC"]:  # stable: arrival order kept
            pending = pending.sort("sec", maintain_order=True)
        n = int(pending.get_column("sec").search_sorted(first_open, "left"))  # slice, no filter
        self._pending_px = pending.slice(n)
        return buckets.merge_price_buckets(pending.head(n))

    def _idle_until(self, stop: int) -> list[Alert]:
        """Evaluate every ``idle_eval_s`` below `stop` while alerts are open."""
        out: list[Alert] = []
        step = self.settings.aggregate.idle_eval_s
        last = self.liq.last_second
        if last is None:
            return out
        second = max(self._next_idle, last + 1)
        second += (-second) % step
        while self.book.has_open() and second < stop:
            out += self._step(second, np.zeros(0, np.int64), np.zeros((0, 4)), [], np.zeros((0, 2)))
            second += step
        self._next_idle = second
        return out

    def _step(
        self,
        second: int,
        sids: npt.NDArray[np.int64],
        vals: npt.NDArray[np.float64],
        insts: list[str],
        px: npt.NDArray[np.float64],
    ) -> list[Alert]:
        self.bursts.roll_minutes(second)
        self._ensure_scopes()
        self.liq.close_second(second, sids, vals)
        if sids.size:
            self.bursts.add(second, sids, vals)
        open_scopes = self.book.open_scopes()
        for key, (high, last) in zip(insts, px.tolist(), strict=True):
            asset, asset_class = self._inst_info[key]
            state = self.prices.get(key, asset, asset_class)
            quiet = self.guard.price_step(state, second)  # restarts the windows on a reopen
            state.update(second, high, last, frozen=quiet or asset in open_scopes)
        ts_ns = (second + 1) * NS
        det = self.settings.detect
        derived = self.spread.signals(ts_ns, self.margin_changes, det.margin_hike, det.contagion)
        crash = self.settings.detect.crash
        found = self.bursts.signals(second) + detect_crashes(
            self.prices, self._hot_instruments, second, insts, crash
        )
        found += self.deleveraging.signals(second)
        found = self.guard.hold(self.extras.evaluate(second, sids, insts, px, found), ts_ns)
        self._note_sessions(found + derived, ts_ns)
        alerts = self.book.update(ts_ns, found + derived + self.gaps.signals(ts_ns))
        self.spread.track(alerts, ts_ns, det.margin_hike)
        return alerts

    def _note_sessions(self, signals: list[Signal], ts_ns: int) -> None:
        """Add the market session to the evidence of signals on TradFi scopes.

        Every kind: bursts, crashes, deleveraging, liquidity, saturation, threshold rules,
        margin hikes and contagion (its scope's market, with the ``sessions`` overrides).
        """
        for sig in signals:
            market = self.guard.market_of_scope(sig.scope)
            if market is not None and market != "CRYPTO":
                sig.evidence["session"] = self.sessions.session_at(market, ts_ns)

    def _ensure_scopes(self) -> None:
        # scopes are created when a batch is bucketed, before any of its seconds closes
        self.liq.sums = grown(self.liq.sums, len(self.scopes))
        self.bursts.ensure()

    # ---- views ---------------------------------------------------------------------------

    def burst_stats(self, level: Level, key: str) -> tuple[float, float, float]:
        """Return (baseline USD per minute, z, score) of one scope (`BurstState.stats`)."""
        return self.bursts.stats(level, key)

    def oi_drop_pct(self) -> Mapping[str, float]:
        """Return each scope's open-interest drop (%) at its last evaluation."""
        return self.deleveraging.detector.last_drop_pct

    def sessions_now(self) -> dict[str, str]:
        """Return each TradFi market's session at the newest event time (empty before any)."""
        now = self.max_ts_ns
        if now is None:
            return {}
        return {m: self.sessions.session_at(m, now) for m in TRADFI_MARKETS}

    def active_alerts(self) -> list[Alert]:
        """Return the current state of every pending or firing alert."""
        return [t.alert(t.hot_since_ns, t.state) for t in self.book.active()]

    def windows_frame(self) -> pl.DataFrame:
        """Return the sliding windows now (see `LiquidationWindows.frame`)."""
        return self.liq.frame(self.scopes)

    def window_usd(self, level: Level, key: str, window_s: int) -> tuple[float, float]:
        """Return (long USD, short USD) of one scope over `window_s`; zeros if unseen."""
        sid = self.scopes.find(level, key)
        if sid is None or sid >= self.liq.sums.shape[0]:
            return (0.0, 0.0)
        row = self.liq.sums[sid, self.liq.window_index(window_s)]
        return (max(float(row[LONG_USD]), 0.0), max(float(row[SHORT_USD]), 0.0))

    def drawdowns(self, window_s: int) -> dict[str, float]:
        """Return each asset's deepest fall from the window high among its instruments (≤ 0).

        One pass; only crash windows (``detect.crash.windows_s``) have prices. Reads only:
        each window was trimmed to its instrument's last second when that was folded in.
        """
        worst: dict[str, float] = {}
        if window_s not in self.prices.windows_s:
            return worst
        w = self.prices.windows_s.index(window_s)
        for inst in self.prices.instruments.values():
            if inst.second < 0:
                continue
            high = inst.window_high(w, inst.second)
            if high > 0:
                worst[inst.asset] = min(worst.get(inst.asset, 0.0), inst.last / high - 1.0)
        return worst


__all__ = ["LEVEL_CODE", "MARKET", "Engine"]
