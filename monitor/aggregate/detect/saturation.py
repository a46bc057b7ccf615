"""Saturation of sampled liquidation streams.

A ``sampled`` venue (Binance: at most one liquidation per symbol per 1000 ms) cannot show
more than one event a second per symbol, so when a symbol has an event in nearly every
second its true rate is higher than seen. Per sampled instrument, the share of the last
``window_s`` seconds that carried ≥ 1 event is its saturation; an asset's saturation is
that of its most saturated sampled instrument.

Which instruments are sampled is learnt from the events (``Liquidation.completeness``),
once per new instrument, so the feed path pays nothing per event.

Seconds while an instrument's TradFi market settles after a reopening are not counted
(`SampledSeconds.close`): the reopening gap saturates the stream on schedule, and its
signals are held for that time anyway; counting them would let the reopening outlast it.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.aggregate.detect.detectors import Signal
from monitor.aggregate.windows.columns import Columns, LiquidationCoder
from monitor.config.signals import SaturationSettings
from monitor.events import EvidenceValue, Liquidation


@dataclass(frozen=True, slots=True)
class Saturation:
    """One asset's saturation at one second."""

    asset: str
    instrument: str  # its most saturated sampled instrument
    seconds: int  # seconds of the window with ≥ 1 event on that instrument
    window_s: int

    @property
    def share(self) -> float:
        """Return the share of the window's seconds that carried an event (0–1)."""
        return self.seconds / self.window_s

    def evidence(self) -> dict[str, EvidenceValue]:
        """Return the evidence entries a cascade signal on the asset carries."""
        return {
            "sampled_share": round(self.share, 4),
            "sampled_seconds": self.seconds,
            "sampled_instrument": self.instrument,
        }


def detect_saturation(
    sat: Saturation,
    long_usd: float,
    short_usd: float,
    floor_usd: float,
    min_side_share: float,
    cfg: SaturationSettings,
) -> Signal | None:
    """Return a warning ``cascade`` signal for a saturated asset, else None.

    Hot when the share ≥ ``min_share``, the seen USD over the window ≥ ``floor_fraction`` ×
    `floor_usd` (the seen USD is a lower bound) and one side has ≥ `min_side_share` of it.
    """
    total = long_usd + short_usd
    if sat.share < cfg.min_share or total <= 0 or total < cfg.floor_fraction * floor_usd:
        return None
    side_share = max(long_usd, short_usd) / total
    if side_share < min_side_share:
        return None
    evidence: dict[str, EvidenceValue] = {
        "window_s": sat.window_s,
        "liquidated_usd": round(total, 2),
        "long_usd": round(long_usd, 2),
        "short_usd": round(short_usd, 2),
        "side_share": round(side_share, 4),
        "floor_usd": floor_usd,
        "saturated": "sampled stream: seen USD is a lower bound",
        **sat.evidence(),
    }
    return Signal(
        kind="cascade",
        scope=sat.asset,
        severity="warning",
        score=total / floor_usd,
        summary="%s: sampled stream saturated, liquidations in %d of %d s on %s ($%.0f seen, "
        "%.0f%% %s)"
        % (
            sat.asset,
            sat.seconds,
            sat.window_s,
            sat.instrument,
            total,
            100 * side_share,
            "longs" if long_usd >= short_usd else "shorts",
        ),
        evidence=evidence,
    )


def with_saturation(signals: Sequence[Signal], found: dict[str, Saturation]) -> list[Signal]:
    """Return `signals` with saturation evidence added to cascade signals of `found` assets."""
    out: list[Signal] = []
    for sig in signals:
        sat = found.get(sig.scope) if sig.kind == "cascade" else None
        if sat is None or "sampled_share" in sig.evidence:
            out.append(sig)
        else:
            out.append(dataclasses.replace(sig, evidence={**sig.evidence, **sat.evidence()}))
    return out


class SampledSeconds:
    """Per sampled instrument, the seconds of the window that carried a liquidation."""

    def __init__(self, window_s: int) -> None:
        self.window_s = window_s
        self.sampled: npt.NDArray[np.bool_] = np.zeros(0, dtype=bool)  # by instrument sid
        self.asset_of: dict[int, str] = {}  # sampled instrument sid → asset
        self.hits: dict[int, deque[int]] = {}  # sampled instrument sid → seconds with events
        self._known = 0  # coder codes already checked

    def learn(self, coder: LiquidationCoder, cols: Columns, events: Sequence[Liquidation]) -> None:
        """Note which new instruments of a batch are sampled (called after coding a batch).

        Codes added by this batch all occur in it; each is looked at once, ever.
        """
        if self._known >= len(coder):
            return
        for code in range(self._known, len(coder)):
            where = np.flatnonzero(cols.code == code)
            if where.size and events[int(where[0])].completeness == "sampled":
                self.mark(int(coder.sids[code, 0]), coder.keys[code][2])
        self._known = len(coder)

    def mark(self, sid: int, asset: str) -> None:
        """Note one sampled instrument by its scope id (`learn`; the Kafka cross stage)."""
        if sid >= self.sampled.size:
            self.sampled = np.concatenate([self.sampled, np.zeros(sid + 1, dtype=bool)])
        self.sampled[sid] = True
        self.asset_of[sid] = asset

    def close(
        self,
        second: int,
        sids: npt.NDArray[np.int64],
        settling: Callable[[int], bool] | None = None,
    ) -> None:
        """Fold one closed second: `sids` are the scope ids with liquidations in it.

        `settling(sid)` tells an instrument whose market is settling at `second` (its second
        is not counted); None when no market is.
        """
        if self.asset_of and sids.size:
            inside = sids[sids < self.sampled.size]
            for sid in inside[self.sampled[inside]].tolist():
                if settling is None or not settling(sid):
                    self.hits.setdefault(sid, deque()).append(second)
        for sid, seconds in list(self.hits.items()):
            while seconds and seconds[0] <= second - self.window_s:
                seconds.popleft()
            if not seconds:
                del self.hits[sid]

    def by_asset(self, keys: Sequence[str]) -> dict[str, Saturation]:
        """Return each asset's most saturated sampled instrument (`keys`: scope keys by id)."""
        out: dict[str, Saturation] = {}
        for sid, seconds in self.hits.items():
            asset = self.asset_of[sid]
            best = out.get(asset)
            if best is None or len(seconds) > best.seconds:
                out[asset] = Saturation(asset, keys[sid], len(seconds), self.window_s)
        return out
