"""Venue sources: one adapter module per venue, registered here explicitly."""

from __future__ import annotations

from typing import Final

from monitor.sources import (
    binance_coinm,
    binance_usdm,
    bitget,
    bitmex,
    bybit,
    deribit,
    dydx,
    gate,
    htx,
    hyperliquid,
    kraken_futures,
    okx,
)
from monitor.sources.base import VenueSpec

SOURCES: Final[dict[str, VenueSpec]] = {
    spec.name: spec
    for spec in (
        binance_usdm.SPEC,
        binance_coinm.SPEC,
        bybit.SPEC,
        okx.SPEC,
        bitmex.SPEC,
        deribit.SPEC,
        gate.SPEC,
        bitget.SPEC,
        htx.SPEC,
        kraken_futures.SPEC,
        dydx.SPEC,
        hyperliquid.SPEC,
    )
}
"""Venue id → spec. The id equals the module name."""


def get_source(name: str) -> VenueSpec:
    """Return the spec of venue `name`.

    Raises:
        KeyError: for an unknown venue id.
    """
    return SOURCES[name]
