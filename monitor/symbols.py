"""Normalized symbols: ``BASE-QUOTE-PERP`` (e.g. ``BTC-USDT-PERP``), and asset classes.

Which asset class an asset belongs to is data (the ``assets.classes`` config table), not
code: `classify` only looks it up and falls back to ``crypto``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from monitor.events import AssetClass

QUOTES: Final[tuple[str, ...]] = ("USDT", "USDC", "FDUSD", "BUSD", "USD")
"""Quote currencies recognised at the end of a concatenated venue symbol, longest first."""


def split_concatenated(venue_symbol: str) -> tuple[str, str]:
    """Split a concatenated symbol such as ``NEARUSDT`` into ``("NEAR", "USDT")``.

    Raises:
        ValueError: when no known quote currency ends the symbol.
    """
    upper = venue_symbol.upper()
    for quote in QUOTES:
        if upper.endswith(quote) and len(upper) > len(quote):
            return upper[: -len(quote)], quote
    raise ValueError("cannot split symbol %r: no known quote currency at its end" % venue_symbol)


def perp_symbol(base: str, quote: str) -> str:
    """Return the normalized perpetual symbol, e.g. ``perp_symbol("XAU", "USDT")``."""
    return "%s-%s-PERP" % (base, quote)


def classify(asset: str, classes: Mapping[str, AssetClass]) -> AssetClass:
    """Return the asset class of `asset` from the configured table; ``crypto`` if absent."""
    return classes.get(asset, "crypto")
