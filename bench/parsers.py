"""Parse throughput of every liqmon venue liquidation parser, on one core (run by hand).

Each case is one real liquidation frame from ``tests/fixtures/payloads/<venue>/`` parsed by
the venue's liquidation stream parser, built on an `InstrumentBook` loaded from the venue's
REST instrument fixture (so symbol look-ups hit the catalogue, not the fallback). Before
timing, every case is checked to parse to at least one `Liquidation`, and the same count
again after timing.

Loops (the ``loop`` field):

* ``plain``: ``parser.parse(frame, ts)`` in a tight ``for`` loop, no event loop. HTX is
  measured twice: ``gzip`` (the wire bytes through ``runner.parse_frame``, i.e. the
  stream's gzip decode + parse) and ``text`` (the decoded JSON straight to the parser).
* ``async``: Binance USDⓈ-M only, the fair counterpart of the cryptofeed peer
  (``bench/peer_cryptofeed.py``): inside one coroutine on one asyncio event loop,
  ``sink(runner.parse_frame(venue, stream, parser, frame, ts))`` with a no-op sink, i.e.
  the runner's decode → parse → deliver path as plain function calls.

Each measurement is calibrated to about ``--min-time`` seconds, repeated ``--repeats``
times (≥3), and reported as the median µs/frame and frames/s.

Usage:
    python bench/parsers.py measure --out liqmon.json [--binance-only] [--repeats 5]
    python bench/parsers.py report --liqmon ALL.json [BINANCE_ROUND.json ...]
        --peer PEER.json [...] [--control PY313.json ...] [--commands cmds.txt]
        --json OUT.json --md OUT.md

Several files per side are interleaved rounds of the same cases; their runs are pooled.

``bench/run_parsers.sh`` runs the whole thing (both sides, pinned with ``taskset -c 0``).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gzip
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import monitor
from monitor.events import Event, Liquidation
from monitor.sources import SOURCES
from monitor.sources.base import FrameParser, InstrumentBook, StreamSpec, VenueSpec
from monitor.sources.frames import parse_frame

ROOT = Path(__file__).resolve().parents[1]
PAYLOADS = ROOT / "tests" / "fixtures" / "payloads"
TS_RECV_NS = 1_767_225_600_000_000_000
INSTRUMENT_MARKERS = ("instruments", "exchangeInfo", "contracts", "rest")

ParseFn = Callable[[Any, int], list[Event]]


@dataclass(frozen=True)
class Case:
    """One benchmark case: a venue's liquidation stream on one fixture frame."""

    venue: str
    stream: str
    fixture: str
    mode: str = "text"  # "text" or "gzip" (HTX wire bytes)


CASES: tuple[Case, ...] = (
    Case("binance_usdm", "liquidations", "forceOrder_raw.json"),
    Case("binance_usdm", "liquidations", "forceOrder_combined.json"),
    Case("binance_coinm", "liquidations", "forceOrder_combined.json"),
    Case("binance_coinm", "liquidations", "forceOrder_dated.json"),
    Case("bybit", "liquidations_linear", "allLiquidation_linear.json"),
    Case("bybit", "liquidations_inverse", "allLiquidation_inverse.json"),
    Case("okx", "liquidations", "liquidation-orders_swap.json"),
    Case("okx", "liquidations", "liquidation-orders_mixed.json"),
    Case("bitmex", "liquidations", "liquidation_insert_linear.json"),
    Case("bitmex", "liquidations", "liquidation_insert_xbtusd.json"),
    Case("deribit", "liquidations", "trades_liquidation_taker.json"),
    Case("deribit", "liquidations", "trades_liquidation_both.json"),
    Case("gate", "liquidations", "update_ms_string_size.json"),
    Case("gate", "liquidations", "update_legacy_seconds.json"),
    Case("bitget", "liquidations", "liquidation_update.json"),
    Case("bitget", "liquidations", "liquidation_snapshot_multi.json"),
    Case("htx", "liquidations", "liquidation_orders_notify.json", "gzip"),
    Case("htx", "liquidations", "liquidation_orders_notify.json", "text"),
    Case("kraken_futures", "liquidations", "trade_liquidation_linear.json"),
    Case("kraken_futures", "liquidations", "trade_liquidation_inverse.json"),
    Case("dydx", "liquidations", "v4_trades_liquidated.json"),
)
"""Each venue's main real liquidation frames (hyperliquid has no liquidation stream)."""

ASYNC_CASES: tuple[Case, ...] = CASES[:2]
"""The Binance USDⓈ-M frames also timed the way the cryptofeed peer is driven."""


# --------------------------------------------------------------------------- measuring


def load_book(spec: VenueSpec) -> InstrumentBook:
    """Return `spec`'s instrument book built from its REST instrument fixtures."""
    instruments = []
    for path in sorted((PAYLOADS / spec.name).iterdir()):
        if spec.parse_instruments is not None and any(m in path.name for m in INSTRUMENT_MARKERS):
            instruments += spec.parse_instruments(path.read_bytes(), {})
    return InstrumentBook(spec.name, instruments, {}, spec.fallback)


def stream_of(spec: VenueSpec, name: str) -> StreamSpec:
    """Return the stream `name` of `spec`, which must carry liquidations."""
    for stream in spec.streams:
        if stream.name == name and stream.kind == "liquidations":
            return stream
    raise KeyError("%s has no liquidation stream %r" % (spec.name, name))


def prepare(case: Case) -> tuple[ParseFn, bytes | str, int]:
    """Return the callable to time, its frame and the number of liquidations per call."""
    spec = SOURCES[case.venue]
    stream = stream_of(spec, case.stream)
    parser: FrameParser = stream.make_parser(load_book(spec))
    text = (PAYLOADS / case.venue / case.fixture).read_text(encoding="utf-8").strip()
    frame: bytes | str
    if case.mode == "gzip":
        frame = gzip.compress(text.encode(), mtime=0)
        fn: ParseFn = functools.partial(parse_frame, case.venue, stream, parser)
    else:
        frame = text
        fn = parser.parse
    liqs = count_liquidations(fn(frame, TS_RECV_NS))
    if liqs < 1:
        raise ValueError("%s/%s: no liquidation parsed" % (case.venue, case.fixture))
    return fn, frame, liqs


def count_liquidations(events: Sequence[Event]) -> int:
    """Return how many of `events` are liquidations."""
    return sum(isinstance(e, Liquidation) for e in events)


def time_plain(fn: ParseFn, frame: bytes | str, n: int) -> float:
    """Return the seconds taken by `n` calls ``fn(frame, ts)`` in a tight loop."""
    ts = TS_RECV_NS
    started = time.perf_counter_ns()
    for _ in range(n):
        fn(frame, ts)
    return (time.perf_counter_ns() - started) / 1e9


def _noop_sink(events: list[Event]) -> None:
    """Stand in for the runner's sink (cryptofeed's side gets a no-op async callback)."""


async def _async_loop(
    venue: str, stream: StreamSpec, parser: FrameParser, frame: bytes | str, n: int
) -> float:
    ts = TS_RECV_NS
    sink = _noop_sink
    started = time.perf_counter_ns()
    for _ in range(n):
        sink(parse_frame(venue, stream, parser, frame, ts))
    return (time.perf_counter_ns() - started) / 1e9


def calibrate(run: Callable[[int], float], min_time: float) -> int:
    """Return a call count whose run takes about `min_time` seconds."""
    n = 100
    while True:
        took = run(n)
        if took >= min_time / 4:
            return max(n, int(n * min_time / took))
        n *= 4


def measure(run: Callable[[int], float], repeats: int, min_time: float) -> dict[str, Any]:
    """Time `run` `repeats` times; return the runs and their median, per frame."""
    n = calibrate(run, min_time)
    runs_us = [run(n) / n * 1e6 for _ in range(repeats)]
    median = statistics.median(runs_us)
    return {
        "calls_per_run": n,
        "runs_us": [round(r, 4) for r in runs_us],
        "median_us": round(median, 4),
        "frames_per_s": round(1e6 / median),
    }


def bench_case(case: Case, repeats: int, min_time: float) -> dict[str, Any]:
    """Measure one case in the plain loop."""
    fn, frame, liqs = prepare(case)
    result = measure(functools.partial(time_plain, fn, frame), repeats, min_time)
    after = count_liquidations(fn(frame, TS_RECV_NS))
    if after != liqs:
        raise ValueError(
            "%s/%s: %d liquidations after timing, %d before" % (*_id(case), after, liqs)
        )
    return _row(case, "plain", frame, liqs) | result


def bench_async_case(
    case: Case, loop: asyncio.AbstractEventLoop, repeats: int, min_time: float
) -> dict[str, Any]:
    """Measure one case through ``parse_frame`` → no-op sink inside a coroutine on `loop`."""
    spec = SOURCES[case.venue]
    stream = stream_of(spec, case.stream)
    parser = stream.make_parser(load_book(spec))
    frame = (PAYLOADS / case.venue / case.fixture).read_text(encoding="utf-8").strip()
    liqs = count_liquidations(parse_frame(case.venue, stream, parser, frame, TS_RECV_NS))

    def run(n: int) -> float:
        return loop.run_until_complete(_async_loop(case.venue, stream, parser, frame, n))

    return _row(case, "async", frame, liqs) | measure(run, repeats, min_time)


def _id(case: Case) -> tuple[str, str]:
    return case.venue, case.fixture


def _row(case: Case, loop: str, frame: bytes | str, liqs: int) -> dict[str, Any]:
    return {
        "side": "liqmon",
        "venue": case.venue,
        "stream": case.stream,
        "frame": case.fixture,
        "mode": case.mode,
        "loop": loop,
        "frame_bytes": len(frame if isinstance(frame, bytes) else frame.encode()),
        "liquidations_per_frame": liqs,
    }


def run_measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run every case (or the Binance USDⓈ-M ones) and return the results document."""
    cases = ASYNC_CASES if args.binance_only else CASES
    rows = []
    for case in cases:
        rows.append(bench_case(case, args.repeats, args.min_time))
        _say(rows[-1])
    loop = asyncio.new_event_loop()
    try:
        for case in ASYNC_CASES:
            rows.append(bench_async_case(case, loop, args.repeats, args.min_time))
            _say(rows[-1])
    finally:
        loop.close()
    skipped = [v for v, s in SOURCES.items() if all(x.kind != "liquidations" for x in s.streams)]
    return {
        "side": "liqmon",
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "liqmon_version": monitor.__version__,
        "msgspec_version": metadata.version("msgspec"),
        "repeats": args.repeats,
        "min_time_s": args.min_time,
        "skipped_venues": dict.fromkeys(skipped, "no liquidation stream (prices only)"),
        "results": rows,
    }


def _say(row: dict[str, Any]) -> None:
    print(
        "%-15s %-34s %-5s %-5s %9.3f µs %10d frames/s"
        % (
            row["venue"],
            row["frame"],
            row["mode"],
            row["loop"],
            row["median_us"],
            row["frames_per_s"],
        ),
        file=sys.stderr,
    )


# --------------------------------------------------------------------------- reporting


def machine() -> dict[str, Any]:
    """Return nproc and the CPU model of this machine."""
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "platform": platform.platform(),
    }


def ratios(liqmon: dict[str, Any], peer: dict[str, Any]) -> list[dict[str, Any]]:
    """Return liqmon ÷ cryptofeed throughput for each Binance frame both sides timed."""
    out = []
    for p in peer["results"]:
        for r in liqmon["results"]:
            if r["venue"] == "binance_usdm" and r["frame"] == p["frame"]:
                out.append(
                    {
                        "frame": p["frame"],
                        "liqmon_loop": r["loop"],
                        "liqmon_python": liqmon["python"],
                        "cryptofeed_path": p["path"],
                        "cryptofeed_python": peer["python"],
                        "ratio": round(r["frames_per_s"] / p["frames_per_s"], 2),
                    }
                )
    return out


def _load(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _key(row: dict[str, Any]) -> tuple[str, str, str, str]:
    return row["venue"], row["frame"], row["mode"], row.get("loop") or row["path"]


def pool(docs: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Merge several measure documents of one side: runs of the same case are pooled.

    The median (and min, max) of a pooled case is taken over every run of every document,
    so interleaved rounds (liqmon, control, cryptofeed, liqmon, ...) share the machine's
    slow and fast spells instead of one side getting all of one.
    """
    if not docs:
        return None
    merged = dict(docs[0]) | {"rounds": len(docs)}
    rows: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for doc in docs:
        for row in doc["results"]:
            if (k := _key(row)) in rows:
                rows[k]["runs_us"] = rows[k]["runs_us"] + row["runs_us"]
            else:
                rows[k] = dict(row)
    for row in rows.values():
        median = statistics.median(row["runs_us"])
        row |= {
            "median_us": round(median, 4),
            "min_us": min(row["runs_us"]),
            "max_us": max(row["runs_us"]),
            "frames_per_s": round(1e6 / median),
        }
    merged["results"] = list(rows.values())
    return merged


def run_report(args: argparse.Namespace) -> None:
    """Merge the liqmon, control and peer results into the JSON and Markdown reports."""
    liqmon = pool([_load(f) for f in args.liqmon])
    peer = pool([_load(f) for f in args.peer])
    control = pool([_load(f) for f in args.control or ()])
    if liqmon is None or peer is None:
        msg = "report: --liqmon and --peer need at least one file each"
        raise SystemExit(msg)
    commands = Path(args.commands).read_text(encoding="utf-8").splitlines() if args.commands else []
    doc = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "commands": commands,
        "liqmon": liqmon,
        "liqmon_py313_control": control,
        "cryptofeed": peer,
        "ratios": ratios(liqmon, peer) + (ratios(control, peer) if control else []),
    }
    Path(args.json).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    Path(args.md).write_text(markdown(doc), encoding="utf-8")
    print(Path(args.md).read_text(encoding="utf-8"))


def markdown(doc: dict[str, Any]) -> str:
    """Render the results document as Markdown: machine, commands, table, ratios."""
    m, lq, cf = doc["machine"], doc["liqmon"], doc["cryptofeed"]
    lines = [
        "# Parser throughput: liqmon venue parsers vs cryptofeed (Binance)",
        "",
        "Generated %s. One core: every measurement process pinned with `taskset -c 0`"
        " (usable CPUs seen by the process: %d)." % (doc["generated_at"], m["usable_cpus"]),
        "",
        "- machine: nproc %s, CPU `%s`, %s" % (m["nproc"], m["cpu_model"], m["platform"]),
        "- liqmon %s on Python %s (`%s`), msgspec %s"
        % (lq["liqmon_version"], lq["python"], lq["python_executable"], lq["msgspec_version"]),
        "- cryptofeed %s on Python %s (`%s`), msgspec %s (cryptofeed's JSON backend: %s)"
        % (
            cf["cryptofeed_version"],
            cf["python"],
            cf["python_executable"],
            cf["msgspec_version"],
            cf["json_backend"],
        ),
        "- each figure: the median of every run (about %.2f s each, calls per run calibrated)"
        " of the case: %d runs per process; the Binance USDⓈ-M cases run in %d interleaved"
        " rounds (liqmon 3.11, liqmon 3.13 control, cryptofeed; the first liqmon round is"
        " the full all-venue run), so they pool %d runs per side"
        % (lq["min_time_s"], lq["repeats"], cf["rounds"], lq["repeats"] * cf["rounds"]),
        "- skipped: %s" % ", ".join("%s (%s)" % kv for kv in lq["skipped_venues"].items()),
        "",
        "Commands:",
        "",
        "```",
        *doc["commands"],
        "```",
        "",
        "Loop: `plain` = `parser.parse(frame, ts)` in a bare `for` loop (HTX `gzip`: the wire"
        " bytes through `runner.parse_frame`, gzip decode included); `async` = inside one"
        " coroutine on one asyncio loop, `sink(runner.parse_frame(...))` with a no-op sink;"
        " `message_handler` = `await feed.message_handler(text, None, ts)` (msgspec decode,"
        " envelope unwrap, dispatch, `Liquidation`, no-op async callback);"
        " `loads+_liquidations` = `await feed._liquidations(json.loads(text,"
        " parse_float=Decimal), ts)` (the bare frame has no envelope for `message_handler`).",
        "",
        "| side | venue | frame | mode | loop | liq/frame | bytes | frames/s | µs/frame"
        " | min–max µs | runs |",
        "| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    sides = [("liqmon py%s" % lq["python"], lq)]
    if doc["liqmon_py313_control"]:
        control = doc["liqmon_py313_control"]
        sides.append(("liqmon py%s (control)" % control["python"], control))
    for label, side in sides:
        lines += [_md_row(label, r) for r in side["results"]]
    lines += [_md_row("cryptofeed py%s" % cf["python"], r) for r in cf["results"]]
    lines += [
        "",
        "Ratio liqmon Binance USDⓈ-M parser ÷ cryptofeed BinanceFutures handler (frames/s;"
        " > 1 means liqmon is faster):",
        "",
        "| frame | liqmon loop | liqmon Python | cryptofeed path | cryptofeed Python | ratio |",
        "| --- | --- | --- | --- | --- | ---: |",
    ]
    lines += [
        "| %(frame)s | %(liqmon_loop)s | %(liqmon_python)s | %(cryptofeed_path)s"
        " | %(cryptofeed_python)s | %(ratio).2f |" % r
        for r in doc["ratios"]
    ]
    lines += ["", "cryptofeed side, what was patched: %s" % cf["patched"], ""]
    return "\n".join(lines)


def _md_row(label: str, r: dict[str, Any]) -> str:
    return "| %s | %s | %s | %s | %s | %d | %d | %s | %.3f | %.2f–%.2f | %d |" % (
        label,
        r["venue"],
        r["frame"],
        r["mode"],
        r.get("loop") or r.get("path"),
        r["liquidations_per_frame"],
        r["frame_bytes"],
        format(r["frames_per_s"], ","),
        r["median_us"],
        r["min_us"],
        r["max_us"],
        len(r["runs_us"]),
    )


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and run ``measure`` or ``report``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    me = sub.add_parser("measure", help="time the parsers, write JSON")
    me.add_argument("--out", required=True)
    me.add_argument("--repeats", type=int, default=5)
    me.add_argument("--min-time", type=float, default=0.3, help="seconds per run")
    me.add_argument("--binance-only", action="store_true", help="Binance USDⓈ-M cases only")
    rp = sub.add_parser("report", help="merge results into JSON + Markdown")
    rp.add_argument("--liqmon", nargs="+", required=True, help="first: the all-venue run")
    rp.add_argument("--peer", nargs="+", required=True)
    rp.add_argument("--control", nargs="*")
    for name in ("--json", "--md"):
        rp.add_argument(name, required=True)
    rp.add_argument("--commands")
    args = ap.parse_args(argv)
    if args.cmd == "measure":
        if args.repeats < 3:
            ap.error("--repeats must be at least 3")
        doc = run_measure(args)
        Path(args.out).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    else:
        run_report(args)


if __name__ == "__main__":
    main()
