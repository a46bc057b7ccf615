"""Write synthetic event files for tests."""

from __future__ import annotations

from pathlib import Path

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
