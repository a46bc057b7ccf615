"""Write synthetic event files for tests."""

from __future__ import annotations

from pathlib import Path

from monitor.events import Liquidation, Tick
from monitor.io.jsonl import EventWriter
from monitor.synth import Burst, liquidations

T0_NS = 1_767_225_600 * 1_000_000_000  # 2026-01-01T00:00:00Z


def write_burst_file(path: Path, *, with_burst: bool = True, seed: int = 1) -> Path:
    """Two hours of calm background, and a BTC long burst at 01:30 when asked."""
    bursts = (Burst("BTC", start_s=5400, duration_s=600, rate_per_s=20.0),) if with_burst else ()
    with EventWriter(path) as writer:
        writer.write_all(
            liquidations(start_ns=T0_NS, duration_s=7200, rate_per_s=2.0, seed=seed, bursts=bursts)
        )
    return path


def write_saturated_file(path: Path) -> Path:
    """An hour of BTC on three venues; from minute 40, Binance's sampled stream saturates.

    Ticks every 5 s with a 1 bps quote (bybit, okx), an exact liquidation every 30 s on
    bybit, and from 40:00 one sampled $25,000 long liquidation on Binance in each of 120
    seconds: under the burst floor, but a saturated stream (the saturation rule's cascade).
    """
    events: list[Liquidation | Tick] = []
    for s in range(0, 3600, 5):
        for venue in ("bybit", "okx"):
            ts = T0_NS + s * 1_000_000_000 + 100_000_000
            events.append(
                Tick(
                    exchange=venue,
                    symbol="BTC-USDT-PERP",
                    venue_symbol="BTCUSDT",
                    asset="BTC",
                    asset_class="crypto",
                    price=90_000.0,
                    bid=89_995.5,
                    ask=90_004.5,
                    ts_event_ns=ts,
                    ts_recv_ns=ts,
                )
            )
    sampled = [(s, "binance_usdm", "sampled", 25_000.0) for s in range(2400, 2520)]
    exact = [(s, "bybit", "exact", 3_000.0) for s in range(15, 3600, 30)]
    for s, venue, completeness, usd in sampled + exact:
        ts = T0_NS + s * 1_000_000_000 + 500_000_000
        events.append(
            Liquidation(
                exchange=venue,
                symbol="BTC-USDT-PERP",
                venue_symbol="BTCUSDT",
                asset="BTC",
                asset_class="crypto",
                position_side="long",
                price=90_000.0,
                qty=usd / 9e4,
                notional_usd=usd,
                ts_event_ns=ts,
                ts_recv_ns=ts,
                completeness=completeness,
                event_id="%s-%d" % (venue, s),
            )
        )
    with EventWriter(path) as writer:
        writer.write_all(sorted(events, key=lambda e: e.ts_event_ns))
    return path


def oi_unwind_ticks(start_s: int) -> list[Tick]:
    """BTC on two venues, one tick per 10 s from `start_s` (epoch s), for two hours; from
    minute 60 its open interest falls 8% and its price 3% over 20 minutes."""
    out = []
    for i in range(0, 2 * 3600, 10):
        fall = min(max(i - 3600, 0) / 1200, 1.0)
        price = 50_000.0 * (1 - 0.03 * fall)
        ts = (start_s + i) * 1_000_000_000
        for venue, base in (("bybit", 100.0), ("okx", 60.0)):
            out.append(
                Tick(
                    exchange=venue,
                    symbol="BTC-USDT-PERP",
                    venue_symbol="BTCUSDT",
                    asset="BTC",
                    asset_class="crypto",
                    price=price,
                    open_interest_usd=base * (1 - 0.08 * fall) * price,
                    ts_event_ns=ts,
                    ts_recv_ns=ts,
                )
            )
    return out
