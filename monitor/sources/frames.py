"""One frame through a venue's decode hook and parser: the path live and raw replay share.

Every failure, even a parser bug, comes out as a `ParseError` (counted and skipped by the
caller), so nothing a venue sends reaches the task group as an exception.
"""

from __future__ import annotations

from monitor.errors import ParseError
from monitor.events import Event
from monitor.sources.base import Frame, FrameParser, StreamSpec


def decode_frame(venue: str, stream: StreamSpec, raw: Frame) -> Frame:
    """Apply the stream's decode hook (HTX gzip) to a binary frame.

    Raises:
        ParseError: when the frame cannot be decoded.
    """
    if not (isinstance(raw, bytes) and stream.decode is not None):
        return raw
    try:
        return stream.decode(raw)
    except ParseError:
        raise
    except (OSError, EOFError, ValueError) as exc:
        raise ParseError("%s: cannot decode frame: %s" % (venue, exc)) from None


def parse_text(venue: str, parser: FrameParser, text: Frame, ts_recv_ns: int) -> list[Event]:
    """Parse one decoded frame; any failure, even a parser bug, is a `ParseError`."""
    try:
        return parser.parse(text, ts_recv_ns)
    except ParseError:
        raise
    except Exception as exc:  # noqa: BLE001  (supervising loop: a parser bug must not kill the feed)
        raise ParseError("%s: parser failed: %r" % (venue, exc)) from None


def parse_frame(
    venue: str, stream: StreamSpec, parser: FrameParser, raw: Frame, ts_recv_ns: int
) -> list[Event]:
    """Decode and parse one frame: the one path live and raw replay share.

    Raises:
        ParseError: for any failure.
    """
    return parse_text(venue, parser, decode_frame(venue, stream, raw), ts_recv_ns)


def reply_to(venue: str, stream: StreamSpec, text: Frame) -> str | None:
    """Return the reply a frame demands (HTX ``{"ping": n}``), or None.

    Raises:
        ParseError: when the reply hook fails on the frame (a 1,000-deep ``ping`` array
            is a ``RecursionError`` in a JSON decoder): the frame is skipped and counted.
    """
    if stream.reply is None:
        return None
    try:
        return stream.reply(text if isinstance(text, str) else text.decode("utf-8", "replace"))
    except Exception as exc:  # noqa: BLE001  (a venue's frame must not end the connection task)
        raise ParseError("%s: reply hook failed: %s" % (venue, type(exc).__name__)) from None
