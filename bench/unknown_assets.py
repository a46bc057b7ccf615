"""RSS and throughput with 50,000 unknown assets against the same flow of known ones.

The live path of one Binance USDⓈ-M connection without its socket: wire frames
(``forceOrder`` liquidations and ``markPrice`` ticks) through `parse_frame` on a book with
the daemon's quota (`monitor.sources.fold`), the runner's fold step, `monitor.bounds`, and
the real `Engine` with its `Metrics`, in batches of about 16k events, in event time as fast
as it goes.

Two flows of the same size and shape, each in its own process (so RSS is its own):

- ``known``: every symbol is one of KNOWN catalogue instruments (the book lists them);
- ``unknown``: every symbol is one of UNKNOWN names the catalogue never listed (all of them
  appear), so the first ``sources.max_unknown_instruments`` are admitted and the rest fold
  into ``other``. ``--no-fold`` lifts the quota (the daemon before the fold).

Each flow runs ``--rounds`` times, interleaved, and the median is reported (the machine
may be shared). Throughput counts the parse-to-engine work only (frames are built outside
the clock). RSS is ``VmRSS`` at the end (and its maximum, sampled per batch).

Usage: python bench/unknown_assets.py [--events 600000] [--known 500] [--unknown 50000]
                                      [--rounds 3] [--no-fold]
                                      [--out bench/results/unknown_assets.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from prometheus_client import CollectorRegistry  # noqa: E402

from monitor import config  # noqa: E402
from monitor.aggregate.engine import Engine  # noqa: E402
from monitor.bounds import Bounds  # noqa: E402
from monitor.events import Event  # noqa: E402
from monitor.observability.metrics import Metrics  # noqa: E402
from monitor.sources import binance_usdm  # noqa: E402
from monitor.sources.base import InstrumentBook  # noqa: E402
from monitor.sources.fold import UnknownQuota, split_folded  # noqa: E402
from monitor.sources.frames import parse_frame  # noqa: E402

T0_MS = 1_767_225_600_000
BATCH_EVENTS = 16_384
RATE = 5_000  # events per simulated second
TICK_SHARE = 0.3
TARGET_MIB = 300.0
TARGET_SLOWDOWN = 0.20


def rss_mib() -> float:
    """Return this process's resident set size in MiB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def frames(names: list[str], first: int, n: int, rng: np.random.Generator) -> list[bytes]:
    """Return `n` wire frames from event number `first`: names in turn, a share of ticks."""
    out = []
    is_tick = rng.random(n) < TICK_SHARE
    price = 10.0 + rng.random(n)
    for k in range(n):
        i = first + k
        name = names[i % len(names)]
        ms = T0_MS + i * 1000 // RATE
        if is_tick[k]:
            row = '{"e":"markPriceUpdate","E":%d,"s":"%s","p":"%.4f","r":"0.0001"}'
            out.append((row % (ms, name, price[k])).encode())
        else:
            order = (
                '{"stream":"!forceOrder@arr","data":{"e":"forceOrder","E":%d,"o":{"s":"%s",'
                '"S":"%s","o":"LIMIT","f":"IOC","q":"%d","p":"%.4f","ap":"%.4f","X":"FILLED",'
                '"l":"1","z":"%d","T":%d}}}'
            )
            side = "SELL" if i % 2 else "BUY"
            q = 1 + i % 97
            out.append((order % (ms, name, side, q, price[k], price[k], q, ms)).encode())
    return out


def run(flow: str, events: int, known: int, unknown: int, fold: bool) -> dict[str, object]:
    """Feed one flow through parse → fold → bounds → engine; return its figures."""
    settings = config.load(None, env={})
    metrics = Metrics(CollectorRegistry(), settings.assets.watch, settings.aggregate.windows_s)
    engine = Engine(settings, metrics)
    listed = [binance_usdm.fallback("K%dUSDT" % i, {}) for i in range(known)]
    quota = UnknownQuota(settings.sources.max_unknown_instruments, settings.assets.watch)
    book = InstrumentBook(
        binance_usdm.NAME,
        [i for i in listed if i is not None],
        settings.assets.classes,
        binance_usdm.fallback,
        quota if fold else None,
    )
    names = (
        ["K%dUSDT" % i for i in range(known)]
        if flow == "known"
        else ["U%dUSDT" % i for i in range(unknown)]
    )
    streams = {s.kind: s for s in binance_usdm.SPEC.streams}
    parsers = {kind: s.make_parser(book) for kind, s in streams.items()}
    bounds = Bounds(settings.sources.max_clock_skew_s)
    rng = np.random.default_rng(7)
    busy = 0.0
    taken = folded = rejected = 0
    max_rss = rss_mib()
    for first in range(0, events, BATCH_EVENTS):
        batch_frames = frames(names, first, min(BATCH_EVENTS, events - first), rng)
        started = time.perf_counter()
        batch: list[Event] = []
        for raw in batch_frames:
            kind = "prices" if raw.startswith(b'{"e":"mark') else "liquidations"
            ts_recv = T0_MS * 1_000_000 + (first + len(batch)) * 1_000_000_000 // RATE
            parsed = parse_frame(binance_usdm.NAME, streams[kind], parsers[kind], raw, ts_recv)
            if book.folding:
                parsed, liqs, ticks = split_folded(parsed)
                folded += liqs + ticks
            batch += parsed
        kept, out = bounds.check(batch)
        rejected += len(out)
        engine.process(kept)
        metrics.observe_batch(kept, 0.0)
        busy += time.perf_counter() - started
        taken += len(kept)
        max_rss = max(max_rss, rss_mib())
    engine.flush()
    return {
        "flow": flow,
        "fold": fold,
        "frames": events,
        "events_to_engine": taken,
        "folded": folded,
        "rejected": rejected,
        "distinct_names": len(names),
        "admitted_unknown": quota.admitted if fold else None,
        "max_unknown_instruments": settings.sources.max_unknown_instruments,
        "scopes": len(engine.scopes),
        "busy_s": busy,
        "frames_per_s": events / busy,
        "rss_end_mib": rss_mib(),
        "rss_max_mib": max_rss,
    }


def _median_run(runs: list[dict[str, object]]) -> dict[str, object]:
    """Return the run of median throughput (its RSS and counts come with it)."""
    ordered = sorted(runs, key=lambda r: float(r["frames_per_s"]))  # type: ignore[arg-type]
    return ordered[len(ordered) // 2]


def command_line() -> str:
    """Return how this benchmark was started, relative to the repository (for the report)."""
    return " ".join([".venv/bin/python", "bench/%s.py" % Path(__file__).stem, *sys.argv[1:]])


def main() -> None:
    """Run both flows in child processes, print and write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=600_000, help="frames per flow")
    parser.add_argument("--known", type=int, default=500, help="catalogue instruments")
    parser.add_argument("--unknown", type=int, default=50_000, help="unlisted names")
    parser.add_argument("--rounds", type=int, default=3, help="runs per flow (median)")
    parser.add_argument("--no-fold", action="store_true", help="no quota (before the fold)")
    parser.add_argument("--flow", choices=("known", "unknown"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "unknown_assets.json"
    )
    args = parser.parse_args()
    if args.flow:  # child: one flow, JSON on stdout
        print(json.dumps(run(args.flow, args.events, args.known, args.unknown, not args.no_fold)))
        return
    runs: dict[str, list[dict[str, object]]] = {"known": [], "unknown": []}
    for _ in range(args.rounds):  # interleaved, so a busy neighbour hits both flows alike
        for flow in ("known", "unknown"):
            child = [sys.executable, __file__, "--flow", flow, "--events", str(args.events),
                     "--known", str(args.known), "--unknown", str(args.unknown),
                     *(["--no-fold"] if args.no_fold else [])]  # fmt: skip
            done = subprocess.run(child, check=True, capture_output=True, text=True)  # noqa: S603
            runs[flow].append(json.loads(done.stdout.splitlines()[-1]))
            print(json.dumps(runs[flow][-1]))
    flows = {flow: _median_run(r) for flow, r in runs.items()}
    k, u = flows["known"], flows["unknown"]
    slowdown = 1.0 - float(u["frames_per_s"]) / float(k["frames_per_s"])  # type: ignore[arg-type]
    result = {
        "rounds": args.rounds,
        "runs": runs,
        "flows": flows,
        "slowdown_vs_known": slowdown,
        "target_slowdown": TARGET_SLOWDOWN,
        "target_rss_mib": TARGET_MIB,
        "met": slowdown <= TARGET_SLOWDOWN and float(u["rss_max_mib"]) < TARGET_MIB,
        "command": command_line(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k not in ("runs", "flows")}, indent=2))
    for flow, r in flows.items():
        print("%-8s median %8.0f frames/s  RSS max %6.1f MiB  scopes %d" % (
            flow, r["frames_per_s"], r["rss_max_mib"], r["scopes"]))  # fmt: skip


if __name__ == "__main__":
    main()
