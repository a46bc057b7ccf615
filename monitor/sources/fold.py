"""A bound on the instruments the catalogue did not list: beyond it they fold into ``other``.

A symbol missing from a venue's catalogue (a brand-new listing) is built from its name by
the venue's fallback, and every new name becomes new state in the engine (an instrument
and an asset scope, their windows and baselines), which is never freed. A venue that sends
50,000 made-up names would grow the daemon by ~800 MiB and slow it ~5×. `UnknownQuota`
admits the first ``sources.max_unknown_instruments`` such instruments across all venues
(first come, kept for the life of the process); later ones fold:

- a liquidation keeps its venue, side, price, size and asset class but gets the symbol and
  the asset ``other``, so the market and asset-class windows stay exact;
- a price tick of a folded instrument is dropped: prices of different assets cannot share
  one price window (``other`` would show a crash on every tick).

Both are counted in ``liqmon_assets_folded_total{exchange,type}``. Instruments of the
catalogue, its cache and the configured seed symbols are known and never fold, nor does an
instrument of a watched asset (``assets.watch``).

First come rather than least recently used: the engine never frees a scope, so an LRU at
the edge would let the engine's state grow as names rotate; a first-come cap bounds it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Final

from monitor.events import Event, Liquidation, Tick

if TYPE_CHECKING:
    from monitor.sources.base import Instrument  # base imports this module

OTHER: Final = "other"
_FOLDED_CACHE: Final = 65_536  # folded instruments kept per book (≤ ~16 MiB; a miss: one fallback)


class UnknownQuota:
    """The cap shared by every venue's book: how many unlisted instruments may enter."""

    def __init__(self, limit: int, watch: Collection[str] = ()) -> None:
        self.limit = limit
        self.watch = frozenset(watch)
        self.admitted = 0
        self.folding = False  # set once an instrument was folded: runners then scan events

    def admit(self, inst: Instrument) -> bool:
        """Return True if the unlisted `inst` may keep its own identity (then it is counted)."""
        if inst.asset in self.watch:
            return True
        if self.admitted < self.limit:
            self.admitted += 1
            return True
        self.folding = True
        return False


class FoldedCache:
    """Folded instruments by venue symbol, least recently used first out (bounded)."""

    def __init__(self, capacity: int = _FOLDED_CACHE) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, Instrument] = OrderedDict()

    def get(self, venue_symbol: str) -> Instrument | None:
        """Return the folded instrument of `venue_symbol`, if still cached."""
        found = self._items.get(venue_symbol)
        if found is not None:
            self._items.move_to_end(venue_symbol)
        return found

    def put(self, inst: Instrument) -> Instrument:
        """Fold `inst` into ``other``, cache and return it."""
        folded = type(inst)(  # positional: dataclasses.replace was half the fold's cost
            inst.exchange, inst.venue_symbol, OTHER, OTHER, inst.asset_class, inst.quote,
            inst.inverse, inst.contract_size, inst.category,
        )  # fmt: skip
        self._items[inst.venue_symbol] = folded
        if len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return folded


def split_folded(events: Sequence[Event]) -> tuple[list[Event], int, int]:
    """Return (the events to keep, folded liquidations kept, folded ticks dropped).

    Called by a runner on every parsed frame once its book has folded an instrument.
    """
    kept: list[Event] = []
    liqs = ticks = 0
    for event in events:
        if isinstance(event, Liquidation | Tick) and event.asset == OTHER:
            if isinstance(event, Tick):
                ticks += 1
                continue
            liqs += 1
        kept.append(event)
    return kept, liqs, ticks
