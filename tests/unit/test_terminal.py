"""The progress line: never shares a line with an alert; percent and ETA from bytes read."""

import gzip
import io
import time
from pathlib import Path

from monitor.alerts.sinks import TextSink
from monitor.events import Alert
from monitor.io.files import open_read
from monitor.replay.source import Progress, ReplaySource
from monitor.terminal import StatusLine, progress_text

NS = 1_000_000_000


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def screen(raw: str) -> list[str]:
    """Render what a terminal shows: ``\\r\\x1b[K`` erases the current line."""
    lines = [""]
    for chunk in raw.replace("\r\x1b[K", "\x00").split("\x00"):
        lines[-1] = ""  # the erase
        parts = chunk.split("\n")
        lines[-1] += parts[0]
        lines.extend(parts[1:])
    return lines


def an_alert() -> Alert:
    return Alert(
        alert_id="a1", kind="cascade", scope="BTC", state="firing", severity="warning", wave=1,
        started_ns=1_767_225_600 * NS, ts_ns=1_767_225_600 * NS, summary="BTC: $1M in 60s",
        evidence={},
    )  # fmt: skip


def test_an_alert_never_shares_the_progress_line() -> None:
    term = Tty()
    status = StatusLine(term)
    sink = TextSink(term, before=status.clear)
    status.show("12.0% · 100 events")
    sink.send(an_alert())
    status.show("13.0% · 120 events")
    shown = screen(term.getvalue())
    assert shown[0].startswith("2026-01-01 00:00:00Z  FIRING")  # the alert, alone on its line
    assert "events" not in shown[0]
    assert shown[1] == "13.0% · 120 events"  # progress redrawn below it


def test_off_a_terminal_the_status_line_writes_nothing() -> None:
    out = io.StringIO()
    status = StatusLine(out)
    status.show("12%")
    status.clear()
    assert out.getvalue() == ""


def test_percent_and_eta_follow_the_bytes_read(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress(b"x" * 200_000, compresslevel=0))
    source = ReplaySource([path])
    progress = source.progress
    progress.started_monotonic = time.monotonic() - 10.0
    assert progress.fraction() == 0.0
    with open_read(path) as stream:
        stream.read(100_000)
        half = progress.fraction()
        assert half is not None
        assert 0.3 < half < 0.7
        text = progress_text(progress)
    assert text.startswith("%.1f%%" % (100 * half))
    assert "ETA 0:" in text  # ~10 s done at ~half way


def test_without_a_known_size_there_is_no_percent() -> None:
    progress = Progress(events=1234, started_monotonic=time.monotonic() - 1)
    text = progress_text(progress)
    assert text.startswith("1,234 events")
    assert "ETA" not in text
