"""``data_gap``: a venue's stream that is silent while a peer venue's same stream flows.

Streams are (venue, ``liquidations`` | ``prices``). Each keeps the event time of its newest
event and its typical inter-arrival time (its mean gap between events, over a history that
halves each time it passes ``_HISTORY`` events, so it follows the market's pace; the
halving points are those of taking the events one by one, so the state does not depend on
how many arrive between two evaluations). At every
evaluation, in event time, a stream that has delivered ``min_events`` is stale when its
newest event is older than its bound max(``min_stale_s``, k × typical gap); it raises a
``data_gap`` signal on its venue's scope only while another venue's stream of the same kind
delivered within that bound (all silent together: the market is quiet, or liqmon itself is
cut off, which ``LiqmonSourceDown``/``LiqmonSourceStale`` report). The signal stops when the
stream flows again, and the alert resolves after ``detect.lifecycle.resolve_after_s``.

Sessions: each stream remembers the markets of the instruments it carried (`SessionGuard`).
A stream whose markets were all in ``NO_TRADING`` at some minute within its bound is not
stale (a stock-perp feed that stops over the weekend, a frozen RWA perp): its silence
counts from the reopening. A silence spanning such a closure is left out of the typical gap,
so the weekend does not loosen the bound. A stream that ever carried crypto never closes.
`observe` is called for each micro-batch, `signals` at every evaluation; the state is
`Snapshottable`, so it survives restarts.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import polars as pl

from monitor.aggregate.detect.detectors import Signal
from monitor.config.gaps import DataGapSettings
from monitor.events import NS, AssetClass, Liquidation, Tick
from monitor.sessions.calendar import MARKETS, Market, market_of
from monitor.sessions.guard import SessionGuard

_HISTORY: Final = 1000  # events: past this the history halves (a decaying mean gap)
# Venues whose open interest comes by REST poll (`monitor.sources.polls.OI_VENUES`), not on
# their streams: a tick of theirs that carries OI is a poll, so it does not count as stream
# data (else a poll a few seconds apart would hide a dead price stream).
POLLED_OI: Final = frozenset({"binance_usdm", "binance_coinm", "htx"})


@dataclass(slots=True)
class _Stream:
    first_ns: int  # start of the history the mean gap is taken over
    last_ns: int
    events: int  # events in that history
    seen: int  # events ever (for min_events)

    def gap_s(self) -> float:
        """Return the mean time between events, seconds (inf before the second event)."""
        if self.events < 2:
            return float("inf")
        return (self.last_ns - self.first_ns) / NS / (self.events - 1)


class StreamGaps:
    """Newest event and typical gap per (venue, stream); ``data_gap`` signals."""

    def __init__(self, cfg: DataGapSettings, guard: SessionGuard | None = None) -> None:
        self.cfg = cfg
        self.guard = guard
        self.streams: dict[tuple[str, str], _Stream] = {}
        self.markets: dict[tuple[str, str], set[Market]] = {}  # what each stream carried
        self._pending: dict[tuple[str, str], list[int]] = {}  # sorted; from _head: not folded
        self._head: dict[tuple[str, str], int] = {}

    def observe(self, exchange: str, stream: str, times_ns: Iterable[int]) -> None:
        """Take event times (epoch ns, any order) of one venue's stream.

        They count from the first evaluation at or after them (`signals` folds them in), so
        a batch's newer events do not hide a gap in the seconds still being judged.
        """
        key = (exchange, stream)
        head = self._head.get(key, 0)
        times = self._pending.get(key, [])[head:]
        times.extend(times_ns)
        times.sort()
        self._pending[key], self._head[key] = times, 0

    def _fold(self, now_ns: int) -> None:
        for key, times in self._pending.items():
            head = self._head[key]
            cut = bisect.bisect_right(times, now_ns, lo=head)
            if cut == head:
                continue
            self._head[key] = cut
            s = self.streams.get(key)
            if s is None:
                s = _Stream(times[head], times[head], 0, 0)
                self.streams[key] = s
            elif self._closed_between(key, s.last_ns, times[head]):
                s.first_ns += times[head] - s.last_ns  # the closure is not a typical gap
            while head < cut:  # in runs that end where the history halves: as if one by one
                take = max(1, min(cut - head, _HISTORY + 1 - s.events))
                s.last_ns = max(s.last_ns, times[head + take - 1])
                s.events += take
                s.seen += take
                head += take
                if s.events > _HISTORY:
                    s.first_ns = s.last_ns - (s.last_ns - s.first_ns) // 2
                    s.events //= 2

    def observe_events(self, events: Iterable[Liquidation | Tick]) -> None:
        """Take one micro-batch's liquidations and ticks (their own event times)."""
        times: dict[tuple[str, str], list[int]] = {}
        kinds: set[tuple[str, str, str, str, AssetClass]] = set()
        for e in events:
            if isinstance(e, Tick):
                if e.open_interest_usd is not None and e.exchange in POLLED_OI:
                    continue
                stream = "prices"
            else:
                stream = "liquidations"
            times.setdefault((e.exchange, stream), []).append(e.ts_event_ns)
            kinds.add((e.exchange, stream, e.symbol, e.asset, e.asset_class))
        for (exchange, stream), ts in times.items():
            self.observe(exchange, stream, ts)
        for exchange, stream, symbol, asset, cls in kinds:
            self._carried(exchange, stream, "%s:%s" % (exchange, symbol), asset, cls)

    def _carried(self, exchange: str, stream: str, inst: str, asset: str, cls: AssetClass) -> None:
        """Note that a stream carried instrument `inst` (``exchange:SYMBOL``) of `asset`."""
        market = market_of(cls) if self.guard is None else self.guard.market(inst, asset, cls)
        self.markets.setdefault((exchange, stream), set()).add(market)

    def observe_buckets(self, liq: pl.DataFrame, px: pl.DataFrame) -> None:
        """Take closed 1-second buckets (the Kafka path): each liquidation at its second."""
        for frame, stream, inst in ((liq, "liquidations", "instrument"), (px, "prices", "inst")):
            if not frame.is_empty():
                for key, asset, cls in frame.select(inst, "asset", "class").unique().iter_rows():
                    self._carried(key.partition(":")[0], stream, key, asset, cls)
        times: dict[tuple[str, str], list[int]] = {}  # one `observe` per stream: it sorts
        if not liq.is_empty():
            rows = liq.select(
                pl.col("instrument").str.split(":").list.first().alias("ex"),
                pl.col("sec"),
                (pl.col("long_n") + pl.col("short_n")).cast(pl.Int64).alias("n"),
            )
            for ex, sec, n in rows.iter_rows():
                times.setdefault((ex, "liquidations"), []).extend([sec * NS] * max(int(n), 1))
        if "oi" in px.columns:  # polled OI readings are not stream data (`POLLED_OI`)
            polled = pl.col("inst").str.split(":").list.first().is_in(list(POLLED_OI))
            px = px.filter(~(polled & pl.col("oi").is_not_null()))
        if not px.is_empty():
            exchanges = px.get_column("inst").str.split(":").list.first()
            for ex, sec in zip(exchanges.to_list(), px.get_column("sec").to_list(), strict=True):
                times.setdefault((ex, "prices"), []).append(sec * NS)
        for (exchange, stream), ts in times.items():
            self.observe(exchange, stream, ts)

    def bound_s(self, s: _Stream) -> float:
        """Return the stream's stale bound, seconds."""
        return max(self.cfg.min_stale_s, self.cfg.interarrival_multiple * s.gap_s())

    def signals(self, now_ns: int) -> list[Signal]:
        """Return one ``data_gap`` signal per silent stream with a flowing peer at `now_ns`."""
        if not self.cfg.enabled:
            return []
        self._fold(now_ns)
        out: list[Signal] = []
        for (exchange, stream), s in sorted(self.streams.items()):
            if s.seen < self.cfg.min_events:
                continue
            bound_ns = int(self.bound_s(s) * NS)
            silent_ns = now_ns - s.last_ns
            if silent_ns <= bound_ns or self._closed_between(
                (exchange, stream), now_ns - bound_ns, now_ns
            ):
                continue
            peers = [
                ex
                for (ex, st), p in sorted(self.streams.items())
                if st == stream and ex != exchange and now_ns - p.last_ns <= bound_ns
            ]
            if peers:
                sig = _signal(exchange, stream, silent_ns / NS, bound_ns / NS, peers)
                session = self._session((exchange, stream), now_ns)
                if session:
                    sig.evidence["session"] = session
                out.append(sig)
        return out

    def _session(self, key: tuple[str, str], ts_ns: int) -> str:
        """Return the session of the TradFi market(s) a stream carried only, else ``""``.

        One market: its session (``OVERNIGHT``); several: ``COMMODITY REGULAR, EQUITY …``.
        """
        markets = self.markets.get(key)
        if self.guard is None or not markets or "CRYPTO" in markets:
            return ""
        calendar = self.guard.calendar
        if len(markets) == 1:
            return calendar.session_at(next(iter(markets)), ts_ns)
        return ", ".join("%s %s" % (m, calendar.session_at(m, ts_ns)) for m in sorted(markets))

    def _closed_between(self, key: tuple[str, str], a_ns: int, b_ns: int) -> bool:
        """Return True if every market `key` carried was closed in some minute of [a, b].

        Cheap when it matters little: only asked for silences past ``min_stale_s``.
        """
        markets = self.markets.get(key)
        if self.guard is None or not markets or "CRYPTO" in markets:
            return False
        if b_ns - a_ns < self.cfg.min_stale_s * NS:
            return False
        guard = self.guard
        return all(guard.closed_in(m, a_ns, b_ns) for m in sorted(markets))

    def snapshot(self) -> dict[str, Any]:
        """Return the streams as plain values (state file)."""
        return {
            "streams": [
                [ex, st, s.first_ns, s.last_ns, s.events, s.seen]
                for (ex, st), s in self.streams.items()
            ],
            "pending": [
                [ex, st, ts[self._head[ex, st] :]] for (ex, st), ts in self._pending.items()
            ],
            "markets": [[ex, st, sorted(m)] for (ex, st), m in self.markets.items()],
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Load `snapshot`'s streams (raises before changing anything on a bad one)."""
        streams = {
            (str(ex), str(st)): _Stream(int(a), int(b), int(n), int(seen))
            for ex, st, a, b, n, seen in state["streams"]
        }
        pending = {(str(ex), str(st)): [int(t) for t in ts] for ex, st, ts in state["pending"]}
        markets = {
            (str(ex), str(st)): {_market(m) for m in ms} for ex, st, ms in state.get("markets", [])
        }
        self.streams, self._pending, self.markets = streams, pending, markets
        self._head = dict.fromkeys(pending, 0)


def _market(name: object) -> Market:
    if name not in MARKETS:
        raise ValueError("unknown market %r" % (name,))
    return name


def _signal(
    exchange: str, stream: str, silent_s: float, bound_s: float, peers: list[str]
) -> Signal:
    return Signal(
        kind="data_gap",
        scope=exchange,
        severity="warning",
        score=silent_s / bound_s,
        summary="%s %s silent for %.0f s (bound %.0f s) while %s flow"
        % (exchange, stream, silent_s, bound_s, ", ".join(peers)),
        evidence={
            "exchange": exchange,
            "stream": stream,
            "silent_s": round(silent_s, 1),
            "stale_bound_s": round(bound_s, 1),
            "peers": peers,
        },
        for_s=0.0,
    )
