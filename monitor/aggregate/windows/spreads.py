"""Quote spread arithmetic shared by the window summaries and the liquidity detector.

A quote's spread in basis points of its mid, and the log the spread baselines take. Kept
below both users: `windows.partial` (stage 1 of the Kafka path sums spreads per second)
and `detect.liquidity` (the baselines and the liquidity-stress rule).
"""

from __future__ import annotations

import math


def spread_bps(bid: float | None, ask: float | None) -> float | None:
    """Return (ask − bid) / mid in basis points, or None without a sane two-sided quote."""
    if bid is None or ask is None or not 0 < bid <= ask:
        return None
    return (ask - bid) / ((ask + bid) / 2.0) * 1e4


def log_spread(bps: float) -> float:
    """Return the log of a spread in bps as the baselines take it (floored at 1e-6 bps)."""
    return math.log(max(bps, 1e-6))
