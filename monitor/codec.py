"""The one codec for contract events: JSON via msgspec, encoder and decoder built once."""

from __future__ import annotations

from typing import Final

import msgspec

from monitor.errors import InputError
from monitor.events import Event

_ENCODER: Final = msgspec.json.Encoder()
DECODER: Final[msgspec.json.Decoder[Event]] = msgspec.json.Decoder(Event)
"""The shared decoder (`monitor.io.jsonl` decodes whole chunks of lines with it)."""


def encode(event: Event) -> bytes:
    """Encode one event as compact JSON (no trailing newline)."""
    return _ENCODER.encode(event)


def decode(data: bytes | str) -> Event:
    """Decode one JSON event.

    Raises:
        InputError: malformed JSON, an unknown ``type`` or a field of the wrong type; the
            message says what is wrong (the caller adds where).
    """
    try:
        return DECODER.decode(data)
    except msgspec.DecodeError as exc:
        raise InputError(str(exc)) from None
