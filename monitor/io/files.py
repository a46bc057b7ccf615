"""Open plain, gzip or zstandard files by suffix, as binary streams."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Final, TypeVar

import zstandard

from monitor.errors import InputError

T = TypeVar("T")
READ_ERRORS: Final = (EOFError, OSError, zstandard.ZstdError, UnicodeDecodeError)
"""What reading a damaged, truncated or binary file raises (`describe` names it)."""


class ReadCounter:
    """How far the reads of one file got, in bytes of the file as stored (compressed).

    Made by `track_reads` before a replay opens the file; `position` is polled by the
    progress line (percent and ETA).
    """

    def __init__(self, total: int) -> None:
        self.total = total  # the file's size, bytes
        self._files: list[IO[bytes]] = []
        self._best = 0

    def watch(self, raw: IO[bytes]) -> None:
        """Follow one raw handle of the file (called by `open_read`)."""
        self._files.append(raw)

    def position(self) -> int:
        """Return the furthest byte any handle of the file has read so far."""
        for f in self._files:
            if not f.closed:
                self._best = max(self._best, f.tell())
        self._files = [f for f in self._files if not f.closed]
        return min(self._best, self.total)


_TRACKED: dict[Path, ReadCounter] = {}


def track_reads(path: Path) -> ReadCounter:
    """Start counting how far reads of `path` get (see `ReadCounter`); return the counter."""
    counter = ReadCounter(path.stat().st_size)
    _TRACKED[path.resolve()] = counter
    return counter


class _OwnedGzip(gzip.GzipFile):
    """A gzip reader that closes the raw file it was given."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__(fileobj=raw, mode="rb")
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


def open_read(path: Path) -> IO[bytes]:
    """Open `path` for reading, decompressing ``.gz`` and ``.zst`` transparently."""
    raw = path.open("rb")
    counter = _TRACKED.get(path.resolve()) if _TRACKED else None
    if counter is not None:
        counter.watch(raw)
    if path.suffix == ".gz":
        return _OwnedGzip(raw)  # type: ignore[return-value]
    if path.suffix == ".zst":
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, closefd=True))
    return raw


def open_write(path: Path) -> IO[bytes]:
    """Open `path` for writing, compressing ``.gz`` and ``.zst`` by suffix."""
    if path.suffix == ".gz":
        return gzip.open(path, "wb", compresslevel=6)  # type: ignore[return-value]
    if path.suffix == ".zst":
        raw = path.open("wb")
        writer: IO[bytes] = zstandard.ZstdCompressor(level=3).stream_writer(raw, closefd=True)
        return writer
    return path.open("wb")


def describe(path: Path, exc: BaseException) -> InputError:
    """Return the one-line `InputError` for a `READ_ERRORS` exception reading `path`."""
    if isinstance(exc, UnicodeDecodeError):
        return InputError("%s: not UTF-8 text (byte 0x%02x)" % (path, exc.object[exc.start]))
    if isinstance(exc, IsADirectoryError):
        return InputError("%s: is a directory, not a file" % path)
    if isinstance(exc, FileNotFoundError):
        return InputError("%s: no such file" % path)
    if isinstance(exc, OSError) and exc.strerror and not isinstance(exc, gzip.BadGzipFile):
        return InputError("%s: cannot read: %s" % (path, exc.strerror))
    return InputError("%s: corrupt or truncated file: %s" % (path, exc))


def guarded(path: Path, items: Iterator[T]) -> Iterator[T]:
    """Yield `items`, turning a read error of `path` into a one-line `InputError`."""
    try:
        yield from items
    except READ_ERRORS as exc:
        raise describe(path, exc) from None


def check_readable(paths: Iterable[Path]) -> None:
    """Raise a one-line `InputError` for the first of `paths` that is not a readable file."""
    for path in paths:
        if path.is_dir():
            raise InputError("%s: is a directory, not a file" % path)
        if not path.is_file():
            raise InputError("%s: no such file" % path)
