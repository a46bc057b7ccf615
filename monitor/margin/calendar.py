"""A watched calendar of clearing-house margin notices (CSV or YAML) → `MarginChange` events.

Format. One change per row (CSV, with a header line) or per mapping (YAML: a list of
mappings, or a mapping whose ``changes`` key holds that list). Columns, in any order:

==============  ========  ==============================================================
column          required  meaning
==============  ========  ==============================================================
``venue``       yes       issuer id: ``cme``, ``shfe``, ``sge``, ``ice``, …
``product``     yes       clearing code or symbol: ``SI``, ``GC``, ``AG``
``asset``       yes       the asset it margins: ``XAG``, ``XAU``
``basis``       yes       ``pct_notional`` | ``usd_per_contract`` | ``maintenance_rate`` |
                          ``max_leverage`` (units in `monitor.margin.model`)
``old``         yes       requirement before (e.g. ``15`` for 15 % of notional)
``new``         yes       requirement after; ``new < old`` is a loosening (negative D)
``notice``      yes       when it was announced: ISO date or datetime
``effective``   yes       when it binds: ISO date (= after the close of that day) or datetime
``asset_class`` no        default: the ``assets.classes`` table (``metal`` for XAG)
``profile``     no        ``non-HRP`` (headline, default), ``HRP``, ``hedge``…: a non-headline
                          profile makes the product ``SI:HRP``
``requirement`` no        ``initial`` or ``maintenance``: which requirement old/new are
``confidence``  no        ``high`` (default) | ``medium`` | ``low``: rows below the reader's
                          ``min_confidence`` are left out (not an error)
``source``      no        URL of the notice or report (default ``calendar:<file name>``)
``note``        no        free text, ignored
==============  ========  ==============================================================

Times follow `monitor.margin.model`: an offset makes a datetime exact; a naive datetime is
venue-local (CME: America/Chicago, converted to UTC with DST); a bare date is that day's
close at the venue (CME 16:00 CT, i.e. 22:00 UTC in winter) — for ``effective`` that is
"after the close of business on D", for ``notice`` the latest plausible release time.

In CSV, lines starting with ``#`` are comments (they keep their line numbers); a cell with
a comma needs double quotes. Bad input never stops the calendar: a malformed row is logged
as one line ``<file>:<line>: <field>: <reason>``, counted and skipped, and the rest loads.
A file-level problem (unreadable, unknown column, YAML syntax) is one such line for line 1.

``event_id`` is deterministic (`monitor.margin.model.make_event_id`), so re-reading a file
never duplicates a change, while a corrected row (other value or date) is a new change.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

import yaml

from monitor.errors import InputError
from monitor.events import AssetClass, MarginChange
from monitor.margin.model import FieldError, build_change

logger = logging.getLogger(__name__)

Confidence = Literal["low", "medium", "high"]
CONFIDENCE_RANK: Final[dict[Confidence, int]] = {"low": 0, "medium": 1, "high": 2}
_CONFIDENCES: Final[dict[str, Confidence]] = {"low": "low", "medium": "medium", "high": "high"}
REQUIRED_COLUMNS: Final = (
    "venue",
    "product",
    "asset",
    "basis",
    "old",
    "new",
    "notice",
    "effective",
)
OPTIONAL_COLUMNS: Final = ("asset_class", "profile", "requirement", "confidence", "source", "note")
COLUMNS: Final = frozenset(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)
_NOT_EVENT_FIELDS: Final = frozenset({"requirement", "confidence", "note"})
MarginPublish = Callable[[Sequence[MarginChange]], Awaitable[int]]
"""Publishes margin changes (the app's bus publish fits: it takes any events)."""


@dataclass(frozen=True, slots=True)
class CalendarRow:
    """One loaded row: where it was, the change and how sure the source is."""

    line: int
    change: MarginChange
    confidence: Confidence


@dataclass(slots=True)
class CalendarRead:
    """What one read of a calendar gave: loaded rows and one line per skipped row."""

    rows: list[CalendarRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    below_confidence: int = 0  # rows left out by ``min_confidence`` (not errors)

    @property
    def events(self) -> list[MarginChange]:
        """Return the changes ordered by notice time (then file order)."""
        rows = sorted(self.rows, key=lambda r: (r.change.notice_ts_ns, r.line))
        return [r.change for r in rows]


def read_calendar(
    path: Path,
    classes: Mapping[str, AssetClass],
    *,
    min_confidence: Confidence = "low",
) -> CalendarRead:
    """Read and parse a calendar file (``.csv``, ``.yaml`` or ``.yml``); see the module doc.

    Every skipped row is logged (warning) and listed in ``errors``.

    Raises:
        InputError: ``<path>: cannot read: …`` when the file cannot be read at all.
    """
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError("%s: cannot read: %s" % (path, exc.strerror or exc)) from None
    except UnicodeDecodeError as exc:
        raise InputError("%s: not UTF-8: %s" % (path, exc.reason)) from None
    return parse_calendar(text, str(path), classes, min_confidence=min_confidence)


def parse_calendar(
    text: str,
    name: str,
    classes: Mapping[str, AssetClass],
    *,
    min_confidence: Confidence = "low",
) -> CalendarRead:
    """Parse calendar text; YAML when `name` ends in ``.yaml``/``.yml``, else CSV.

    Args:
        text: the file's content.
        name: the file name used in error lines and the default ``source``.
        classes: the ``assets.classes`` table for rows without ``asset_class``.
        min_confidence: rows less sure than this are left out.
    """
    is_yaml = name.endswith((".yaml", ".yml"))
    read = CalendarRead()
    try:
        cells = list(_yaml_rows(text) if is_yaml else _csv_rows(text))
    except _FileError as exc:
        read.errors.append("%s:%d: %s" % (name, exc.line, exc))
        cells = []
    source = "calendar:%s" % Path(name).name
    seen: dict[str, int] = {}
    for line, row in cells:
        try:
            loaded = _row(row, line, classes, source)
        except (FieldError, _RowError) as exc:
            read.errors.append("%s:%d: %s" % (name, line, exc))
            continue
        if CONFIDENCE_RANK[loaded.confidence] < CONFIDENCE_RANK[min_confidence]:
            read.below_confidence += 1
        elif loaded.change.event_id in seen:
            first = seen[loaded.change.event_id]
            read.errors.append("%s:%d: duplicate of line %d" % (name, line, first))
        else:
            seen[loaded.change.event_id] = line
            read.rows.append(loaded)
    for error in read.errors:
        logger.warning("margin calendar: skipped %s", error)
    return read


class _FileError(ValueError):
    """The file as a whole cannot be read as a calendar."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line


class _RowError(ValueError):
    """A row that is not a set of scalar cells."""


Cells = dict[str, str] | str  # the cells of a row, or why the row has none


def _row(row: Cells, line: int, classes: Mapping[str, AssetClass], source: str) -> CalendarRow:
    if isinstance(row, str):
        raise _RowError(row)
    confidence = _CONFIDENCES.get(row.get("confidence", "").strip().lower() or "high")
    if confidence is None:
        raise FieldError(
            field="confidence", reason="must be high|medium|low, got %r" % row["confidence"]
        )
    requirement = row.get("requirement", "").strip()
    if requirement not in ("", "initial", "maintenance"):
        raise FieldError(
            field="requirement", reason="must be initial|maintenance, got %r" % requirement
        )
    fields = {k: v for k, v in row.items() if k not in _NOT_EVENT_FIELDS}
    change = build_change(fields, classes, default_source=source)
    return CalendarRow(line, change, confidence)


def _csv_rows(text: str) -> list[tuple[int, Cells]]:
    """Return (line, cells) per data row; comments become blank lines (numbers kept)."""
    lines = ["" if ln.lstrip().startswith("#") else ln for ln in text.splitlines()]
    reader = csv.reader(io.StringIO("\n".join(lines)))
    header: list[str] | None = None
    out: list[tuple[int, Cells]] = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = [c.strip() for c in cells]
                _check_columns(header, reader.line_num)
                continue
            if len(cells) != len(header):
                why = "expected %d cells (the header's), got %d" % (len(header), len(cells))
                out.append((reader.line_num, why))
                continue
            out.append((reader.line_num, dict(zip(header, cells, strict=True))))
    except csv.Error as exc:
        raise _FileError(reader.line_num, "CSV: %s" % exc) from None
    if header is None:
        raise _FileError(1, "empty: no header line")
    return out


def _check_columns(header: Sequence[str], line: int) -> None:
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        raise _FileError(line, "%s: unknown column" % unknown[0])
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise _FileError(line, "%s: missing column" % missing[0])
    if len(set(header)) != len(header):
        raise _FileError(line, "a column appears twice")


_NULL_TAG: Final = "tag:yaml.org,2002:null"


def _yaml_rows(text: str) -> list[tuple[int, Cells]]:
    """Return (line, cells) per YAML mapping, from the node tree (keeps line numbers)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise _FileError(line, "YAML: %s" % getattr(exc, "problem", exc)) from None
    if root is None:
        return []
    if isinstance(root, yaml.MappingNode):
        root = next((v for k, v in root.value if k.value == "changes"), None)
    if not isinstance(root, yaml.SequenceNode):
        raise _FileError(1, "YAML: expected a list of changes (or a 'changes:' list)")
    out: list[tuple[int, Cells]] = []
    for item in root.value:
        line = item.start_mark.line + 1
        if not isinstance(item, yaml.MappingNode):
            out.append((line, "expected a mapping of column: value"))
            continue
        cells: dict[str, str] = {}
        for key, value in item.value:
            if not isinstance(value, yaml.ScalarNode):
                cells = {}
                out.append((line, "%s: must be a single value" % key.value))
                break
            cells[str(key.value)] = "" if value.tag == _NULL_TAG else str(value.value)
        else:
            unknown = sorted(set(cells) - COLUMNS)
            out.append((line, "%s: unknown column" % unknown[0]) if unknown else (line, cells))
    return out


class CalendarWatcher:
    """Re-reads a calendar when it changes and hands out only new or changed rows.

    Change detection is cheap first (mtime, size, inode every ``interval_s``), exact
    second (SHA-256 of the content), so touching a file without editing it yields nothing.
    The first read yields every row (the history is input too), later reads the rows whose
    ``event_id`` is new. A removed row yields nothing (the bus cannot retract a change). A
    missing file is logged once and retried every interval.
    """

    def __init__(
        self,
        path: Path,
        classes: Mapping[str, AssetClass],
        *,
        interval_s: float = 5.0,
        min_confidence: Confidence = "low",
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_skip: Callable[[int], None] | None = None,
    ) -> None:
        """Watch `path`.

        Args:
            path: the calendar file.
            classes: the ``assets.classes`` table.
            interval_s: seconds between checks of the file.
            min_confidence: rows less sure than this are left out.
            sleep: awaited between checks (tests inject a fake).
            on_skip: called with the number of rows skipped by each read (a metric).
        """
        self.path = path
        self.classes = dict(classes)
        self.interval_s = interval_s
        self.min_confidence: Confidence = min_confidence
        self._sleep = sleep
        self._on_skip = on_skip
        self._stat: tuple[int, int, int] | None = None
        self._digest = b""
        self._seen: set[str] = set()
        self._missing_logged = False
        self.reads = 0
        self.skipped_total = 0

    async def check(self) -> list[MarginChange]:
        """Look at the file once; return the changes not yielded before (maybe none)."""
        try:
            stat = await asyncio.to_thread(self.path.stat)
        except OSError as exc:
            if not self._missing_logged:
                logger.warning("margin calendar %s: %s; retrying", self.path, exc.strerror or exc)
                self._missing_logged, self._stat = True, None
            return []
        self._missing_logged = False
        signature = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if signature == self._stat:
            return []
        try:
            data = await asyncio.to_thread(self.path.read_bytes)
        except OSError as exc:
            logger.warning("margin calendar %s: cannot read: %s", self.path, exc.strerror or exc)
            return []
        self._stat = signature
        digest = hashlib.sha256(data).digest()
        if digest == self._digest:
            return []
        self._digest = digest
        return self._load(data)

    def _load(self, data: bytes) -> list[MarginChange]:
        self.reads += 1
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            read = CalendarRead(errors=["%s:1: not UTF-8: %s" % (self.path, exc.reason)])
            logger.warning("margin calendar: skipped %s", read.errors[0])
        else:
            read = parse_calendar(
                text, str(self.path), self.classes, min_confidence=self.min_confidence
            )
        self.skipped_total += len(read.errors)
        if self._on_skip is not None and read.errors:
            self._on_skip(len(read.errors))
        fresh = [e for e in read.events if e.event_id not in self._seen]
        self._seen.update(e.event_id for e in fresh)
        logger.info(
            "margin calendar %s: %d rows, %d new, %d skipped",
            self.path, len(read.rows), len(fresh), len(read.errors),
        )  # fmt: skip
        return fresh

    async def watch(self) -> AsyncIterator[list[MarginChange]]:
        """Yield each non-empty batch of new or changed rows, forever (until cancelled)."""
        while True:
            batch = await self.check()
            if batch:
                yield batch
            await self._sleep(self.interval_s)

    async def run(self, publish: MarginPublish) -> None:
        """Publish every batch `watch` yields (an `EventSource` for the app)."""
        async for batch in self.watch():
            await publish(batch)


def watch(
    path: Path,
    interval_s: float = 5.0,
    *,
    classes: Mapping[str, AssetClass] | None = None,
    min_confidence: Confidence = "low",
) -> AsyncIterator[list[MarginChange]]:
    """Yield batches of new or changed changes of `path` (``CalendarWatcher(…).watch()``).

    Args:
        path: the calendar file (CSV or YAML).
        interval_s: seconds between checks of the file.
        classes: the ``assets.classes`` table (default: none).
        min_confidence: rows less sure than this are left out.
    """
    watcher = CalendarWatcher(
        path, classes or {}, interval_s=interval_s, min_confidence=min_confidence
    )
    return watcher.watch()
