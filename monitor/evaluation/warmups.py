"""Warm-ups for ``liqmon evaluate --warmup-days D``: the klines that came before a recording.

A live daemon never judges a market cold: on a first start it folds in the last
``state.warm_start_days`` of REST klines, and once running it keeps weeks of history in
its state file. A monthly kline file replayed on its own is judged cold instead (the
strict priors), which a real deployment never is. With ``--warmup-days D`` each kline
recording is first warmed up, exactly as ``liqmon replay --warmup`` does, with the klines
of the same symbol from the D days before its first minute that the other recordings and
the ``--warmup`` files hold. Recordings whose preceding days no file holds stay cold.

Called once per recording, before it is replayed.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from monitor.errors import InputError
from monitor.io.klines import kline_rows, open_time_ms, symbol_from_filename

MS_PER_DAY = 86_400_000


@dataclass(frozen=True)
class _Span:
    path: Path
    first_ms: int  # open time of the first kline
    last_ms: int  # open time of the last kline


@dataclass
class KlineLibrary:
    """Kline files by symbol, with the span each covers (read once, when added)."""

    spans: dict[str, list[_Span]] = field(default_factory=lambda: defaultdict(list))

    def add(self, paths: Iterable[Path]) -> None:
        """Index `paths` that are kline files named by symbol; others are left out.

        Raises:
            InputError: a kline file cannot be read or a row has no open time.
        """
        for path in paths:
            symbol = symbol_from_filename(path)
            if symbol is None or any(s.path == path for s in self.spans[symbol]):
                continue
            times = [_open_ms(path, n, row) for n, row in kline_rows(path)]
            if times:
                self.spans[symbol].append(_Span(path, min(times), max(times)))

    def first_ms(self, path: Path) -> int | None:
        """Return the first open time of an indexed file (None: not a kline file)."""
        symbol = symbol_from_filename(path)
        found = [s for s in self.spans.get(symbol or "", []) if s.path == path]
        return found[0].first_ms if found else None

    def write_before(self, path: Path, days: float, out_dir: Path) -> tuple[Path, int] | None:
        """Write the `days` of klines before `path`'s first minute to `out_dir`.

        Returns the file written (named like the recording's symbol) and its minutes, or
        None when no indexed file holds any of those days.
        """
        symbol = symbol_from_filename(path)
        start = self.first_ms(path)
        if symbol is None or start is None:
            return None
        since = start - round(days * MS_PER_DAY)
        rows: dict[int, list[str]] = {}
        for span in self.spans[symbol]:
            if span.path == path or span.last_ms < since or span.first_ms >= start:
                continue
            for n, row in kline_rows(span.path):
                t = _open_ms(span.path, n, row)
                if since <= t < start:
                    rows[t] = row
        if not rows:
            return None
        out = out_dir / ("%s-1m-warmup-%d.csv" % (symbol, start))
        with out.open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows[t] for t in sorted(rows))
        return out, len(rows)


def _open_ms(path: Path, lineno: int, row: list[str]) -> int:
    try:
        return open_time_ms(row[0])
    except (ValueError, IndexError):
        raise InputError("%s:%d: not a kline row (no open_time)" % (path, lineno)) from None
