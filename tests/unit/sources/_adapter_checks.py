"""Helpers for the adapter tests of binance_usdm, binance_coinm, bybit and okx.

Golden files: ``tests/fixtures/expected/<venue>/<fixture>.jsonl``, one contract event per
line (``monitor.codec.encode``). Property helpers: the only allowed outcomes of a parser are
valid events or `ParseError`.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from monitor import codec
from monitor.errors import ParseError
from monitor.events import Event, Liquidation, Tick

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TS_RECV_NS = 1_700_000_000_000_000_000
CLASSES: dict[str, Any] = {"XAU": "metal", "XAG": "metal", "TSLA": "equity", "NVDA": "equity"}


def payload(venue: str, name: str) -> bytes:
    """Return the bytes of one fixture frame."""
    return (FIXTURES / "payloads" / venue / ("%s.json" % name)).read_bytes()


def expected(venue: str, name: str) -> list[Event]:
    """Return the golden events of one fixture."""
    path = FIXTURES / "expected" / venue / ("%s.jsonl" % name)
    return [codec.decode(line) for line in path.read_bytes().splitlines() if line.strip()]


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


def outcome_ok(parse: Callable[[str | bytes, int], list[Event]], frame: str | bytes) -> None:
    """Feed `frame`: a list of valid events or ParseError, nothing else."""
    try:
        events = parse(frame, TS_RECV_NS)
    except ParseError:
        return
    for event in events:
        assert_valid(event)


_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
    st.sampled_from(
        ["0", "-1", "-0.5", "nan", "NaN", "inf", "-inf", "1e400", "1e-400", "", "x", "Buy", "SELL"]
    ),
)
JSON_VALUES = st.recursive(
    _LEAF,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
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
def mutated(draw: st.DrawFn, frame: bytes) -> str:
    """Return `frame` with 1-3 random deletions or replacements anywhere in it."""
    obj = copy.deepcopy(json.loads(frame))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        slots = list(_slots(obj))
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        if draw(st.booleans()):
            del container[key]
        else:
            container[key] = draw(JSON_VALUES)
    return json.dumps(obj)


def with_extra_fields(frame: bytes) -> bytes:
    """Return `frame` with an unknown field added to every object in it."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {**{k: walk(v) for k, v in node.items()}, "zzUnknown": {"a": [1, "b"]}}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return json.dumps(walk(json.loads(frame))).encode()
