"""Open plain, gzip or zstandard files by suffix, as binary streams."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import IO

import zstandard


def open_read(path: Path) -> IO[bytes]:
    """Open `path` for reading, decompressing ``.gz`` and ``.zst`` transparently."""
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if path.suffix == ".zst":
        raw = path.open("rb")
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, closefd=True))
    return path.open("rb")


def open_write(path: Path) -> IO[bytes]:
    """Open `path` for writing, compressing ``.gz`` and ``.zst`` by suffix."""
    if path.suffix == ".gz":
        return gzip.open(path, "wb", compresslevel=6)  # type: ignore[return-value]
    if path.suffix == ".zst":
        raw = path.open("wb")
        writer: IO[bytes] = zstandard.ZstdCompressor(level=3).stream_writer(raw, closefd=True)
        return writer
    return path.open("wb")
