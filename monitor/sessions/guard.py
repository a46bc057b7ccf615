"""What detection asks about market sessions: closed, reopening, or open — per scope.

A TradFi perp trades around the clock, but its underlying market closes (nights, weekends,
CME's daily hour): the venue's mark price freezes or drifts on an EWMA, liquidations dry up
and a feed carrying only such instruments falls silent. Three rules follow, all in event
time, all from the `SessionCalendar` (published schedule, else the template):

- **closed** (``NO_TRADING``): baselines (burst USD and event rate, 1-minute price
  volatility, the daily maxima of the open-interest fall) do not learn, so the quiet of a
  closed market is not taken for the norm of an open one; spreads learn a baseline of
  their own (closed quotes are compared with closed quotes); a venue stream that carries
  only closed markets is not a ``data_gap``.
- **settling** (the first ``sessions.reopen_settle_s`` after a ``NO_TRADING`` session ends):
  the reopening gap is priced in at once and liquidates whatever it crosses, every week,
  on schedule. Signals on the market's scopes are held back, baselines still do not
  learn, and what is seen then does not outlast it: the saturation of sampled streams
  does not count those seconds, and an instrument's open-interest series starts afresh
  after it. Signals on the ``market`` scope (all assets) are held too while the settling
  markets carry at least half of its liquidated USD over the burst window, and its burst
  baseline does not learn those minutes; a crypto cascade at the same time still fires.
  A separate baseline of reopenings would see one sample a week per market (one a day
  for CME's hour), too few to learn a robust scale within a season, so they are skipped
  instead.
- **reopened**: an instrument's crash windows and volatility reference restart at its
  first price after the reopening, so the gap between Friday's last price and Sunday's
  first is not read as a crash, while a fall after the reopening still is.

Crypto (and fx) scopes are never closed. Called by the engine at each closed second
(`price_step`, `hold`), by the burst state once per minute (`scope_mask`), by the
liquidity, saturation and deleveraging stages per instrument or scope (`phase`,
`scope_quiet`) and by `StreamGaps` for silent streams (`closed_in`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from monitor.aggregate.detect.detectors import Signal
from monitor.aggregate.windows.prices import InstrumentPrices
from monitor.aggregate.windows.scopes import MARKET, Level, ScopeIndex
from monitor.events import ASSET_CLASSES, NS, AssetClass
from monitor.sessions.calendar import TRADFI_MARKETS, Market, SessionCalendar, market_of
from monitor.sessions.settings import SessionSettings

Phase = Literal["open", "closed", "settling"]
WindowUsd = Callable[[Level, str, int], tuple[float, float]]
"""(level, scope, window_s) → (long USD, short USD) liquidated over that window."""

MINUTE_NS: Final = 60 * NS
_CACHE_MAX: Final = 200_000  # (market, minute) answers kept before the cache is cleared
_CODES: Final[dict[Market, int]] = {"CRYPTO": 0, "EQUITY": 1, "COMMODITY": 2}
_MARKET_CODE: Final = 3  # the all-assets scope: quiet while `market_held`
_MARKET_SHARE: Final = 0.5  # settling markets' share of the market scope's USD that holds it
_NOT_HELD: Final = frozenset({"data_gap"})  # a dead feed is news whatever the session


class SessionGuard:
    """Answers session questions per market, instrument and scope (cached per minute).

    Args:
        calendar: the sessions (its `version` invalidates the cache).
        cfg: the ``sessions`` section.
        class_of: asset → asset class, as the engine learns it from events.
        window_usd: the engine's liquidated USD per scope and window (for `market_held`;
            None: the ``market`` scope is never held).
        window_s: the burst window those shares are measured over, seconds.
    """

    def __init__(
        self,
        calendar: SessionCalendar,
        cfg: SessionSettings,
        class_of: Mapping[str, AssetClass],
        window_usd: WindowUsd | None = None,
        window_s: int = 60,
    ) -> None:
        self.calendar, self.cfg, self.class_of = calendar, cfg, class_of
        self.window_usd, self.window_s = window_usd, window_s
        self._settle_min = math.ceil(cfg.reopen_settle_s / 60.0)
        self._closed: dict[tuple[Market, int], bool] = {}
        self._version = calendar.version
        self._scope_codes: npt.NDArray[np.int8] = np.zeros(0, np.int8)
        self._resolved = 0  # scope ids below this have a known market
        self.held = 0  # signals held back while settling (for tests and logs)

    # ---- markets -------------------------------------------------------------------------

    def market(self, key: str, asset: str, asset_class: AssetClass) -> Market:
        """Return the market instrument `key` (``exchange:SYMBOL``) of `asset` follows."""
        markets = self.cfg.markets
        if markets:
            found = markets.get(key) or markets.get(asset)
            if found is not None:
                return found
        return market_of(asset_class)

    def market_of_scope(self, scope: str) -> Market | None:
        """Return the market of a signal scope (class, asset, instrument); None if unknown."""
        override = self.cfg.markets.get(scope)
        if override is not None:
            return override
        if scope in ASSET_CLASSES:
            return market_of(scope)
        cls = self.class_of.get(scope)
        return None if cls is None else market_of(cls)

    # ---- per market, in event time -------------------------------------------------------

    def closed(self, market: Market, ts_ns: int) -> bool:
        """Return True while `market` is in ``NO_TRADING`` at `ts_ns` (its minute)."""
        if market == "CRYPTO" or not self.cfg.enabled:
            return False
        return self._closed_minute(market, ts_ns // MINUTE_NS)

    def _closed_minute(self, market: Market, minute: int) -> bool:
        if self._version != self.calendar.version or len(self._closed) > _CACHE_MAX:
            self._closed.clear()
            self._version = self.calendar.version
        key = (market, minute)
        found = self._closed.get(key)
        if found is None:
            found = not self.calendar.is_open(market, minute * MINUTE_NS)
            self._closed[key] = found
        return found

    def closed_in(self, market: Market, a_ns: int, b_ns: int) -> bool:
        """Return True if `market` was closed in any minute of [a_ns, b_ns]."""
        if market == "CRYPTO" or not self.cfg.enabled:
            return False
        return any(
            self._closed_minute(market, m) for m in range(a_ns // MINUTE_NS, b_ns // MINUTE_NS + 1)
        )

    def settling(self, market: Market, ts_ns: int) -> bool:
        """Return True in the first ``reopen_settle_s`` after `market` left ``NO_TRADING``."""
        if self._settle_min == 0 or self.closed(market, ts_ns):
            return False
        minute = ts_ns // MINUTE_NS
        return self.closed_in(market, (minute - self._settle_min) * MINUTE_NS, ts_ns - MINUTE_NS)

    def quiet(self, market: Market, ts_ns: int) -> bool:
        """Return True while `market` is closed or settling: baselines must not learn."""
        return self.closed(market, ts_ns) or self.settling(market, ts_ns)

    def phase(self, market: Market, ts_ns: int) -> Phase:
        """Return whether `market` is open, closed or settling at `ts_ns` (one answer)."""
        if self.closed(market, ts_ns):
            return "closed"
        return "settling" if self.settling(market, ts_ns) else "open"

    def market_held(self, ts_ns: int) -> bool:
        """Return True while TradFi reopenings drive the ``market`` scope (all assets).

        True when a TradFi market is settling at `ts_ns` and the asset classes that follow
        the settling markets carry at least half of the market scope's liquidated USD over
        the last ``window_s`` (the engine's windows as they stand). A crypto cascade that
        outweighs the reopening is not held.
        """
        if self._settle_min == 0 or not self.cfg.enabled or self.window_usd is None:
            return False
        settling = {m for m in TRADFI_MARKETS if self.settling(m, ts_ns)}
        if not settling:
            return False
        total = sum(self.window_usd("market", MARKET, self.window_s))
        if total <= 0:
            return False
        part = sum(
            sum(self.window_usd("class", cls, self.window_s))
            for cls in ASSET_CLASSES
            if self.market_of_scope(cls) in settling
        )
        return part >= _MARKET_SHARE * total

    def scope_quiet(self, scope: str, ts_ns: int) -> bool:
        """Return True while a signal scope's baselines must not learn (asset, class, market).

        An asset or class follows its market (`quiet`); the ``market`` scope is quiet while
        `market_held`; an unknown scope never is.
        """
        if scope == MARKET:
            return self.market_held(ts_ns)
        market = self.market_of_scope(scope)
        return market is not None and market != "CRYPTO" and self.quiet(market, ts_ns)

    # ---- what the detectors call ---------------------------------------------------------

    def price_step(self, state: InstrumentPrices, second: int) -> bool:
        """Prepare `state` for its price of `second` (epoch s); return True to freeze it.

        At the first price after its market reopened (the previous price is from before
        or during a ``NO_TRADING`` minute), the crash windows and the volatility reference
        restart (`restart_prices`). Returns whether volatility must not learn (quiet).
        """
        market = self.market(state.key, state.asset, state.asset_class)
        if market == "CRYPTO" or not self.cfg.enabled:
            return False
        ts_ns = second * NS
        if (
            state.second >= 0
            and not self.closed(market, ts_ns)
            and self.closed_in(market, state.second * NS, ts_ns - MINUTE_NS)
        ):
            restart_prices(state)
        return self.quiet(market, ts_ns)

    def hold(self, signals: list[Signal], ts_ns: int) -> list[Signal]:
        """Return `signals` without those on scopes whose market is settling at `ts_ns`.

        A signal on the ``market`` scope is held while `market_held` (asked once per call).
        """
        if self._settle_min == 0 or not self.cfg.enabled:
            return signals
        kept = []
        market_held: bool | None = None
        for sig in signals:
            if sig.kind in _NOT_HELD:
                kept.append(sig)
                continue
            if sig.scope == MARKET:
                market_held = self.market_held(ts_ns) if market_held is None else market_held
                held = market_held
            else:
                market = self.market_of_scope(sig.scope)
                held = market is not None and market != "CRYPTO" and self.settling(market, ts_ns)
            if held:
                self.held += 1
                continue
            kept.append(sig)
        return kept

    def scope_mask(self, scopes: ScopeIndex) -> Callable[[int, int], npt.NDArray[np.bool_]]:
        """Return ``quiet(minute, n)``: which of the first `n` scopes are quiet at `minute`.

        For the burst state's per-minute roll (an epoch minute). Instrument scopes follow
        their overrides only (their asset is not known here); the ``market`` scope is quiet
        while `market_held` at the minute's end (the windows as they stand at the roll).
        """

        def quiet(minute: int, n: int) -> npt.NDArray[np.bool_]:
            codes = self._codes(scopes, n)
            if not self.cfg.enabled or not codes.any():
                return np.zeros(n, dtype=bool)
            ts_ns = minute * MINUTE_NS
            equity, commodity = self.quiet("EQUITY", ts_ns), self.quiet("COMMODITY", ts_ns)
            held = (equity or commodity) and self.market_held(ts_ns + MINUTE_NS - 1)
            return np.array([False, equity, commodity, held], bool)[codes]

        return quiet

    def _codes(self, scopes: ScopeIndex, n: int) -> npt.NDArray[np.int8]:
        if self._scope_codes.shape[0] < n:
            self._scope_codes = np.concatenate(
                [self._scope_codes, np.zeros(n - self._scope_codes.shape[0], np.int8)]
            )
        for sid in range(self._resolved, n):
            level, key = scopes.levels[sid], scopes.keys[sid]
            market: Market | None
            if level == "instrument":
                market = self.cfg.markets.get(key, "CRYPTO")
            elif level == "market":
                self._scope_codes[sid] = _MARKET_CODE
                self._resolved = sid + 1
                continue
            else:
                market = self.market_of_scope(key)
            if market is None:  # class not learnt yet: look again next time
                break
            self._scope_codes[sid] = _CODES[market]
            self._resolved = sid + 1
        return self._scope_codes[:n]


def restart_prices(state: InstrumentPrices) -> None:
    """Forget an instrument's window highs, last price and volatility reference.

    Its volatility estimate itself is kept (it was learnt in open sessions); the next
    price starts the windows afresh and the next full minute is the first return learnt.
    """
    state.highs = [deque() for _ in state.windows_s]
    state.last = math.nan
    state.ref_close = math.nan
