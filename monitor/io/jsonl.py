"""Contract events as JSON lines (plain, ``.gz``, ``.zst``).

A bad record raises `InputError` naming ``file:line`` and what is wrong, so the caller can
report it in one line; records before it have already been yielded and are not lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

import zstandard

from monitor.codec import decode, encode
from monitor.errors import InputError
from monitor.events import Event
from monitor.io.files import open_read, open_write


def read_events(path: Path) -> Iterator[Event]:
    """Yield every event of a JSON-lines file in file order; blank lines are skipped.

    Raises:
        InputError: ``"<path>:<line>: <reason>"`` on the first malformed record.
    """
    try:
        stream = open_read(path)
    except OSError as exc:
        raise InputError("%s: cannot open: %s" % (path, exc.strerror or exc)) from None
    lineno = 0
    with stream:
        try:
            for lineno, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    yield decode(line)
                except InputError as exc:
                    raise InputError("%s:%d: %s" % (path, lineno, exc)) from None
        except (EOFError, OSError, zstandard.ZstdError) as exc:
            raise InputError(
                "%s:%d: corrupt or truncated file: %s" % (path, lineno + 1, exc)
            ) from None


class EventWriter:
    """Writes events as JSON lines; use as a context manager.

    Each `write` appends one line. The file is flushed on `flush` and on close, so what
    was written before a crash elsewhere is on disk when the writer closes.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stream: IO[bytes] = open_write(path)
        self.count = 0

    def write(self, event: Event) -> None:
        """Append one event."""
        self._stream.write(encode(event) + b"\n")
        self.count += 1

    def write_all(self, events: Iterable[Event]) -> None:
        """Append every event of `events`."""
        for event in events:
            self.write(event)

    def flush(self) -> None:
        """Flush buffered lines to the OS."""
        self._stream.flush()

    def close(self) -> None:
        """Flush and close the file."""
        self._stream.close()

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
