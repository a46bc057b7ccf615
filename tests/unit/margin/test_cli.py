"""``liqmon margin add``: validated like a calendar row, printed, appended to a calendar."""

from __future__ import annotations

import argparse

import msgspec
import pytest

from monitor.codec import decode
from monitor.config import Settings
from monitor.errors import InputError
from monitor.events import MarginChange
from monitor.margin import cli
from monitor.margin.calendar import read_calendar
from tests.unit.margin.conftest import CLASSES, ns

ADD = [
    "margin", "add", "--venue", "cme", "--product", "SI", "--asset", "XAG",
    "--basis", "pct_notional", "--old", "15", "--new", "18",
    "--notice", "2026-02-05", "--effective", "2026-02-06T22:00Z",
    "--source", "https://www.c114pro.com/newsflashes/145065.html",
]  # fmt: skip


def parse(argv):
    """A parser wired the way monitor/cli.py is asked to wire it."""
    parser = argparse.ArgumentParser(prog="liqmon")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config")
    common.add_argument("--log-level")
    common.add_argument("--log-format")
    sub = parser.add_subparsers(dest="command", required=True)
    cli.add_parser(sub, common)
    return parser.parse_args(argv)


def test_margin_add_prints_a_valid_contract_event(capsys):
    # Act
    code = cli.run(parse(ADD), Settings())

    # Assert
    assert code == 0
    event = decode(capsys.readouterr().out)
    assert isinstance(event, MarginChange)
    assert (event.venue, event.product, event.asset, event.asset_class) == (
        "cme",
        "SI",
        "XAG",
        "metal",
    )
    assert event.tightening == pytest.approx(1 / 6)
    assert event.notice_ts_ns == ns("2026-02-05T22:00:00+00:00")
    assert event.effective_ts_ns == ns("2026-02-06T22:00:00+00:00")


@pytest.mark.parametrize("suffix", ["csv", "yaml"])
def test_margin_add_appends_a_row_that_the_calendar_loads(tmp_path, capsys, suffix):
    # Arrange: an existing calendar with one row
    out = tmp_path / f"cal.{suffix}"
    assert cli.run(parse([*ADD, "--out", str(out)]), Settings()) == 0
    first = decode(capsys.readouterr().out.splitlines()[0])

    # Act: a second, loosening change for the HRP profile
    argv = [a if a != "18" else "16.5" for a in ADD]
    argv[argv.index("15")] = "18"
    assert cli.run(parse([*argv, "--profile", "HRP", "--out", str(out)]), Settings()) == 0
    second = decode(capsys.readouterr().out.splitlines()[0])

    # Assert
    read = read_calendar(out, CLASSES)
    assert read.errors == []
    assert read.events == [first, second]
    assert second.product == "SI:HRP"
    assert second.tightening < 0


def test_margin_add_names_the_bad_flag():
    argv = [*ADD]
    argv[argv.index("15")] = "-3"

    with pytest.raises(InputError, match=r"^margin add: --old: must be percent points"):
        cli.run(parse(argv), Settings())


def test_margin_add_post_needs_the_token_variable(monkeypatch):
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    args = parse([*ADD, "--post", "http://127.0.0.1:9", "--token-env", "NO_SUCH_TOKEN"])

    with pytest.raises(InputError, match="NO_SUCH_TOKEN: the variable is not set"):
        cli.run(args, Settings())


def test_margin_add_refuses_to_append_to_a_yaml_mapping(tmp_path):
    out = tmp_path / "cal.yaml"
    out.write_text("changes: []\n")

    with pytest.raises(InputError, match="top-level list"):
        cli.run(parse([*ADD, "--out", str(out)]), Settings())


def test_json_of_the_event_round_trips():
    change = cli.change_from_args(parse(ADD), Settings())

    assert msgspec.json.decode(msgspec.json.encode(change), type=MarginChange) == change
