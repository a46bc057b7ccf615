"""Risk-tier snapshots of crypto venues and their diff (pure: no I/O, no clock).

Parsers turn one REST response into a `TierPage` (product → `ProductTiers`); `diff_tiers`
compares two snapshots and returns `MarginChange` events.

What is compared: the **first tier** of every product, the one small and mid-sized
positions sit in, and the one a venue changes when it "cuts max leverage" or "raises the
maintenance margin" of a symbol under stress. One event per changed
quantity: ``maintenance_rate`` (a fraction, 0.005 = 0.5 %) and ``max_leverage`` (×). Deeper
tiers are kept in ``ProductTiers.tiers`` so a change there is visible (`deeper_changes`,
logged by the poller) without becoming an event: deeper tiers bind only whales, and a
venue's re-banding of them would otherwise flood the detector. A product that appears or
disappears (listing, delisting) is not a change.

Payload shapes (the venues' documented responses; fixtures in tests are composed from them):

- Bybit ``GET /v5/market/risk-limit?category=linear[&symbol=][&cursor=]``:
  ``{"retCode":0,"result":{"list":[{"id","symbol","riskLimitValue","maintenanceMargin",
  "initialMargin","isLowestRisk","maxLeverage","mmDeduction"}],"nextPageCursor":…}}``,
  15 symbols per page. Bybit's own examples print the rates as fractions (``"0.01"``) and
  as percent numbers (``"1"`` with ``maxLeverage`` ``"100"``); the parser tells them apart
  by ``initialMargin × maxLeverage`` (≈ 1 for fractions, ≈ 100 for percent).
- OKX ``GET /api/v5/public/position-tiers?instType=SWAP&tdMode=cross&instFamily=BTC-USDT``:
  ``{"code":"0","data":[{"instFamily","instId","tier","minSz","maxSz","mmr","imr",
  "maxLever",…}]}``; rates are fractions.
- Hyperliquid ``POST /info {"type":"meta"}``: ``{"universe":[{"name","szDecimals",
  "maxLeverage","marginTableId","onlyIsolated"?,"isDelisted"?}],"marginTables":[[id,
  {"description","marginTiers":[{"lowerBound","maxLeverage"}]}]]}``. No maintenance rate
  is published (only max leverage), so Hyperliquid yields ``max_leverage`` events only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import msgspec

from monitor.errors import ParseError
from monitor.events import AssetClass, MarginBasis, MarginChange
from monitor.margin.model import new_change
from monitor.symbols import classify, split_concatenated

Tier = tuple[float, float | None, float | None]
"""(lower bound of the tier, maintenance rate as a fraction or None, max leverage or None)."""
REL_TOLERANCE: Final = 1e-9  # values printed with fewer digits are not a change


@dataclass(frozen=True, slots=True)
class ProductTiers:
    """The tiers of one product; the first tier's requirements are what `diff_tiers` uses."""

    asset: str
    maintenance_rate: float | None  # first tier, fraction (0.005 = 0.5 %)
    max_leverage: float | None  # first tier, ×
    tiers: tuple[Tier, ...] = ()  # every tier, ascending


TierSnapshot = dict[str, ProductTiers]
"""Product (venue symbol) → its tiers."""


@dataclass(frozen=True, slots=True)
class TierPage:
    """One parsed response; ``next_cursor`` is set when the venue has more pages."""

    tiers: TierSnapshot
    next_cursor: str | None = None


def diff_tiers(
    old: Mapping[str, ProductTiers],
    new: Mapping[str, ProductTiers],
    *,
    venue: str,
    ts_ns: int,
    classes: Mapping[str, AssetClass],
    source: str,
) -> list[MarginChange]:
    """Return one event per changed first-tier requirement of a product in both snapshots.

    Args:
        old: the previous snapshot (the baseline).
        new: the snapshot just fetched.
        venue: the venue id (``bybit``, ``okx``, ``hyperliquid``).
        ts_ns: when the change was seen (epoch ns): both notice and effective time, since
            a tier table takes effect when published.
        classes: the ``assets.classes`` table.
        source: provenance, e.g. the endpoint URL.
    """
    events: list[MarginChange] = []
    for product in sorted(new.keys() & old.keys()):
        before, after = old[product], new[product]
        pairs: tuple[tuple[MarginBasis, float | None, float | None], ...] = (
            ("maintenance_rate", before.maintenance_rate, after.maintenance_rate),
            ("max_leverage", before.max_leverage, after.max_leverage),
        )
        for basis, was, now in pairs:
            if was is None or now is None or was <= 0 or now <= 0:
                continue
            if math.isclose(was, now, rel_tol=REL_TOLERANCE):
                continue
            events.append(
                new_change(
                    venue=venue,
                    product=product,
                    asset=after.asset,
                    asset_class=classify(after.asset, classes),
                    basis=basis,
                    old=was,
                    new=now,
                    notice_ts_ns=ts_ns,
                    effective_ts_ns=ts_ns,
                    source=source,
                )
            )
    return events


def deeper_changes(old: Mapping[str, ProductTiers], new: Mapping[str, ProductTiers]) -> list[str]:
    """Return the products whose tier tables changed while their first tier did not."""
    return sorted(
        p
        for p in new.keys() & old.keys()
        if old[p].tiers != new[p].tiers
        and (old[p].maintenance_rate, old[p].max_leverage)
        == (new[p].maintenance_rate, new[p].max_leverage)
    )


# --- Bybit ---------------------------------------------------------------------------------

Number = str | float


class _BybitTier(msgspec.Struct):  # field names as on the wire
    symbol: str
    riskLimitValue: Number
    maintenanceMargin: Number
    initialMargin: Number
    maxLeverage: Number
    isLowestRisk: int = 0


class _BybitResult(msgspec.Struct):
    rows: list[_BybitTier] = msgspec.field(default_factory=list, name="list")
    nextPageCursor: str = ""


class _BybitResponse(msgspec.Struct):
    retCode: int
    retMsg: str = ""
    result: _BybitResult | None = None


_BYBIT: Final = msgspec.json.Decoder(_BybitResponse)


def parse_bybit_risk_limit(body: bytes) -> TierPage:
    """Parse one page of Bybit ``/v5/market/risk-limit`` (linear).

    Symbols that are not ``<BASE><QUOTE>`` perpetuals (dated futures) are left out.

    Raises:
        ParseError: not the documented shape, or a non-zero ``retCode``.
    """
    try:
        response = _BYBIT.decode(body)
    except msgspec.DecodeError as exc:
        raise ParseError("bybit risk-limit: %s" % exc) from None
    if response.retCode != 0 or response.result is None:
        raise ParseError("bybit risk-limit: retCode %d %s" % (response.retCode, response.retMsg))
    grouped: dict[str, list[Tier]] = {}
    for row in response.result.rows:
        max_lev = _num(row.maxLeverage, "maxLeverage")
        scale = 100.0 if _num(row.initialMargin, "initialMargin") * max_lev > 10 else 1.0
        tier = (
            _num(row.riskLimitValue, "riskLimitValue"),
            _num(row.maintenanceMargin, "maintenanceMargin") / scale,
            max_lev,
        )
        grouped.setdefault(row.symbol, []).append(tier)
    tiers: TierSnapshot = {}
    for symbol, rows in grouped.items():
        try:
            base, _quote = split_concatenated(symbol)
        except ValueError:
            continue
        tiers[symbol] = _product(base, rows)
    return TierPage(tiers, response.result.nextPageCursor or None)


# --- OKX -----------------------------------------------------------------------------------


class _OkxTier(msgspec.Struct):
    tier: str
    mmr: str
    maxLever: str
    instFamily: str = ""
    uly: str = ""
    instId: str = ""
    minSz: str = "0"


class _OkxResponse(msgspec.Struct):
    code: str
    msg: str = ""
    data: list[_OkxTier] = msgspec.field(default_factory=list)


_OKX: Final = msgspec.json.Decoder(_OkxResponse)


def parse_okx_position_tiers(body: bytes) -> TierPage:
    """Parse OKX ``/api/v5/public/position-tiers`` (SWAP, one instrument family).

    The product is the swap's instrument id (``BTC-USDT-SWAP``), the asset the family's base.

    Raises:
        ParseError: not the documented shape, or a non-zero ``code``.
    """
    try:
        response = _OKX.decode(body)
    except msgspec.DecodeError as exc:
        raise ParseError("okx position-tiers: %s" % exc) from None
    if response.code != "0":
        raise ParseError("okx position-tiers: code %s %s" % (response.code, response.msg))
    grouped: dict[str, list[tuple[int, Tier]]] = {}
    for row in response.data:
        family = row.instFamily or row.uly
        if not family:
            msg = "okx position-tiers: a tier without instFamily or uly"
            raise ParseError(msg)
        product = row.instId or "%s-SWAP" % family
        try:
            rank = int(row.tier)
        except ValueError:
            raise ParseError("okx position-tiers: tier %r is not a number" % row.tier) from None
        tier = (_num(row.minSz, "minSz"), _num(row.mmr, "mmr"), _num(row.maxLever, "maxLever"))
        grouped.setdefault(product, []).append((rank, tier))
    tiers = {
        product: _product(product.split("-")[0], [t for _, t in sorted(rows)])
        for product, rows in grouped.items()
    }
    return TierPage(tiers)


# --- Hyperliquid ---------------------------------------------------------------------------


class _HlTier(msgspec.Struct):
    lowerBound: Number
    maxLeverage: float


class _HlTable(msgspec.Struct):
    marginTiers: list[_HlTier]
    description: str = ""


class _HlAsset(msgspec.Struct):
    name: str
    maxLeverage: float
    marginTableId: int | None = None
    isDelisted: bool = False


class _HlMeta(msgspec.Struct):
    universe: list[_HlAsset]
    marginTables: list[tuple[int, _HlTable]] = msgspec.field(default_factory=list)


_HL: Final = msgspec.json.Decoder(_HlMeta)


def parse_hyperliquid_meta(body: bytes) -> TierPage:
    """Parse Hyperliquid ``info {"type":"meta"}``: max leverage per coin, with its table.

    The first tier is the coin's ``maxLeverage``; ``tiers`` is its margin table when the
    table is listed, else that single tier. Delisted coins are left out.

    Raises:
        ParseError: not the documented shape.
    """
    try:
        meta = _HL.decode(body)
    except msgspec.DecodeError as exc:
        raise ParseError("hyperliquid meta: %s" % exc) from None
    tables = dict(meta.marginTables)
    tiers: TierSnapshot = {}
    for coin in meta.universe:
        if coin.isDelisted:
            continue
        table = tables.get(coin.marginTableId) if coin.marginTableId is not None else None
        rows: list[Tier] = [(0.0, None, coin.maxLeverage)]
        if table is not None and table.marginTiers:
            rows = [
                (_num(t.lowerBound, "lowerBound"), None, t.maxLeverage) for t in table.marginTiers
            ]
            rows[0] = (rows[0][0], None, coin.maxLeverage)
        tiers[coin.name] = ProductTiers(coin.name.upper(), None, coin.maxLeverage, tuple(rows))
    return TierPage(tiers)


def _product(asset: str, rows: list[Tier]) -> ProductTiers:
    ordered = sorted(rows, key=lambda t: t[0])
    first = ordered[0]
    return ProductTiers(asset, first[1], first[2], tuple(ordered))


def _num(value: Number, name: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ParseError("%s: not a number: %r" % (name, value)) from None
    if not math.isfinite(number):
        raise ParseError("%s: not finite: %r" % (name, value))
    return number
