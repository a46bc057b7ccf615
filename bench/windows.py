"""Window aggregation throughput of liqmon's engine, on one core (run by hand).

Two subcommands:

``gen``
    Writes N synthetic liquidations as contract JSON lines: ``--symbols`` instruments
    (assets × venues, asset popularity Zipf-skewed, a few metal/equity assets among the
    crypto ones), both position sides, log-normal notionals, and event times advancing at
    ``--rate`` events per second of event time (Poisson). The same file feeds the peers.

``measure``
    Decodes the file (not timed), then feeds it to a fresh `Engine` in micro-batches of
    ``aggregate.micro_batch_max_events`` events, as the daemon's engine loop does, and
    times ``process`` over all batches plus the final ``flush``. Two modes:

    * ``engine``: the whole ``Engine.process``: lateness check, per-venue counters
      (`Metrics`), 1-second buckets at all four scope levels (instrument, asset, class,
      market) split by side, folding every closed second into every window
      (``aggregate.windows_s``, 10 s … 1 h), per-minute baselines, price state, the
      detectors, overlays and the alert book.
    * ``aggregation``: the same feeding, bucketing and window folding for all windows and
      levels, but the per-second step only folds the windows: no baselines, detectors or
      alert book (the `_WindowsOnly` engine below).

    After each run the bench checks the engine's 1-hour market window against a direct
    sum over the events, so a broken engine cannot post a figure.

Usage:
    python bench/windows.py gen OUT.jsonl [--n 2000000] [--symbols 1000] [--rate 1e6]
    python bench/windows.py measure IN.jsonl --mode engine --out result.json [--repeats 3]
    python bench/windows.py report RESULT.json ... --json OUT.json --md OUT.md

``bench/run_windows.sh`` runs everything (liqmon and the peers, pinned with ``taskset``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
from prometheus_client import CollectorRegistry

from monitor.aggregate.engine import Engine
from monitor.config import Settings
from monitor.events import Alert, AssetClass, Liquidation
from monitor.observability.metrics import Metrics

NS = 1_000_000_000
T0_NS = 1_767_225_600 * NS
VENUES = ("binance_usdm", "bybit", "okx", "bitget", "gate", "htx", "hyperliquid", "dydx")
_OTHER_CLASSES: dict[int, AssetClass] = {7: "metal", 13: "equity", 29: "metal", 41: "equity"}


def generate(n: int, symbols: int, rate: float, seed: int) -> list[Liquidation]:
    """Return `n` liquidations over `symbols` instruments, in event-time order.

    Each asset is listed on up to ``len(VENUES)`` venues; asset popularity follows a Zipf
    law (exponent 1.1), so a few assets take most events, as on real venues.
    """
    rng = np.random.default_rng(seed)
    n_assets = max(1, -(-symbols // len(VENUES)))
    inst_asset = np.arange(symbols) % n_assets
    inst_venue = np.arange(symbols) // n_assets
    weights = 1.0 / (inst_asset + 1.0) ** 1.1
    weights /= weights.sum()
    inst = rng.choice(symbols, size=n, p=weights)
    is_long = rng.random(n) < 0.55
    usd = np.round(5_000.0 * np.exp(rng.normal(0.0, 1.2, n)), 2)
    ts = T0_NS + np.cumsum(rng.exponential(NS / rate, n)).astype(np.int64)
    names = ["A%03d" % a for a in range(n_assets)]
    out = []
    for i, (k, lg, u, t) in enumerate(
        zip(inst.tolist(), is_long.tolist(), usd.tolist(), ts.tolist(), strict=True)
    ):
        a = int(inst_asset[k])
        asset = names[a]
        out.append(
            Liquidation(
                exchange=VENUES[int(inst_venue[k])],
                symbol="%s-USDT-PERP" % asset,
                venue_symbol="%sUSDT" % asset,
                asset=asset,
                asset_class=_OTHER_CLASSES.get(a, "crypto"),
                position_side="long" if lg else "short",
                price=1.0,
                qty=u,
                notional_usd=u,
                ts_event_ns=t,
                ts_recv_ns=t,
                event_id="w-%d" % i,
            )
        )
    return out


class _WindowsOnly(Engine):
    """The engine with the per-second step cut down to folding the windows."""

    def _step(
        self,
        second: int,
        sids: npt.NDArray[np.int64],
        vals: npt.NDArray[np.float64],
        insts: list[str],
        px: npt.NDArray[np.float64],
    ) -> list[Alert]:
        self._ensure_scopes()
        self.liq.close_second(second, sids, vals)
        return []


def _read(path: Path, batch: int) -> list[bytes]:
    """Return the file's lines in chunks of `batch` events, still encoded."""
    with path.open("rb") as f:
        lines = [line for line in f if line.strip()]
    return [b"".join(lines[i : i + batch]) for i in range(0, len(lines), batch)]


def _check(engine: Engine, chunks: list[bytes]) -> None:
    """Compare the engine's 1-hour market window with a direct sum over the events."""
    events = [e for chunk in chunks for e in _DECODER.decode_lines(chunk)]
    end_s = events[-1].ts_event_ns // NS
    want = sum(e.notional_usd for e in events if e.ts_event_ns // NS > end_s - 3600)
    got = sum(engine.window_usd("market", "market", 3600))
    if abs(got - want) > 1e-6 * max(want, 1.0):
        sys.exit("check failed: 1 h market window %.2f, events say %.2f" % (got, want))


_DECODER = msgspec.json.Decoder(Liquidation)


def _run_once(chunks: list[bytes], mode: str) -> tuple[float, float, int, int]:
    """Feed every chunk to a fresh engine; return (wall s, CPU s, events, alerts) in it.

    Each chunk is decoded just before the engine takes it, as in the daemon (so the events
    are as fresh in the CPU caches as there), but only ``process`` and ``flush`` are timed.
    """
    engine = (Engine if mode == "engine" else _WindowsOnly)(
        Settings(), Metrics(CollectorRegistry())
    )
    wall = cpu = 0.0
    events = alerts = 0
    for chunk in chunks:
        batch = _DECODER.decode_lines(chunk)
        events += len(batch)
        start, start_cpu = time.perf_counter(), time.process_time()
        alerts += len(engine.process(batch))
        wall += time.perf_counter() - start
        cpu += time.process_time() - start_cpu
    start, start_cpu = time.perf_counter(), time.process_time()
    alerts += len(engine.flush())
    wall += time.perf_counter() - start
    cpu += time.process_time() - start_cpu
    _check(engine, chunks)
    return wall, cpu, events, alerts


def measure(args: argparse.Namespace) -> None:
    """Time the engine over the file; write a JSON result."""
    batch = args.batch or Settings().aggregate.micro_batch_max_events
    chunks = _read(Path(args.input), batch)
    windows = list(Settings().aggregate.windows_s)
    _run_once(chunks[:4], args.mode)  # warm-up
    runs, cpu_runs = [], []
    for _ in range(args.repeats):
        wall, cpu, n, alerts = _run_once(chunks, args.mode)
        runs.append(n / wall)
        cpu_runs.append(n / cpu)
        print(
            "liqmon %s: %d events in %.3f s = %.0f events/s (CPU time: %.0f/s; %d alerts)"
            % (args.mode, n, wall, runs[-1], cpu_runs[-1], alerts),
            flush=True,
        )
    result: dict[str, Any] = {
        "tool": "liqmon",
        "input": args.label or Path(args.input).stem,
        "mode": args.mode,
        "events": n,
        "batch": batch,
        "windows_s": windows,
        "levels": ["instrument", "asset", "class", "market"],
        "events_per_s": runs,
        "median_events_per_s": statistics.median(runs),
        "events_per_cpu_s": cpu_runs,
        "python": platform.python_version(),
        "versions": {p: metadata.version(p) for p in ("polars", "numpy", "msgspec")},
        "cpu_affinity": sorted(os.sched_getaffinity(0)),
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


def gen(args: argparse.Namespace) -> None:
    """Write the synthetic events as contract JSON lines."""
    events = generate(args.n, args.symbols, args.rate, args.seed)
    encoder = msgspec.json.Encoder()
    with Path(args.out).open("wb") as f:
        for e in events:
            f.write(encoder.encode(e) + b"\n")
    span = (events[-1].ts_event_ns - events[0].ts_event_ns) / NS
    insts = len({(e.exchange, e.symbol) for e in events})
    print("wrote %d events, %d instruments, %.1f s of event time" % (len(events), insts, span))


def report(args: argparse.Namespace) -> None:
    """Pool the result files of every round into windows.json and windows.md."""
    results = [json.loads(Path(f).read_text()) for f in args.results]
    rows: dict[tuple[str, str, str], list[float]] = {}
    meta: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in results:
        key = (r["input"], r["tool"], r.get("mode") or r.get("kind", ""))
        rows.setdefault(key, []).extend(r["events_per_s"])
        meta[key] = r
    table = []
    for key, runs in sorted(rows.items()):
        r = meta[key]
        table.append(
            {
                "input": key[0],
                "tool": key[1],
                "what": key[2],
                "version": r.get("version") or r.get("versions"),
                "windows_s": r["windows_s"],
                "levels": r["levels"],
                "events": r["events"],
                "runs_events_per_s": runs,
                "median_events_per_s": statistics.median(runs),
            }
        )
    for row in table:
        peers = [
            t["median_events_per_s"]
            for t in table
            if t["input"] == row["input"] and t["tool"] != "liqmon"
        ]
        if row["tool"] == "liqmon" and peers:
            row["ratio_vs_faster_peer"] = row["median_events_per_s"] / max(peers)
    machine = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    out = {"machine": machine, "results": table, "commands": _lines(args.commands)}
    Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    md = [
        "# Window aggregation throughput (one core)",
        "",
        "Machine: %(platform)s, %(processor)s, %(cpus)s CPUs, %(date)s." % machine,
        "Every process pinned to one core (`taskset -c 0`); medians over the rounds.",
        "",
        "| input | tool | what | windows (s) | levels | events | events/s | × faster peer |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in table:
        ratio = row.get("ratio_vs_faster_peer")
        md.append(
            "| %s | %s | %s | %s | %s | %d | %.0f | %s |"
            % (
                row["input"],
                row["tool"],
                row["what"],
                ", ".join(map(str, row["windows_s"])),
                ", ".join(row["levels"]),
                row["events"],
                row["median_events_per_s"],
                "%.0f×" % ratio if ratio else "",
            )
        )
    md += ["", "Commands:", "", "```", *out["commands"], "```", ""]
    Path(args.md).write_text("\n".join(md))
    print("\n".join(md))


def _lines(path: str | None) -> list[str]:
    return Path(path).read_text().splitlines() if path else []


def main() -> None:
    """Parse the command line and run a subcommand."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("out")
    g.add_argument("--n", type=int, default=2_000_000)
    g.add_argument("--symbols", type=int, default=1_000)
    g.add_argument("--rate", type=float, default=1_000_000.0, help="events per event-time s")
    g.add_argument("--seed", type=int, default=7)
    m = sub.add_parser("measure")
    m.add_argument("input")
    m.add_argument("--mode", choices=("engine", "aggregation"), default="engine")
    m.add_argument("--batch", type=int, default=0, help="0: aggregate.micro_batch_max_events")
    m.add_argument("--repeats", type=int, default=3)
    m.add_argument("--out", required=True)
    m.add_argument("--label", default="", help="input name for the report")
    r = sub.add_parser("report")
    r.add_argument("results", nargs="+")
    r.add_argument("--json", required=True)
    r.add_argument("--md", required=True)
    r.add_argument("--commands")
    args = parser.parse_args()
    {"gen": gen, "measure": measure, "report": report}[args.cmd](args)


if __name__ == "__main__":
    main()
