"""The simulated market: assets, their instruments per venue, and calm-state parameters.

Rates and sizes (documented choices, calibrated loosely on the shared data):

- Calm liquidations, all venues together: BTC $0.5M per hour (the median hour of the
  CoinGlass BTC series in ``shared/data/coinglass_btc`` is $0.52M), ETH $0.3M, SOL $0.12M,
  XRP $80k; the TradFi perps are thin: XAU $30k, XAG $40k, equity perps $8–10k per hour.
  Notionals are log-normal (σ = 1.3 in log USD) with medians of $0.6k–3k. Calm
  liquidations cluster mildly (Hawkes, branching 0.3) and lean to the side the last 5
  minutes moved against.
- Price levels are those of early February 2026; daily volatility 1.5–5 % (random walks in
  log price at the tick step); spreads 0.5–8 bps in calm; open interest per venue from the
  asset's total split by venue share, falling by what is liquidated.
- Venues with a complete liquidation tape only (Bybit ``allLiquidation``, OKX,
  Hyperliquid), so every simulated liquidation is ``exact``; Binance's 1/s/symbol sampling
  is not modelled. Hyperliquid ticks carry no bid/ask (its feeds have none).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from monitor.events import AssetClass
from monitor.symbols import classify, perp_symbol


@dataclass(frozen=True, slots=True)
class AssetSpec:
    """Calm-state parameters of one simulated asset.

    Attributes:
        asset: asset code, e.g. ``BTC``.
        price: starting price, USD.
        daily_vol: standard deviation of the daily log return.
        spread_bps: calm bid/ask spread, basis points of the price.
        calm_usd_per_h: calm liquidations, all venues, USD per hour.
        mark_median_usd: median calm liquidation notional, USD.
        venues: venue ids that list the asset's perpetual.
        decimals: price decimals (the tick size).
        oi_usd: open interest over all venues, USD.
    """

    asset: str
    price: float
    daily_vol: float
    spread_bps: float
    calm_usd_per_h: float
    mark_median_usd: float
    venues: tuple[str, ...]
    decimals: int
    oi_usd: float


CRYPTO3: Final = ("bybit", "okx", "hyperliquid")
CRYPTO2: Final = ("bybit", "okx")
TRADFI: Final = ("bybit", "hyperliquid")

ASSETS: Final[dict[str, AssetSpec]] = {
    s.asset: s
    for s in (
        AssetSpec("BTC", 73_200.0, 0.025, 0.5, 500_000.0, 3_000.0, CRYPTO3, 1, 20e9),
        AssetSpec("ETH", 2_150.0, 0.035, 0.8, 300_000.0, 2_000.0, CRYPTO3, 2, 10e9),
        AssetSpec("SOL", 98.0, 0.045, 2.0, 120_000.0, 1_000.0, CRYPTO2, 3, 2.5e9),
        AssetSpec("XRP", 1.55, 0.045, 3.0, 80_000.0, 800.0, CRYPTO2, 4, 1.5e9),
        AssetSpec("XAU", 4_965.0, 0.02, 2.0, 30_000.0, 1_500.0, TRADFI, 2, 0.6e9),
        AssetSpec("XAG", 88.2, 0.04, 5.0, 40_000.0, 1_000.0, TRADFI, 3, 0.5e9),
        AssetSpec("NVDA", 180.0, 0.025, 4.0, 8_000.0, 600.0, TRADFI, 2, 0.1e9),
        AssetSpec("TSLA", 405.0, 0.035, 4.0, 10_000.0, 600.0, TRADFI, 2, 0.12e9),
        AssetSpec("MSTR", 135.0, 0.05, 8.0, 8_000.0, 600.0, TRADFI, 2, 0.08e9),
    )
}
"""Every asset the simulator knows, in output order."""

VENUE_SHARE: Final[dict[str, float]] = {"bybit": 0.45, "okx": 0.30, "hyperliquid": 0.25}
VENUE_TICK_OFFSET_MS: Final[dict[str, int]] = {"bybit": 100, "okx": 300, "hyperliquid": 500}
VENUE_BASIS_BPS: Final[dict[str, float]] = {"bybit": 0.0, "okx": 0.4, "hyperliquid": -0.6}
_HIP3_TICKERS: Final[dict[str, str]] = {"XAU": "GOLD", "XAG": "SILVER"}


@dataclass(frozen=True, slots=True)
class Instrument:
    """One perpetual of one asset on one venue, as the contract names it.

    Attributes:
        exchange: venue id.
        symbol: normalized symbol, e.g. ``BTC-USDT-PERP``.
        venue_symbol: as the venue spells it, e.g. ``BTCUSDT``, ``xyz:GOLD``.
        asset: asset code.
        asset_class: from the configured asset-class table.
        share: this venue's share of the asset's liquidations and open interest, 0..1.
        has_book: whether its ticks carry bid/ask.
    """

    exchange: str
    symbol: str
    venue_symbol: str
    asset: str
    asset_class: AssetClass
    share: float
    has_book: bool


def instruments_of(spec: AssetSpec, classes: Mapping[str, AssetClass]) -> list[Instrument]:
    """Return the instruments of `spec`, one per venue, venue shares normalised to 1."""
    asset_class = classify(spec.asset, classes)
    total = sum(VENUE_SHARE[v] for v in spec.venues)
    out = []
    for venue in spec.venues:
        if venue == "bybit":
            venue_symbol, symbol = spec.asset + "USDT", perp_symbol(spec.asset, "USDT")
        elif venue == "okx":
            venue_symbol, symbol = "%s-USDT-SWAP" % spec.asset, perp_symbol(spec.asset, "USDT")
        else:  # hyperliquid: core coins by name, TradFi on the HIP-3 "xyz" dex
            tradfi = asset_class != "crypto"
            ticker = _HIP3_TICKERS.get(spec.asset, spec.asset)
            venue_symbol = "xyz:%s" % ticker if tradfi else spec.asset
            symbol = perp_symbol(spec.asset, "USD")
        out.append(
            Instrument(
                exchange=venue,
                symbol=symbol,
                venue_symbol=venue_symbol,
                asset=spec.asset,
                asset_class=asset_class,
                share=VENUE_SHARE[venue] / total,
                has_book=venue != "hyperliquid",
            )
        )
    return out
