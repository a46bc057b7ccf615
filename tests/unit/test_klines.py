"""Binance kline CSVs become four ticks per minute."""

from __future__ import annotations

import gzip

import pytest

from monitor.errors import InputError
from monitor.io.klines import read_klines, symbol_from_filename

HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore"
)
T0_MS = 1_761_955_200_000  # 2025-11-01T00:00:00Z
T1_MS = T0_MS + 60_000
FALLING = f"{T0_MS},2.50,2.60,2.30,2.40,1000,{T0_MS + 59_999},2450.0,42,500,1225.0,0"
RISING = f"{T1_MS},2.40,2.70,2.35,2.65,900,{T1_MS + 59_999},2300.0,40,450,1150.0,0"
S = 1_000_000_000


def write_csv(path, rows, *, header):
    lines = ([HEADER] if header else []) + rows
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("header", [True, False])
def test_each_row_gives_four_ticks_in_candle_order(tmp_path, header):
    # Arrange
    path = write_csv(tmp_path / "NEARUSDT-1m-2025-11.csv", [FALLING, RISING], header=header)
    t0, t1 = T0_MS * 1_000_000, T1_MS * 1_000_000

    # Act
    ticks = list(read_klines(path))

    # Assert
    assert [(t.ts_event_ns, t.price) for t in ticks] == [
        (t0, 2.50),
        (t0 + 15 * S, 2.60),
        (t0 + 30 * S, 2.30),
        (t0 + 45 * S, 2.40),
        (t1, 2.40),
        (t1 + 15 * S, 2.35),
        (t1 + 30 * S, 2.70),
        (t1 + 45 * S, 2.65),
    ]
    assert [t.ts_recv_ns for t in ticks] == [t.ts_event_ns for t in ticks]


def test_ticks_carry_the_instrument_identity(tmp_path):
    # Arrange
    path = write_csv(tmp_path / "NEARUSDT-1m-2025-11.csv", [FALLING], header=True)

    # Act
    ticks = list(read_klines(path))

    # Assert
    assert len(ticks) == 4
    assert {(t.symbol, t.venue_symbol, t.asset, t.exchange, t.asset_class) for t in ticks} == {
        ("NEAR-USDT-PERP", "NEARUSDT", "NEAR", "binance_usdm", "crypto")
    }
    assert {(t.bid, t.ask, t.open_interest_usd, t.funding_rate) for t in ticks} == {
        (None, None, None, None)
    }


def test_class_table_and_explicit_venue_symbol(tmp_path):
    # Arrange
    path = write_csv(tmp_path / "klines.csv", [FALLING], header=False)

    # Act
    ticks = list(read_klines(path, venue_symbol="XAUUSDT", classes={"XAU": "metal"}))

    # Assert
    assert {(t.symbol, t.venue_symbol, t.asset, t.asset_class) for t in ticks} == {
        ("XAU-USDT-PERP", "XAUUSDT", "XAU", "metal")
    }


def test_explicit_venue_symbol_beats_the_file_name(tmp_path):
    # Arrange
    path = write_csv(tmp_path / "NEARUSDT-1m-2025-11.csv", [FALLING], header=False)

    # Act
    ticks = list(read_klines(path, venue_symbol="solusdc"))

    # Assert
    assert {(t.symbol, t.venue_symbol, t.asset) for t in ticks} == {
        ("SOL-USDC-PERP", "SOLUSDC", "SOL")
    }


def test_gzipped_csv_is_read(tmp_path):
    # Arrange
    path = tmp_path / "NEARUSDT-1m-2025-11.csv.gz"
    path.write_bytes(gzip.compress(("\n".join([HEADER, FALLING, RISING]) + "\n").encode()))

    # Act
    prices = [t.price for t in read_klines(path)]

    # Assert
    assert prices == [2.50, 2.60, 2.30, 2.40, 2.40, 2.35, 2.70, 2.65]


def test_microsecond_open_time_gives_the_same_nanoseconds(tmp_path):
    # Arrange
    micros_row = FALLING.replace(str(T0_MS), str(T0_MS * 1_000), 1)
    assert len(micros_row.split(",")[0]) == 16
    ms_path = write_csv(tmp_path / "NEARUSDT-1m-2025-11.csv", [FALLING], header=False)
    us_path = write_csv(tmp_path / "NEARUSDT-1m-2025-12.csv", [micros_row], header=False)

    # Act
    ms_ts = [t.ts_event_ns for t in read_klines(ms_path)]
    us_ts = [t.ts_event_ns for t in read_klines(us_path)]

    # Assert
    assert us_ts == ms_ts
    assert us_ts[0] == T0_MS * 1_000_000


@pytest.mark.parametrize(
    "bad_row",
    [
        "not-a-time,2.5,2.6,2.3,2.4,1,2,3,4,5,6,0",
        f"{T1_MS},2.5,2.6",
        f"{T1_MS},2.5,abc,2.3,2.4,1,2,3,4,5,6,0",
        f"{T1_MS},2.5,2.6,2.7,2.4,1,2,3,4,5,6,0",  # low above high
        f"{T1_MS},0,2.6,2.3,2.4,1,2,3,4,5,6,0",  # non-positive price
    ],
)
def test_bad_row_raises_naming_file_and_line(tmp_path, bad_row):
    # Arrange
    path = write_csv(tmp_path / "NEARUSDT-1m-2025-11.csv", [FALLING, bad_row], header=True)
    seen = []
    error = None

    # Act
    try:
        for tick in read_klines(path):
            seen.append(tick)
    except InputError as exc:
        error = exc

    # Assert
    assert error is not None
    assert str(error).startswith(f"{path}:3: ")
    assert len(seen) == 4


def test_file_name_without_symbol_and_no_venue_symbol_raises(tmp_path):
    # Arrange
    path = write_csv(tmp_path / "klines.csv", [FALLING], header=False)

    # Act / Assert
    with pytest.raises(InputError, match="cannot tell the symbol") as excinfo:
        list(read_klines(path))
    assert str(excinfo.value).startswith(f"{path}: ")


def test_symbol_without_known_quote_raises(tmp_path):
    # Arrange
    path = write_csv(tmp_path / "klines.csv", [FALLING], header=False)

    # Act / Assert
    with pytest.raises(InputError, match="no known quote currency") as excinfo:
        list(read_klines(path, venue_symbol="BTCEUR"))
    assert str(excinfo.value).startswith(f"{path}: ")


def test_missing_file_raises_input_error(tmp_path):
    # Arrange
    path = tmp_path / "NEARUSDT-1m-2025-11.csv"

    # Act / Assert
    with pytest.raises(InputError) as excinfo:
        list(read_klines(path))
    assert str(excinfo.value).startswith(f"{path}: cannot open: ")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("NEARUSDT-1m-2025-11.csv", "NEARUSDT"),
        ("1000PEPEUSDT-1m-2025-11-03.csv.gz", "1000PEPEUSDT"),
        ("BTCUSDT-1h-2024-01.zip", "BTCUSDT"),
        ("klines.csv", None),
        ("nearusdt-1m-2025-11.csv", None),
    ],
)
def test_symbol_from_filename(tmp_path, name, expected):
    # Act / Assert
    assert symbol_from_filename(tmp_path / name) == expected
