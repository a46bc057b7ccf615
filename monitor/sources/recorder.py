"""The raw tape: every frame as received, one JSON line each (``liqmon record``).

Line format: ``{"ts_recv_ns": int, "exchange": str, "stream": str,
"frame": str}``, or ``"frame_b64"`` for a binary frame. A recording starts with one
``{"catalogue": exchange, "instruments": [...]}`` line per venue, so a replay parses with
the same contract sizes as the live run, without the network.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

import msgspec

from monitor.errors import InputError
from monitor.io.files import open_read, open_write
from monitor.sources.base import Frame, Instrument


class RawRecord(msgspec.Struct, frozen=True, omit_defaults=True):
    """One recorded frame."""

    ts_recv_ns: int
    exchange: str
    stream: str
    frame: str | None = None
    frame_b64: str | None = None

    def payload(self) -> Frame:
        """Return the frame as received (text, or bytes for a binary frame)."""
        if self.frame is not None:
            return self.frame
        return base64.b64decode(self.frame_b64 or "")


class CatalogueRecord(msgspec.Struct, frozen=True):
    """The instruments a venue's parsers used when the recording was made."""

    catalogue: str
    instruments: list[Instrument]


_ENCODER = msgspec.json.Encoder()
_RAW = msgspec.json.Decoder(RawRecord)
_CATALOGUE = msgspec.json.Decoder(CatalogueRecord)


class Recorder:
    """Appends raw frames to a file; flushed on `flush` and `close`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stream: IO[bytes] = open_write(path)
        self.frames = 0

    def catalogue(self, exchange: str, instruments: Sequence[Instrument]) -> None:
        """Write the instruments of `exchange` (once, before its frames)."""
        self._stream.write(_ENCODER.encode(CatalogueRecord(exchange, list(instruments))) + b"\n")

    def frame(self, ts_recv_ns: int, exchange: str, stream: str, frame: Frame) -> None:
        """Write one frame."""
        if isinstance(frame, bytes):
            record = RawRecord(
                ts_recv_ns, exchange, stream, frame_b64=base64.b64encode(frame).decode()
            )
        else:
            record = RawRecord(ts_recv_ns, exchange, stream, frame=frame)
        self._stream.write(_ENCODER.encode(record) + b"\n")
        self.frames += 1

    def flush(self) -> None:
        """Flush to the OS."""
        self._stream.flush()

    def close(self) -> None:
        """Flush and close."""
        self._stream.close()


def read_raw(path: Path) -> Iterator[RawRecord | CatalogueRecord]:
    """Yield the records of a raw recording in file order.

    Raises:
        InputError: ``"<path>:<line>: <reason>"`` for a malformed line.
    """
    try:
        stream = open_read(path)
    except OSError as exc:
        raise InputError("%s: cannot open: %s" % (path, exc.strerror or exc)) from None
    with stream:
        for lineno, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                yield _RAW.decode(line)
                continue
            except msgspec.DecodeError as exc:
                error = exc
            try:
                yield _CATALOGUE.decode(line)
            except msgspec.DecodeError:
                raise InputError("%s:%d: not a raw record: %s" % (path, lineno, error)) from None
