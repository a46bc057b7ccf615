"""Contract events as JSON lines (plain, ``.gz``, ``.zst``).

A bad record raises `InputError` naming ``file:line`` and what is wrong, so the caller can
report it in one line; records before it have already been yielded and are not lost.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Final, Protocol, cast

import msgspec
import zstandard

from monitor.codec import DECODER, decode, encode
from monitor.errors import InputError
from monitor.events import Event
from monitor.io.files import open_read, open_write

CHUNK_BYTES: Final = 1 << 20
"""Bytes read and decoded at once by `read_event_batches` (about 3,000 events of 330 B)."""


def read_events(path: Path) -> Iterator[Event]:
    """Yield every event of a JSON-lines file in file order; blank lines are skipped.

    Raises:
        InputError: ``"<path>:<line>: <reason>"`` on the first malformed record.
    """
    for batch in read_event_batches(path):
        yield from batch


def read_event_batches(path: Path, chunk_bytes: int = CHUNK_BYTES) -> Iterator[list[Event]]:
    """Yield the events of a JSON-lines file in file order, one list per chunk read.

    Each chunk of about `chunk_bytes` (cut at a line end) is decoded in one call, which is
    what makes ``replay --fast`` cheap per event. When a chunk holds a bad record, its
    records are decoded one by one to find it: the good ones before it are yielded, then
    the error is raised.

    Raises:
        InputError: ``"<path>:<line>: <reason>"`` on the first malformed record.
    """
    try:
        stream = open_read(path)
    except OSError as exc:
        raise InputError("%s: cannot open: %s" % (path, exc.strerror or exc)) from None
    offset = 0  # bytes of the file (decompressed) before the next chunk
    with stream:
        chunks = _chunks(cast("_Readable", stream), chunk_bytes)
        while True:
            try:
                chunk = next(chunks, None)
            except (EOFError, OSError, zstandard.ZstdError) as exc:
                line = _line_at(path, offset)
                raise InputError(
                    "%s:%d: corrupt or truncated file: %s" % (path, line, exc)
                ) from None
            if chunk is None:
                return
            try:
                events = DECODER.decode_lines(chunk)
            except msgspec.DecodeError:
                good, error = _decode_until_bad(bytes(chunk), path, _line_at(path, offset))
                if good:
                    yield good
                raise error from None
            offset += len(chunk)
            if events:
                yield events


class _Readable(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...


def _chunks(stream: _Readable, size: int) -> Iterator[memoryview]:
    """Yield `stream` in pieces of about `size` bytes, each ending with a line end.

    One buffer is reused (a fresh megabyte per chunk costs page faults): each piece is a
    view into it, valid until the next one is asked for.
    """
    buf = bytearray(size)
    filled = 0
    while True:
        if filled == len(buf):  # one line is longer than the buffer: a bigger buffer
            buf = buf + bytes(len(buf))  # a new object: the last piece handed out stays valid
        with memoryview(buf) as view:
            n = stream.readinto(view[filled:])
        if not n:
            if filled:
                yield memoryview(bytes(buf[:filled]) + b"\n")
            return
        filled += n
        cut = buf.rfind(b"\n", 0, filled)
        if cut < 0:
            continue
        with memoryview(buf) as view:
            yield view[: cut + 1]
        rest = filled - cut - 1
        buf[:rest] = buf[cut + 1 : filled]
        filled = rest


def _line_at(path: Path, offset: int) -> int:
    """Return the line number at byte `offset` of `path` (decompressed), for error messages."""
    lines = 1
    with contextlib.suppress(OSError, EOFError, zstandard.ZstdError), open_read(path) as stream:
        while offset > 0 and (data := stream.read(min(offset, CHUNK_BYTES))):
            lines += data.count(b"\n")
            offset -= len(data)
    return lines


def _decode_until_bad(chunk: bytes, path: Path, first_line: int) -> tuple[list[Event], InputError]:
    """Decode `chunk` line by line; return the events before the first bad line and its error."""
    good: list[Event] = []
    for offset, line in enumerate(chunk.split(b"\n")):
        if not line.strip():
            continue
        try:
            good.append(decode(line))
        except InputError as exc:
            return good, InputError("%s:%d: %s" % (path, first_line + offset, exc))
    msg = "%s:%d: malformed record" % (path, first_line)  # decode_lines and decode disagree
    return good, InputError(msg)


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
