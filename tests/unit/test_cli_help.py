"""``liqmon --help`` in plain text with every command; every option has help and a default."""

import argparse
import subprocess
import sys
from collections.abc import Iterator

import pytest

from monitor.cli import build_parser


def parsers(
    parser: argparse.ArgumentParser, name: str = "liqmon"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from parsers(sub, "%s %s" % (name, sub_name))


def commands(parser: argparse.ArgumentParser) -> list[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []


ALL = list(parsers(build_parser()))


def test_top_level_help_lists_every_command_in_plain_text() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "monitor", "--help"], capture_output=True, text=True, check=True
    ).stdout
    names = commands(build_parser())
    assert {"run", "ingest", "aggregate", "replay", "record", "check-config", "evaluate"} <= set(
        names
    )
    for name in names:
        assert "\n    %s" % name in out, name
    assert "``" not in out  # no reStructuredText markup
    assert "liqmon COMMAND --help" in out


@pytest.mark.parametrize(("name", "parser"), ALL, ids=[n for n, _ in ALL])
def test_every_option_has_help_that_says_its_default(
    name: str, parser: argparse.ArgumentParser
) -> None:
    formatter = parser._get_formatter()
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._VersionAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            continue
        label = "/".join(action.option_strings) or action.dest
        assert action.help, "%s %s: no help text" % (name, label)
        text = formatter._expand_help(action)
        assert "default" in text or "required" in text, "%s %s: %r" % (name, label, text)
