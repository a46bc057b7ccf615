"""JSON-lines event files: plain, gzip and zstd round trips, and error reporting."""

from __future__ import annotations

import gzip

import msgspec
import pytest
import zstandard

from monitor.codec import encode
from monitor.errors import InputError
from monitor.events import Alert, Liquidation, Tick
from monitor.io.jsonl import EventWriter, read_event_batches, read_events

EVENTS = [
    Liquidation(
        exchange="binance_usdm",
        symbol="BTC-USDT-PERP",
        venue_symbol="BTCUSDT",
        asset="BTC",
        asset_class="crypto",
        position_side="short",
        price=60_000.0,
        qty=0.5,
        notional_usd=30_000.0,
        ts_event_ns=1_000,
        ts_recv_ns=1_001,
        event_id="e1",
    ),
    Tick(
        exchange="binance_usdm",
        symbol="BTC-USDT-PERP",
        venue_symbol="BTCUSDT",
        asset="BTC",
        asset_class="crypto",
        price=59_990.5,
        ts_event_ns=2_000,
        ts_recv_ns=2_001,
    ),
    Alert(
        alert_id="abc",
        kind="cascade",
        scope="BTC",
        state="pending",
        severity="warning",
        wave=1,
        started_ns=3_000,
        ts_ns=3_000,
        summary="BTC hot",
        evidence={"window_s": 60, "venues": ["binance_usdm"]},
    ),
]


@pytest.mark.parametrize("name", ["events.jsonl", "events.jsonl.gz", "events.jsonl.zst"])
def test_write_then_read_gives_the_same_events(tmp_path, name):
    # Arrange
    path = tmp_path / name

    # Act
    with EventWriter(path) as writer:
        writer.write(EVENTS[0])
        writer.write_all(EVENTS[1:])
    read = list(read_events(path))

    # Assert
    assert writer.count == 3
    assert read == EVENTS


def test_gz_file_is_really_gzip(tmp_path):
    # Arrange
    path = tmp_path / "events.jsonl.gz"

    # Act
    with EventWriter(path) as writer:
        writer.write_all(EVENTS)

    # Assert
    assert gzip.decompress(path.read_bytes()) == b"".join(encode(e) + b"\n" for e in EVENTS)


def test_zst_file_is_really_zstandard(tmp_path):
    # Arrange
    path = tmp_path / "events.jsonl.zst"

    # Act
    with EventWriter(path) as writer:
        writer.write_all(EVENTS)

    # Assert
    with zstandard.ZstdDecompressor().stream_reader(path.open("rb")) as reader:
        text = reader.read()
    assert text == b"".join(encode(e) + b"\n" for e in EVENTS)


def test_plain_file_has_one_json_object_per_line(tmp_path):
    # Arrange
    path = tmp_path / "events.jsonl"

    # Act
    with EventWriter(path) as writer:
        writer.write_all(EVENTS)

    # Assert
    assert path.read_bytes().split(b"\n") == [*(encode(e) for e in EVENTS), b""]


def test_empty_file_yields_nothing(tmp_path):
    # Arrange
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")

    # Act
    read = list(read_events(path))

    # Assert
    assert read == []


def test_blank_lines_are_skipped(tmp_path):
    # Arrange
    path = tmp_path / "events.jsonl"
    lines = [b"", encode(EVENTS[0]), b"   ", encode(EVENTS[1]), b"\t", b"", encode(EVENTS[2]), b""]
    path.write_bytes(b"\n".join(lines) + b"\n")

    # Act
    read = list(read_events(path))

    # Assert
    assert read == EVENTS


def test_crlf_line_endings_are_read(tmp_path):
    # Arrange
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(encode(e) + b"\r\n" for e in EVENTS))

    # Act
    read = list(read_events(path))

    # Assert
    assert read == EVENTS


def test_malformed_line_raises_naming_file_and_line_after_yielding_earlier_records(tmp_path):
    # Arrange
    path = tmp_path / "events.jsonl"
    good = [encode(EVENTS[0]), encode(EVENTS[1])]
    path.write_bytes(b"\n".join([*good, b'{"type": "liquidation", "exchange": 5}', good[0]]))
    seen = []
    error = None

    # Act
    try:
        for event in read_events(path):
            seen.append(event)
    except InputError as exc:
        error = exc

    # Assert
    assert seen == EVENTS[:2]
    assert error is not None
    message = str(error)
    assert message.startswith(f"{path}:3: ")
    assert len(message) > len(f"{path}:3: ")
    assert "\n" not in message


def test_line_numbers_count_blank_lines(tmp_path):
    # Arrange
    path = tmp_path / "events.jsonl"
    path.write_bytes(encode(EVENTS[0]) + b"\n\n\nnot json\n")

    # Act
    with pytest.raises(InputError) as excinfo:
        list(read_events(path))

    # Assert
    assert str(excinfo.value).startswith(f"{path}:4: ")


def test_unknown_type_in_a_file_names_the_line(tmp_path):
    # Arrange
    path = tmp_path / "events.jsonl.gz"
    with gzip.open(path, "wb") as f:
        f.write(encode(EVENTS[0]) + b"\n" + b'{"type": "trade"}\n')

    # Act
    with pytest.raises(InputError) as excinfo:
        list(read_events(path))

    # Assert
    assert str(excinfo.value).startswith(f"{path}:2: ")
    assert "trade" in str(excinfo.value)


def test_missing_file_raises_input_error_naming_the_path(tmp_path):
    # Arrange
    path = tmp_path / "does-not-exist.jsonl"

    # Act
    with pytest.raises(InputError) as excinfo:
        list(read_events(path))

    # Assert
    assert str(excinfo.value).startswith(f"{path}: cannot open: ")


def collect(batches, into):
    for batch in batches:
        into.extend(batch)


def many_events(n):
    return [msgspec.structs.replace(EVENTS[0], event_id="e%d" % i, ts_event_ns=i) for i in range(n)]


@pytest.mark.parametrize("name", ["events.jsonl", "events.jsonl.gz", "events.jsonl.zst"])
def test_small_chunks_cut_at_line_ends_give_every_event_once_in_order(tmp_path, name):
    # Arrange: ~330-byte lines read 1,000 bytes at a time, so most chunks end mid-line
    path = tmp_path / name
    events = many_events(50)
    with EventWriter(path) as writer:
        writer.write_all(events)

    # Act
    batches = list(read_event_batches(path, chunk_bytes=1000))

    # Assert
    assert len(batches) > 10
    assert [e for batch in batches for e in batch] == events


def test_a_line_longer_than_the_chunk_is_read_whole(tmp_path):
    # Arrange
    path = tmp_path / "events.jsonl"
    long_alert = msgspec.structs.replace(EVENTS[2], summary="x" * 5000)
    path.write_bytes(b"".join(encode(e) + b"\n" for e in [EVENTS[0], long_alert, EVENTS[1]]))

    # Act
    read = [e for batch in read_event_batches(path, chunk_bytes=512) for e in batch]

    # Assert
    assert read == [EVENTS[0], long_alert, EVENTS[1]]


def test_last_line_without_newline_is_read(tmp_path):
    # Arrange
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(encode(e) for e in EVENTS))

    # Act
    read = [e for batch in read_event_batches(path, chunk_bytes=100) for e in batch]

    # Assert
    assert read == EVENTS


def test_bad_record_in_a_later_chunk_names_its_line_after_every_earlier_event(tmp_path):
    # Arrange: 40 good lines, a bad one (line 41), then more good lines
    path = tmp_path / "events.jsonl.gz"
    events = many_events(60)
    lines = [encode(e) for e in events[:40]] + [b'{"type": "tick", "price": "x"}']
    lines += [encode(e) for e in events[40:]]
    with gzip.open(path, "wb") as f:
        f.write(b"\n".join(lines) + b"\n")
    seen = []

    # Act
    with pytest.raises(InputError) as excinfo:
        collect(read_event_batches(path, chunk_bytes=2000), seen)

    # Assert
    assert seen == events[:40]
    assert str(excinfo.value).startswith(f"{path}:41: ")
    assert "\n" not in str(excinfo.value)


def test_truncated_gzip_names_the_file_after_the_events_before_the_cut(tmp_path):
    # Arrange
    path = tmp_path / "events.jsonl.gz"
    events = many_events(200)
    whole = gzip.compress(b"".join(encode(e) + b"\n" for e in events))
    path.write_bytes(whole[: len(whole) * 3 // 4])
    seen = []

    # Act
    with pytest.raises(InputError) as excinfo:
        collect(read_event_batches(path, chunk_bytes=4096), seen)

    # Assert
    assert "corrupt or truncated file" in str(excinfo.value)
    assert str(excinfo.value).startswith(f"{path}:")
    assert seen == events[: len(seen)]
    assert 0 < len(seen) < len(events)
