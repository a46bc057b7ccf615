"""Fuzz benchmark: millions of mutated real frames per venue through the live parse path.

Per venue: its fixture frames (``tests/fixtures/payloads/<venue>``) mutated by
`tests.support.mutate.mutate` (seeded: extreme numbers, byte flips, cuts, repeats, deep
nesting, wrong types), each sent to every stream's parser through `parse_frame` (the
runner's decode hook and parser, HTX gzip included) and then `monitor.bounds`. Reports per
venue: frames, parse errors, events, events rejected by the bounds, escapes (exceptions
other than `ParseError`: must be 0) and non-finite events kept (must be 0), with the rate.
A frame counts once per stream it was sent to. Escapes and bad events are printed (first
five per venue) with their frame, so a failure replays.

Usage: python bench/fuzz.py [--frames 1000000] [--venues a,b] [--seed 1]
                            [--out bench/results/fuzz.json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.sources import SOURCES  # noqa: E402
from tests.support.mutate import Counts, LivePath, frames_of, mutate  # noqa: E402

TS_RECV_NS = 1_700_000_000_000_000_000


def run_venue(name: str, frames: int, seed: int) -> dict[str, object]:
    """Send `frames` mutated frames (counted per stream) of venue `name`; return the counts."""
    venue = SOURCES[name]
    path = LivePath(venue, TS_RECV_NS)
    originals = frames_of(venue)
    rng = random.Random(seed)
    counts = Counts()
    started = time.perf_counter()
    while counts.frames < frames:
        path.feed(mutate(originals[rng.randrange(len(originals))], rng), counts)
    wall = time.perf_counter() - started
    for line in (counts.escapes + counts.non_finite)[:5]:
        print("  !", line[:300])
    return {"venue": name, **counts.as_dict(), "wall_s": wall, "frames_per_s": counts.frames / wall}


def main() -> None:
    """Run every venue (or those asked), print a table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1_000_000, help="per venue")
    parser.add_argument("--venues", default=",".join(sorted(SOURCES)))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "fuzz.json")
    args = parser.parse_args()
    rows = []
    print("%-15s %10s %10s %9s %9s %7s %10s %9s" % (
        "venue", "frames", "parse_err", "events", "rejected", "escapes", "non_finite",
        "frames/s"))  # fmt: skip
    for name in args.venues.split(","):
        row = run_venue(name, args.frames, args.seed)
        rows.append(row)
        print("%-15s %10d %10d %9d %9d %7d %10d %9.0f" % (
            name, row["frames"], row["parse_errors"], row["events"], row["rejected"],
            row["escapes"], row["non_finite"], row["frames_per_s"]), flush=True)  # fmt: skip
    bad = sum(int(r["escapes"]) + int(r["non_finite"]) for r in rows)  # type: ignore[call-overload]
    result = {
        "frames_per_venue": args.frames,
        "seed": args.seed,
        "venues": rows,
        "ok": bad == 0,
        "command": " ".join([".venv/bin/python", "bench/fuzz.py", *sys.argv[1:]]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    sys.exit(0 if bad == 0 else 1)


if __name__ == "__main__":
    main()
