"""Ground-truth labels: cascade intervals [onset, peak, end] per scope, as CSV or YAML.

CSV (header required, columns in any order; ``#`` lines are comments)::

    name,scope,onset,peak,end,match,recording
    btc-1,BTC,2026-02-05T21:00:00Z,2026-02-05T21:40:00Z,2026-02-05T23:00:00Z,asset,
    metals,metal,2026-02-05T12:30:00Z,2026-02-05T13:00:00Z,2026-02-05T15:00:00Z,,

YAML: a list of mappings with the same keys (or ``{labels: [...]}``).

- ``scope`` (alias ``asset``, required): an asset (``BTC``), an asset class (``metal``) or
  ``market``.
- ``onset``, ``peak``, ``end`` (required): ISO-8601 times; ``Z``/offsets are converted to
  UTC, a time without an offset is UTC. onset ≤ peak ≤ end.
- ``match`` (optional, default ``asset``): which alerts detect the label: ``asset`` only
  alerts on ``scope`` itself; ``class`` also alerts on the scope's asset class; ``market``
  also ``market``-wide alerts.
- ``name`` (optional): shown in reports; defaults to ``scope@onset``.
- ``recording`` (optional): the file name (no directory) of the one replay the label
  belongs to; empty = every replay given.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import yaml

from monitor.errors import InputError
from monitor.events import NS

Match = Literal["asset", "class", "market"]
MATCHES: Final[tuple[Match, ...]] = ("asset", "class", "market")
COLUMNS: Final = ("name", "scope", "onset", "peak", "end", "match", "recording")


@dataclass(frozen=True, slots=True)
class Label:
    """One labelled cascade interval.

    Attributes:
        name: display name.
        scope: an asset, an asset class or ``market``.
        onset_ns: onset, epoch ns.
        peak_ns: peak (e.g. the start of the largest minute), epoch ns.
        end_ns: end, epoch ns.
        match: which alert scopes count as detecting it (see the module docstring).
        recording: the replay file name the label belongs to; None for every replay.
    """

    name: str
    scope: str
    onset_ns: int
    peak_ns: int
    end_ns: int
    match: Match = "asset"
    recording: str | None = None


def read_labels(path: Path) -> list[Label]:
    """Read a labels file (``.csv``, or ``.yaml``/``.yml``).

    Raises:
        InputError: ``"<path>:<line>: <reason>"`` for a bad row, or the file's problem.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError("%s: cannot open: %s" % (path, exc.strerror or exc)) from None
    except UnicodeDecodeError:
        raise InputError("%s: not UTF-8 text" % path) from None
    if path.suffix in (".yaml", ".yml"):
        return _read_yaml(path, text)
    return _read_csv(path, text)


def write_labels(path: Path, labels: Iterable[Label]) -> None:
    """Write labels as CSV (the format `read_labels` reads), times as ``…Z`` UTC."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for lab in labels:
        writer.writerow(
            [
                lab.name,
                lab.scope,
                iso(lab.onset_ns),
                iso(lab.peak_ns),
                iso(lab.end_ns),
                lab.match,
                lab.recording or "",
            ]
        )
    path.write_text(out.getvalue(), encoding="utf-8")


def iso(ts_ns: int) -> str:
    """Return an epoch-ns time as ISO-8601 UTC with a ``Z``, to the second."""
    when = dt.datetime.fromtimestamp(ts_ns // NS, tz=dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> int:
    """Return epoch ns of an ISO-8601 time (no offset = UTC).

    Raises:
        ValueError: when `text` is not an ISO-8601 time.
    """
    when = dt.datetime.fromisoformat(text.strip())
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return round(when.timestamp() * 1e6) * 1000


def _read_csv(path: Path, text: str) -> list[Label]:
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    numbers = [i for i, ln in enumerate(text.splitlines(), 1) if not ln.lstrip().startswith("#")]
    reader = csv.DictReader(lines)
    fields = set(reader.fieldnames or ())
    if not fields & {"scope", "asset"} or not {"onset", "peak", "end"} <= fields:
        raise InputError(
            "%s:%d: header needs scope (or asset), onset, peak, end; got %s"
            % (path, numbers[0] if numbers else 1, ",".join(reader.fieldnames or ()) or "nothing")
        )
    out = []
    for row in reader:
        if not any((v or "").strip() for v in row.values()):
            continue
        out.append(_label(path, numbers[reader.line_num - 1], row))
    return out


def _read_yaml(path: Path, text: str) -> list[Label]:
    try:
        tree = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError("%s: not YAML: %s" % (path, str(exc).splitlines()[0])) from None
    if isinstance(tree, dict):
        tree = tree.get("labels")
    if tree is None:
        return []
    if not isinstance(tree, list):
        raise InputError("%s: expected a list of labels" % path)
    out = []
    for i, item in enumerate(tree, 1):
        if not isinstance(item, dict):
            raise InputError("%s: label %d: expected a mapping" % (path, i))
        row = {str(k): _yaml_text(v) for k, v in item.items()}
        out.append(_label(path, i, row, where="label"))
    return out


def _yaml_text(value: object) -> str:
    if isinstance(value, dt.datetime):
        when = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return when.isoformat()
    return "" if value is None else str(value)


def _label(path: Path, line: int, row: Mapping[str, str | None], where: str = "") -> Label:
    at = "%s:%s%d" % (path, where + " " if where else "", line)

    def get(key: str) -> str:
        return (row.get(key) or "").strip()

    scope = get("scope") or get("asset")
    if not scope:
        raise InputError("%s: scope (or asset) is empty" % at)
    times: dict[str, int] = {}
    for key in ("onset", "peak", "end"):
        try:
            times[key] = parse_time(get(key))
        except ValueError:
            raise InputError("%s: %s: not an ISO-8601 time: %r" % (at, key, get(key))) from None
    if not times["onset"] <= times["peak"] <= times["end"]:
        raise InputError("%s: need onset ≤ peak ≤ end" % at)
    match = get("match") or "asset"
    if match not in MATCHES:
        raise InputError("%s: match: %r is not one of %s" % (at, match, ", ".join(MATCHES)))
    return Label(
        name=get("name") or "%s@%s" % (scope, iso(times["onset"])),
        scope=scope,
        onset_ns=times["onset"],
        peak_ns=times["peak"],
        end_ns=times["end"],
        match=match,
        recording=get("recording") or None,
    )
