"""The state file: msgpack (msgspec) compressed with zstd, behind a magic line and version.

Layout: ``MAGIC`` then a zstd frame of the msgpack map
``{"version": int, "saved_ns": int, "role": str, "parts": {name: snapshot}}``.
Writes are atomic: a temporary file in the same directory, flushed and fsynced, then
``os.replace`` over the old file (and the directory fsynced), so a crash mid-write leaves the
previous state intact. A missing file means a first start; an unreadable, corrupt or
other-version file is logged in one line and ignored, never raised.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any, Final

import msgspec
import zstandard

logger = logging.getLogger(__name__)

MAGIC: Final = b"LIQMON-STATE\n"
VERSION: Final = 1  # bump when a snapshot's layout changes; older files are then ignored
_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(dict[str, Any])


class StateStore:
    """One role's state file, ``<directory>/<role>.state``."""

    def __init__(self, directory: Path, role: str) -> None:
        self.directory = directory
        self.role = role
        self.path = directory / ("%s.state" % role)

    def encode(self, parts: dict[str, Any], saved_ns: int) -> bytes:
        """Return the file bytes for `parts` saved at `saved_ns` (epoch ns)."""
        doc = {"version": VERSION, "saved_ns": saved_ns, "role": self.role, "parts": parts}
        return MAGIC + zstandard.ZstdCompressor(level=3).compress(_encoder.encode(doc))

    def write(self, data: bytes) -> None:
        """Replace the state file with `data` atomically (tmp + fsync + os.replace).

        Raises:
            OSError: the directory cannot be created or written.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name("%s.tmp.%d" % (self.path.name, os.getpid()))
        try:
            with tmp.open("wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(self.path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        _fsync_dir(self.directory)

    def read(self) -> dict[str, Any] | None:
        """Return the saved document, or None (first start, or logged as ignored)."""
        try:
            return _decode(self.path.read_bytes(), self.role)
        except FileNotFoundError:
            return None
        except OSError as exc:
            why = "cannot read it (%s)" % exc.strerror
        except _Unusable as exc:
            why = str(exc)
        logger.warning("state file %s ignored: %s; starting without state", self.path, why)
        return None


class _Unusable(Exception):
    """The file is not a state this liqmon can use (the message says why)."""


def _decode(data: bytes, role: str) -> dict[str, Any]:
    """Return the document in `data`; raise `_Unusable` saying why it cannot be used."""
    if not data.startswith(MAGIC):
        msg = "not a liqmon state file"
        raise _Unusable(msg)
    try:
        doc = _decoder.decode(zstandard.ZstdDecompressor().decompress(data[len(MAGIC) :]))
    except (zstandard.ZstdError, msgspec.DecodeError) as exc:
        raise _Unusable("corrupt (%s)" % exc) from exc
    if doc.get("version") != VERSION:
        raise _Unusable("version %r, this liqmon reads %d" % (doc.get("version"), VERSION))
    if doc.get("role") != role or not isinstance(doc.get("parts"), dict):
        raise _Unusable("not a %s state" % role)
    return doc


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable (POSIX); best effort where a directory cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
