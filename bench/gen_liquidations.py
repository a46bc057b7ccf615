"""Write N synthetic liquidation events (contract JSON lines) for replay benchmarks.

Usage: python bench/gen_liquidations.py OUT.jsonl [N] [RATE_PER_S]
"""

from __future__ import annotations

import sys
from pathlib import Path

from monitor.io.jsonl import EventWriter
from monitor.synth import Burst, liquidations

T0_NS = 1_767_225_600 * 1_000_000_000


def main() -> None:
    """Write the file named on the command line."""
    out = Path(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    rate = float(sys.argv[3]) if len(sys.argv) > 3 else 200.0
    bursts = (Burst("BTC", start_s=n / rate / 2, duration_s=600, rate_per_s=rate),)
    stream = liquidations(start_ns=T0_NS, duration_s=n / rate, rate_per_s=rate, bursts=bursts)
    with EventWriter(out) as writer:
        for i, event in enumerate(stream):
            if i >= n:
                break
            writer.write(event)
    print("wrote %d events to %s" % (writer.count, out))


if __name__ == "__main__":
    main()
