"""bytewax peer of ``bench/windows.py``: the same sliding sums, as a bytewax dataflow.

Runs in the peers' virtualenv (``bench/run_windows.sh`` builds it); liqmon is not imported.

What it computes: for every (instrument, position side) key, the USD sum over sliding
windows of ``--window-s`` seconds starting every ``--step-s`` second
(``SlidingWindower(length, offset)`` with ``fold_window``, event time from the event,
``EventClock`` with no system-time wait). One window length and one scope level
(instrument) per run: each further length or level would be another ``fold_window``.

How it is driven: ``TestingSource`` (the events, already parsed) → ``key_on`` →
``fold_window`` → ``TestingSink``, run with ``bytewax.testing.run_main`` (one worker, one
thread, no broker). The timed part is ``run_main``; reading the file is not timed.

Input: the contract JSON lines of ``bench/windows.py gen``.
Usage: python bench/peer_bytewax.py IN.jsonl --out bytewax.json [--limit 200000]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path

import bytewax.operators as op
import bytewax.operators.windowing as win
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main


def read_rows(path: Path, limit: int) -> list[tuple[str, datetime, float]]:
    """Return ``(key, event time, usd)`` per event; key is ``exchange:symbol|side``."""
    rows = []
    with path.open("rb") as f:
        for line in f:
            if len(rows) >= limit:
                break
            e = json.loads(line)
            key = "%s:%s|%s" % (e["exchange"], e["symbol"], e["position_side"])
            ts = datetime.fromtimestamp(e["ts_event_ns"] / 1e9, tz=UTC)
            rows.append((key, ts, float(e["notional_usd"])))
    return rows


def run(rows: list[tuple[str, datetime, float]], window_s: int, step_s: int) -> tuple[float, int]:
    """Run the dataflow over `rows`; return (wall seconds, window results emitted)."""
    flow = Dataflow("liqmon_bench_windows")
    events = op.input("in", flow, TestingSource(rows))
    keyed = op.key_on("key", events, lambda r: r[0])
    clock = win.EventClock(lambda r: r[1], wait_for_system_duration=timedelta(0))
    windower = win.SlidingWindower(
        length=timedelta(seconds=window_s),
        offset=timedelta(seconds=step_s),
        align_to=datetime(2026, 1, 1, tzinfo=UTC),
    )
    sums = win.fold_window(
        "sum",
        keyed,
        clock,
        windower,
        lambda: 0.0,
        lambda acc, r: acc + r[2],
        lambda a, b: a + b,
        ordered=False,  # a sum does not depend on order: skip the sort buffer
    )
    out: list[object] = []
    op.output("out", sums.down, TestingSink(out))
    start = time.perf_counter()
    run_main(flow)
    return time.perf_counter() - start, len(out)


def main() -> None:
    """Parse the command line, time the runs, write a JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("input")
    parser.add_argument("--out", required=True)
    parser.add_argument("--limit", type=int, default=200_000)
    parser.add_argument("--window-s", type=int, default=60)
    parser.add_argument("--step-s", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--label", default="", help="input name for the report")
    args = parser.parse_args()
    rows = read_rows(Path(args.input), args.limit)
    runs = []
    for _ in range(args.repeats):
        elapsed, emitted = run(rows, args.window_s, args.step_s)
        runs.append(len(rows) / elapsed)
        print(
            "bytewax sliding %ds every %ds: %d events in %.3f s = %.0f events/s (%d results)"
            % (args.window_s, args.step_s, len(rows), elapsed, runs[-1], emitted),
            flush=True,
        )
    result = {
        "tool": "bytewax",
        "version": metadata.version("bytewax"),
        "kind": "sliding every %ds" % args.step_s,
        "windows_s": [args.window_s],
        "levels": ["instrument"],
        "key": "exchange:symbol|position_side",
        "input": args.label or Path(args.input).stem,
        "events": len(rows),
        "events_per_s": runs,
        "python": platform.python_version(),
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
