"""``liqmon evaluate --warmup-days``: a recording is warmed up with the klines before it."""

from __future__ import annotations

from pathlib import Path

import msgspec

from monitor.config import load
from monitor.evaluation.command import replay_recording
from monitor.evaluation.warmups import KlineLibrary
from tests.conftest import KLINES

NEAR = KLINES / "NEARUSDT-1m-2025-11-21.csv"  # 600 minutes from 00:00; NEAR fell ~10% at 07:30
CUT = 443  # data row of 07:23 UTC, ten minutes before the crash alert


def split(tmp: Path) -> tuple[Path, Path, Path]:
    """Cut the fixture in three: early (00:00-03:59), late (04:00-07:22) and the rest."""
    header, *rows = NEAR.read_text().splitlines()
    parts = (rows[:240], rows[240:CUT], rows[CUT:])
    names = ("NEARUSDT-1m-early.csv", "NEARUSDT-1m-late.csv", "NEARUSDT-1m-rest.csv")
    paths = tuple(tmp / n for n in names)
    for path, part in zip(paths, parts, strict=True):
        path.write_text("\n".join([header, *part]) + "\n")
    return paths  # type: ignore[return-value]


def test_the_days_before_a_recording_are_gathered_from_every_file_of_its_symbol(tmp_path):
    early, late, rest = split(tmp_path)
    other = tmp_path / "LTCUSDT-1m-x.csv"
    other.write_text(NEAR.read_text())  # same times, another symbol: never used for NEAR
    library = KlineLibrary()
    library.add([rest, late, early, other])

    whole = library.write_before(rest, 1.0, tmp_path)
    assert whole is not None
    whole_rows = whole[0].read_text().splitlines()
    last_hour = library.write_before(rest, 1 / 24, tmp_path)
    assert last_hour is not None
    first = library.write_before(early, 1.0, tmp_path)

    rows = NEAR.read_text().splitlines()[1:]
    assert whole[1] == CUT
    assert whole_rows == rows[:CUT]  # both earlier files, in time order
    assert last_hour[0].read_text().splitlines() == rows[CUT - 60 : CUT]
    assert first is None  # nothing before the first file


def test_a_warmed_up_recording_is_judged_like_the_long_run(tmp_path):
    early, late, rest = split(tmp_path)
    settings = load(None, env={}, overrides={})
    library = KlineLibrary()
    library.add([early, late, rest])
    warm = library.write_before(rest, 1.0, tmp_path)
    assert warm is not None

    long_run = replay_recording(settings, NEAR).alerts
    cold = replay_recording(settings, rest).alerts
    warmed = replay_recording(settings, rest, warmup=(warm[0],)).alerts

    def plain(alerts):
        return [msgspec.to_builtins(a) for a in alerts]

    assert plain(warmed) == plain(long_run)  # same ids, times, evidence and resolve
    assert plain(cold) != plain(long_run)
