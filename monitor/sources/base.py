"""What a venue adapter declares, and the small types adapters share. No I/O here.

A venue module (``monitor/sources/<venue>.py``) parses frames into contract events as pure
functions and exports one `VenueSpec`. The shared runner
(`monitor.sources.runner`) owns sockets, subscriptions, pings, reconnects, the watchdog
and rotation, driven only by what the spec declares: no venue branches in the runner.

Parsers are objects made per connection (`StreamSpec.make_parser`) because some venues
send deltas that need state (Bybit tickers, BitMEX tables); a fresh parser is made on every
reconnect, so no state leaks across connections.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from monitor.events import AssetClass, Completeness, Event
from monitor.sources.fold import OTHER, FoldedCache, UnknownQuota
from monitor.symbols import classify

Frame = str | bytes
StreamKind = Literal["liquidations", "prices"]


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable contract of a venue, from its instruments endpoint (or a fallback).

    ``contract_size``: for linear contracts, base units per contract (OKX ``ctVal`` of a
    USDT swap, Gate ``quanto_multiplier``); for inverse contracts, USD per contract (Binance
    COIN-M ``contractSize``, OKX ``ctVal`` of a USD swap). 1.0 where sizes are in base units.
    """

    exchange: str
    venue_symbol: str  # as the venue spells it: "BTCUSDT", "BTC-USDT-SWAP", "XBTUSD"
    symbol: str  # normalized: "BTC-USDT-PERP", "BTC-USD-PERP"
    asset: str  # "BTC", "XAU", "NVDA"
    asset_class: AssetClass
    quote: str  # "USDT", "USD", "USDC"
    inverse: bool = False
    contract_size: float = 1.0
    category: str = ""  # venue grouping a stream may select on ("linear", "inverse", "SWAP")


class InstrumentBook:
    """The instruments of one venue, by venue symbol, with the config's asset-class table.

    Parsers call `get`; a symbol missing from the catalogue (a brand-new listing) is built
    by the venue's `fallback` from its name alone, so no event is dropped for it. With a
    `quota` (live venues), such instruments beyond it fold into ``other``
    (`monitor.sources.fold`); replays of files have none.
    """

    def __init__(
        self,
        exchange: str,
        instruments: Sequence[Instrument] = (),
        classes: Mapping[str, AssetClass] | None = None,
        fallback: Callable[[str, Mapping[str, AssetClass]], Instrument | None] | None = None,
        quota: UnknownQuota | None = None,
    ) -> None:
        self.exchange = exchange
        self.classes: Mapping[str, AssetClass] = classes or {}
        self._by_symbol = {i.venue_symbol: self._classified(i) for i in instruments}
        self._fallback = fallback
        self.quota = quota
        self._folded = FoldedCache()
        self.version = 0  # bumped by every `update`: parsers drop what they derived

    def _classified(self, inst: Instrument) -> Instrument:
        wanted = classify(inst.asset, self.classes) if self.classes else inst.asset_class
        if wanted == inst.asset_class:
            return inst
        return Instrument(
            inst.exchange,
            inst.venue_symbol,
            inst.symbol,
            inst.asset,
            wanted,
            inst.quote,
            inst.inverse,
            inst.contract_size,
            inst.category,
        )

    def __len__(self) -> int:
        return len(self._by_symbol)

    def update(self, instruments: Sequence[Instrument]) -> int:
        """Add or replace instruments (a catalogue refresh); return how many are new."""
        new = sum(1 for i in instruments if i.venue_symbol not in self._by_symbol)
        for inst in instruments:
            self._by_symbol[inst.venue_symbol] = self._classified(inst)
        self.version += 1
        return new

    def all(self) -> list[Instrument]:
        """Return every known instrument, sorted by venue symbol."""
        return [self._by_symbol[k] for k in sorted(self._by_symbol)]

    def get(self, venue_symbol: str) -> Instrument | None:
        """Return the instrument, from the catalogue or else the fallback (then remembered).

        An unlisted instrument the quota does not admit comes back folded (symbol and
        asset ``other``) and is not remembered.
        """
        found = self._by_symbol.get(venue_symbol)
        if found is not None or self._fallback is None:
            return found
        folded = self._folded.get(venue_symbol)
        if folded is not None:
            return folded
        found = self._fallback(venue_symbol, self.classes)
        if found is None:
            return None
        if self.quota is None or self.quota.admit(found):
            self._by_symbol[venue_symbol] = found
            return found
        return self._folded.put(found)

    def tracked(self, venue_symbol: str) -> bool:
        """Return True if a parser may keep per-symbol state for `venue_symbol`.

        False for a symbol the book cannot place and for one folded into ``other``: a
        venue sending made-up names must not grow a parser's state without bound.
        """
        inst = self.get(venue_symbol)
        return inst is not None and inst.asset != OTHER

    @property
    def folding(self) -> bool:
        """True once the shared quota folded an instrument: events may carry ``other``."""
        return self.quota is not None and self.quota.folding


class FrameParser(Protocol):
    """Parses one connection's frames. Made fresh for every connection."""

    def parse(self, frame: Frame, ts_recv_ns: int) -> list[Event]:
        """Return the events in `frame` (empty for acks, pongs, heartbeats).

        Raises:
            monitor.errors.ParseError: on a malformed frame, with a truncated excerpt.
                Never logs, sleeps or touches a socket.
        """
        ...


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """An application-level ping the client must send every `interval_s` seconds."""

    interval_s: float
    payload: str


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """One kind of connection to a venue.

    Attributes:
        name: stream id in metrics and recordings ("liquidations", "prices", ...).
        kind: whether it carries liquidations or prices (the watchdog tells a quiet
            liquidation channel from a dead one by comparing with the venue's prices).
        completeness: ``exact`` or ``sampled`` (Binance: at most 1 per symbol per second).
        topics: instruments → the topics to subscribe (channel names, stream names); one
            per symbol, or a single all-market topic.
        url: topics of one connection → the URL to connect to.
        subscribe: topics of one connection → the messages to send after connecting
            (empty when the URL carries the subscription).
        make_parser: instruments → a fresh parser for one connection.
        max_topics_per_conn: the venue's limit (split into several connections above it).
        heartbeat: the client ping, if the venue needs one.
        reply: server frame → the reply it demands (HTX ``{"ping": n}`` → ``{"pong": n}``),
            or None.
        decode: binary frame → text (HTX gzip), or None for text frames.
        max_age_s: the venue's forced disconnect (Binance 24 h); the runner rotates a
            little earlier, opening the new connection before closing the old one.
        stale_after_s: no frame at all for this long means the connection is dead.
    """

    name: str
    kind: StreamKind
    completeness: Completeness
    topics: Callable[[Sequence[Instrument]], list[str]]
    url: Callable[[Sequence[str]], str]
    subscribe: Callable[[Sequence[str]], list[str]]
    make_parser: Callable[[InstrumentBook], FrameParser]
    max_topics_per_conn: int = 200
    heartbeat: Heartbeat | None = None
    reply: Callable[[str], str | None] | None = None
    decode: Callable[[bytes], str] | None = None
    max_age_s: float | None = None
    stale_after_s: float = 60.0


@dataclass(frozen=True, slots=True)
class VenueSpec:
    """Everything the runner and the catalogue need to know about one venue."""

    name: str  # venue id, equal to the module name
    streams: tuple[StreamSpec, ...]
    instruments_urls: tuple[str, ...] = ()  # public REST endpoints listing instruments
    parse_instruments: Callable[[bytes, Mapping[str, AssetClass]], list[Instrument]] | None = None
    fallback: Callable[[str, Mapping[str, AssetClass]], Instrument | None] | None = None
    cannot: str = ""  # what this venue cannot give (README venue table)
    notes: dict[str, str] = field(default_factory=dict)


def excerpt(frame: Frame, limit: int = 120) -> str:
    """Return a short printable excerpt of `frame` for error messages."""
    text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
    return text if len(text) <= limit else text[:limit] + "…"
