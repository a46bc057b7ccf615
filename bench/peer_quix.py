"""quix-streams peer of ``bench/windows.py``: the same sliding sums, in quix-streams windows.

Runs in the peers' virtualenv (``bench/run_windows.sh`` builds it); liqmon is not imported.

What it computes: for every (instrument, position side) key, the USD sum over one window
of ``--window-s`` seconds, as a quix-streams ``sliding_window(duration).sum()`` (the
window type that tracks "the last W seconds" most closely) or, with ``--kind hopping``, a
``hopping_window(duration, step=1 s).sum()`` (each event lands in W/step windows). One
window length and one scope level (instrument) per run: quix-streams keys a window by
the message key, so the asset, class and market levels would each be another pass.

How it is driven: without a Kafka broker, each event goes straight into the window
operator's ``process_window(value, key, timestamp_ms, headers, transaction)`` with a
RocksDB windowed-state transaction, committed every ``--commit-every`` events (as the
application's checkpoint does). Kafka consumption, deserialisation and producing the
window results are therefore *not* counted: the figure is quix-streams' windowing core
alone, which flatters it against a full application.

Input: the contract JSON lines of ``bench/windows.py gen``; parsing them is not timed.
Usage: python bench/peer_quix.py IN.jsonl --out quix.json [--limit 200000] [--window-s 60]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from quixstreams import Application
from quixstreams.models import Topic, TopicConfig
from quixstreams.state.rocksdb.windowed.store import WindowedRocksDBStore


def read_rows(path: Path, limit: int) -> list[tuple[bytes, int, float]]:
    """Return ``(key, timestamp ms, usd)`` per event; key is ``exchange:symbol|side``."""
    rows = []
    with path.open("rb") as f:
        for line in f:
            if len(rows) >= limit:
                break
            e = json.loads(line)
            key = "%s:%s|%s" % (e["exchange"], e["symbol"], e["position_side"])
            rows.append((key.encode(), e["ts_event_ns"] // 1_000_000, float(e["notional_usd"])))
    return rows


def run(rows: list[tuple[bytes, int, float]], kind: str, window_s: int, commit: int) -> float:
    """Push every row through one quix-streams window; return the wall seconds taken."""
    with tempfile.TemporaryDirectory() as state_dir:
        app = Application(
            broker_address="127.0.0.1:9",  # never contacted: nothing here consumes
            consumer_group="liqmon-bench",
            state_dir=state_dir,
            use_changelog_topics=False,
        )
        topic = Topic("liquidations", create_config=TopicConfig(1, 1))  # no broker look-up
        sdf = app.dataframe(topic)
        duration_ms = window_s * 1000
        if kind == "sliding":
            window: Any = sdf.sliding_window(duration_ms=duration_ms).sum()
        else:
            window = sdf.hopping_window(duration_ms=duration_ms, step_ms=1000).sum()
        store = WindowedRocksDBStore(name=window.name, stream_id="liquidations", base_dir=state_dir)
        store.assign_partition(0)
        process = window.process_window
        start = time.perf_counter()
        tx = store.start_partition_transaction(0)
        for i, (key, ts_ms, usd) in enumerate(rows, start=1):
            process(usd, key, ts_ms, None, tx)
            if i % commit == 0:
                tx.prepare(processed_offsets={"liquidations": i})
                tx.flush(changelog_offset=None)
                tx = store.start_partition_transaction(0)
        tx.prepare(processed_offsets={"liquidations": len(rows)})
        tx.flush(changelog_offset=None)
        elapsed = time.perf_counter() - start
        store.close()
    return elapsed


def main() -> None:
    """Parse the command line, time the runs, write a JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("input")
    parser.add_argument("--out", required=True)
    parser.add_argument("--limit", type=int, default=200_000)
    parser.add_argument("--window-s", type=int, default=60)
    parser.add_argument("--kind", choices=("sliding", "hopping"), default="sliding")
    parser.add_argument("--commit-every", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--label", default="", help="input name for the report")
    args = parser.parse_args()
    rows = read_rows(Path(args.input), args.limit)
    runs = []
    for _ in range(args.repeats):
        elapsed = run(rows, args.kind, args.window_s, args.commit_every)
        runs.append(len(rows) / elapsed)
        print(
            "quix-streams %s %ds: %d events in %.3f s = %.0f events/s"
            % (args.kind, args.window_s, len(rows), elapsed, runs[-1]),
            flush=True,
        )
    result = {
        "tool": "quix-streams",
        "version": metadata.version("quixstreams"),
        "kind": args.kind,
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
