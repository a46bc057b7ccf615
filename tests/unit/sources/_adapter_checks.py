"""Helpers shared by the venue adapter tests (``tests/unit/sources/test_<venue>.py``).

Fixtures: frames in ``tests/fixtures/payloads/<venue>/<name>.json``, golden events in
``tests/fixtures/expected/<venue>/<name>.jsonl``, one contract event per line
(``monitor.codec.encode``). Property helpers: the only allowed outcomes of a parser are
valid events or `ParseError`; `PROPERTY` runs each property test on 200 examples.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

from monitor import codec
from monitor.config import AssetSettings
from monitor.errors import ParseError
from monitor.events import AssetClass, Event, Liquidation, Tick
from monitor.sources.base import Instrument, InstrumentBook

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TS_RECV_NS = 1_700_000_000_000_000_000
CLASSES: dict[str, Any] = {"XAU": "metal", "XAG": "metal", "TSLA": "equity", "NVDA": "equity"}
"""A small asset-class table (the binance, bybit and okx tests)."""
SETTINGS_CLASSES: Mapping[str, AssetClass] = AssetSettings().classes
"""The default ``assets.classes`` table of the config (the other venue tests)."""
PROPERTY = settings(max_examples=200, deadline=None)
"""The settings of every property test: 200 examples, no deadline."""


def payload(venue: str, name: str) -> bytes:
    """Return the bytes of one fixture frame."""
    return (FIXTURES / "payloads" / venue / ("%s.json" % name)).read_bytes()


def text(venue: str, name: str) -> str:
    """Return one fixture frame as text (a WebSocket text frame)."""
    return (FIXTURES / "payloads" / venue / ("%s.json" % name)).read_text()


def expected(venue: str, name: str) -> list[Event]:
    """Return the golden events of one fixture."""
    path = FIXTURES / "expected" / venue / ("%s.jsonl" % name)
    return [codec.decode(line) for line in path.read_bytes().splitlines() if line.strip()]


def assert_golden(
    parse: Callable[[str | bytes, int], list[Event]],
    venue: str,
    name: str,
    *,
    extra_fields: bool = False,
) -> list[Event]:
    """Parse fixture `name` (with unknown fields added when asked); assert it gives its goldens.

    Returns:
        The events, for further assertions.
    """
    frame = payload(venue, name)
    events = parse(with_extra_fields(frame) if extra_fields else frame, TS_RECV_NS)
    assert events == expected(venue, name)
    return events


def frame_names(venue: str, skip_prefix: str) -> list[str]:
    """Return the sorted fixture names of `venue`, leaving out REST bodies (`skip_prefix`)."""
    paths = (FIXTURES / "payloads" / venue).glob("*.json")
    return sorted(p.stem for p in paths if not p.stem.startswith(skip_prefix))


def instruments(
    venue: ModuleType, names: Sequence[str], classes: Mapping[str, AssetClass]
) -> list[Instrument]:
    """Return the instruments `venue.parse_instruments` reads from the REST fixtures `names`."""
    out: list[Instrument] = []
    for name in names:
        out += venue.parse_instruments(payload(venue.NAME, name), classes)
    return out


def book(
    venue: ModuleType, *names: str, classes: Mapping[str, AssetClass] = SETTINGS_CLASSES
) -> InstrumentBook:
    """Return the `InstrumentBook` of `venue` built from its REST fixtures `names`."""
    return InstrumentBook(venue.NAME, instruments(venue, names, classes), classes, venue.fallback)


def assert_valid(event: Event) -> None:
    """Assert the invariants every parsed event must hold."""
    assert isinstance(event, Liquidation | Tick)
    assert math.isfinite(event.price)
    assert event.price > 0
    assert event.ts_event_ns > 0
    if isinstance(event, Liquidation):
        assert math.isfinite(event.qty)
        assert event.qty > 0
        assert math.isfinite(event.notional_usd)
        assert event.notional_usd > 0
    else:
        for value in (event.bid, event.ask, event.open_interest_usd, event.funding_rate):
            assert value is None or math.isfinite(value)
    codec.decode(codec.encode(event))  # the bus can carry it


def outcome_ok(parse: Callable[[str | bytes, int], list[Event]], frame: str | bytes) -> list[Event]:
    """Feed `frame`: a list of valid events or ParseError, nothing else.

    Returns:
        The events (all valid), or [] when the frame raised `ParseError`.
    """
    try:
        events = parse(frame, TS_RECV_NS)
    except ParseError:
        return []
    for event in events:
        assert_valid(event)
    return events


def instruments_ok(
    parse_instruments: Callable[[bytes, Mapping[str, AssetClass]], list[Instrument]],
    body: bytes,
    classes: Mapping[str, AssetClass] = SETTINGS_CLASSES,
) -> None:
    """Feed a REST body to `parse_instruments`: a list or ParseError, nothing else."""
    with contextlib.suppress(ParseError):
        assert isinstance(parse_instruments(body, classes), list)


def arbitrary(max_size: int = 200) -> st.SearchStrategy[str | bytes]:
    """Return a strategy of arbitrary frames: bytes or text up to `max_size`."""
    return st.binary(max_size=max_size) | st.text(max_size=max_size)


@functools.cache
def json_values(*words: str) -> st.SearchStrategy[Any]:
    """Return a strategy of JSON values whose leaves include tricky numbers and `words`."""
    leaf = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=8),
        st.sampled_from(
            [
                *("0", "-1", "-0.5", "nan", "NaN", "inf", "-inf", "1e400", "1e-400", ""),
                *("x", "Buy", "SELL", *words),
            ]
        ),
    )
    return st.recursive(
        leaf,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
        ),
        max_leaves=6,
    )


def _slots(node: Any) -> Iterator[tuple[Any, Any]]:
    """Yield (container, key) for every value inside `node`, depth first."""
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, value in list(items):
        yield node, key
        yield from _slots(value)


@st.composite
def mutated(draw: st.DrawFn, frame: str | bytes, *words: str, replace_root: bool = False) -> str:
    """Return `frame` with 1-3 random deletions or replacements anywhere in it.

    Replacement values come from `json_values(*words)`; with `replace_root` the whole
    document may be replaced too.
    """
    values = json_values(*words)
    holder = [json.loads(frame)]  # (holder, 0) is the slot of the whole document
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        slots = list(_slots(holder))[0 if replace_root else 1 :]
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        if container is not holder and draw(st.booleans()):
            del container[key]
        else:
            container[key] = draw(values)
    return json.dumps(holder[0])


def with_extra_fields(frame: bytes) -> bytes:
    """Return `frame` with an unknown field added to every object in it."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {**{k: walk(v) for k, v in node.items()}, "zzUnknown": {"a": [1, "b"]}}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return json.dumps(walk(json.loads(frame))).encode()
