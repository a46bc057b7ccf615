"""Event contract v1: codec round trips, decode errors, tightening, topics and keys."""

from __future__ import annotations

import msgspec
import pytest

from monitor.codec import decode, encode
from monitor.errors import InputError
from monitor.events import (
    TOPIC_ALERTS,
    TOPIC_LIQUIDATIONS,
    TOPIC_MARGIN,
    TOPIC_TICKS,
    Alert,
    Liquidation,
    MarginChange,
    Tick,
    key_of,
    tightening_of,
    topic_of,
)

LIQ = Liquidation(
    exchange="binance_usdm",
    symbol="BTC-USDT-PERP",
    venue_symbol="BTCUSDT",
    asset="BTC",
    asset_class="crypto",
    position_side="long",
    price=64_000.5,
    qty=0.25,
    notional_usd=16_000.125,
    ts_event_ns=1_700_000_000_000_000_000,
    ts_recv_ns=1_700_000_000_050_000_000,
    completeness="sampled",
    event_id="binance_usdm:BTCUSDT:1",
)
TICK = Tick(
    exchange="bybit",
    symbol="XAU-USDT-PERP",
    venue_symbol="XAUUSDT",
    asset="XAU",
    asset_class="metal",
    price=2_400.25,
    bid=2_400.0,
    ask=2_400.5,
    open_interest_usd=12_345_678.0,
    funding_rate=-0.0001,
    ts_event_ns=1_700_000_001_000_000_000,
    ts_recv_ns=1_700_000_001_000_000_001,
)
TICK_MINIMAL = Tick(
    exchange="okx",
    symbol="ETH-USDT-PERP",
    venue_symbol="ETH-USDT-SWAP",
    asset="ETH",
    asset_class="crypto",
    price=3_000.0,
    ts_event_ns=1,
    ts_recv_ns=2,
)
MARGIN = MarginChange(
    venue="cme",
    product="SI",
    asset="XAG",
    asset_class="metal",
    basis="pct_notional",
    old=15.0,
    new=18.0,
    tightening=1.0 - 15.0 / 18.0,
    notice_ts_ns=1_700_000_000_000_000_000,
    effective_ts_ns=1_700_086_400_000_000_000,
    source="https://example.invalid/notice",
    event_id="cme:SI:1",
)
ALERT = Alert(
    alert_id="0123456789abcdef",
    kind="cascade",
    scope="BTC",
    state="firing",
    severity="critical",
    wave=2,
    started_ns=1_700_000_000_000_000_000,
    ts_ns=1_700_000_020_000_000_000,
    summary="BTC: $12.00M liquidated in 60s",
    evidence={
        "window_s": 60,
        "liquidated_usd": 12_000_000.5,
        "instrument": "binance_usdm:BTCUSDT",
        "exchanges": ["binance_usdm", "bybit"],
    },
)


@pytest.mark.parametrize("event", [LIQ, TICK, TICK_MINIMAL, MARGIN, ALERT])
def test_round_trip_gives_an_equal_event_of_the_same_type(event):
    # Act
    decoded = decode(encode(event))

    # Assert
    assert type(decoded) is type(event)
    assert decoded == event


def test_decode_accepts_str_as_well_as_bytes():
    # Act
    decoded = decode(encode(TICK).decode())

    # Assert
    assert decoded == TICK


@pytest.mark.parametrize(
    ("event", "tag"),
    [(LIQ, "liquidation"), (TICK, "tick"), (MARGIN, "margin_change"), (ALERT, "alert")],
)
def test_encoded_json_is_tagged_by_type(event, tag):
    # Act
    data = msgspec.json.decode(encode(event))

    # Assert
    assert data["type"] == tag


def test_alert_evidence_keeps_value_types():
    # Act
    decoded = decode(encode(ALERT))

    # Assert
    assert isinstance(decoded, Alert)
    assert decoded.evidence == {
        "window_s": 60,
        "liquidated_usd": 12_000_000.5,
        "instrument": "binance_usdm:BTCUSDT",
        "exchanges": ["binance_usdm", "bybit"],
    }
    assert type(decoded.evidence["window_s"]) is int
    assert type(decoded.evidence["liquidated_usd"]) is float


def test_encode_has_no_trailing_newline():
    # Act
    data = encode(LIQ)

    # Assert
    assert not data.endswith(b"\n")


def test_unknown_extra_field_is_ignored():
    # Arrange
    data = msgspec.json.decode(encode(LIQ))
    data["added_in_a_later_minor_version"] = {"nested": [1, 2]}

    # Act
    decoded = decode(msgspec.json.encode(data))

    # Assert
    assert decoded == LIQ


def test_unknown_type_raises_input_error():
    # Arrange
    data = msgspec.json.decode(encode(LIQ))
    data["type"] = "trade"

    # Act / Assert
    with pytest.raises(InputError, match="trade"):
        decode(msgspec.json.encode(data))


def test_wrong_field_type_raises_input_error_naming_the_field():
    # Arrange
    data = msgspec.json.decode(encode(LIQ))
    data["price"] = "64000.5"

    # Act / Assert
    with pytest.raises(InputError, match=r"price"):
        decode(msgspec.json.encode(data))


def test_missing_required_field_raises_input_error():
    # Arrange
    data = msgspec.json.decode(encode(TICK))
    del data["ts_event_ns"]

    # Act / Assert
    with pytest.raises(InputError, match="ts_event_ns"):
        decode(msgspec.json.encode(data))


def test_value_outside_a_literal_raises_input_error():
    # Arrange
    data = msgspec.json.decode(encode(LIQ))
    data["position_side"] = "buy"

    # Act / Assert
    with pytest.raises(InputError, match="position_side"):
        decode(msgspec.json.encode(data))


def test_malformed_json_raises_input_error():
    # Act / Assert
    with pytest.raises(InputError):
        decode(b'{"type": "tick", ')


def test_input_error_is_not_retriable():
    # Act
    with pytest.raises(InputError) as excinfo:
        decode(b"not json")

    # Assert
    assert excinfo.value.retriable is False


@pytest.mark.parametrize(
    ("basis", "old", "new", "expected"),
    [
        ("pct_notional", 8.0, 9.0, 1 / 9),
        ("usd_per_contract", 15.0, 18.0, 1 / 6),
        ("maintenance_rate", 0.004, 0.005, 0.2),
        ("max_leverage", 100.0, 50.0, 0.5),
    ],
)
def test_tightening_of_a_hike(basis, old, new, expected):
    # Act
    d = tightening_of(basis, old, new)

    # Assert
    assert d == pytest.approx(expected, rel=1e-12)


def test_tightening_of_known_rounded_values():
    # Act / Assert
    assert round(tightening_of("pct_notional", 8, 9), 4) == 0.1111
    assert round(tightening_of("usd_per_contract", 15, 18), 4) == 0.1667
    assert tightening_of("max_leverage", 100, 50) == 0.5


@pytest.mark.parametrize(
    ("basis", "old", "new", "expected"),
    [
        ("pct_notional", 9.0, 8.0, -0.125),
        ("max_leverage", 50.0, 100.0, -1.0),
    ],
)
def test_tightening_of_a_loosening_is_negative(basis, old, new, expected):
    # Act
    d = tightening_of(basis, old, new)

    # Assert
    assert d < 0
    assert d == pytest.approx(expected, rel=1e-12)


def test_tightening_of_no_change_is_zero():
    # Act / Assert
    assert tightening_of("pct_notional", 10.0, 10.0) == 0.0
    assert tightening_of("max_leverage", 20.0, 20.0) == 0.0


@pytest.mark.parametrize(
    ("old", "new"),
    [(0.0, 5.0), (5.0, 0.0), (-1.0, 5.0), (5.0, -1.0)],
)
@pytest.mark.parametrize("basis", ["pct_notional", "max_leverage"])
def test_tightening_of_non_positive_values_raises(basis, old, new):
    # Act / Assert
    with pytest.raises(ValueError, match="must be positive"):
        tightening_of(basis, old, new)


@pytest.mark.parametrize(
    ("event", "topic", "key"),
    [
        (LIQ, TOPIC_LIQUIDATIONS, "BTC-USDT-PERP"),
        (TICK, TOPIC_TICKS, "XAU-USDT-PERP"),
        (MARGIN, TOPIC_MARGIN, "XAG"),
        (ALERT, TOPIC_ALERTS, "BTC"),
    ],
)
def test_topic_and_key_of_each_type(event, topic, key):
    # Act / Assert
    assert topic_of(event) == topic
    assert key_of(event) == key


def test_topic_names_are_versioned():
    # Act / Assert
    assert (TOPIC_LIQUIDATIONS, TOPIC_TICKS, TOPIC_MARGIN, TOPIC_ALERTS) == (
        "liqmon.liquidations.v1",
        "liqmon.ticks.v1",
        "liqmon.margin.v1",
        "liqmon.alerts.v1",
    )
