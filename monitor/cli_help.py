"""How ``liqmon --help`` reads: plain text, every command listed, every option's default.

`LiqmonParser` is the parser class of the command and of every subcommand (argparse passes
it down through ``add_subparsers``); its formatter appends ``(default: X)`` to an option's
help when the default is a value and the help does not already say it, and
``(required)`` to a required option. Options whose default is "not given" (None) say in
their own help text what happens then ("default: the config's http.listen").
"""

from __future__ import annotations

import argparse
from typing import Any


class DefaultsFormatter(argparse.HelpFormatter):
    """Appends the default (or "required") to each option's help."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.help is argparse.SUPPRESS or "default" in text:
            return action.help
        if action.required and action.option_strings:
            return "%s (required)" % text if text else "(required)"
        unset = action.default is None or action.default is False
        if not unset and action.default is not argparse.SUPPRESS and action.option_strings:
            return "%s (default: %%(default)s)" % text if text else "(default: %(default)s)"
        return action.help


class LiqmonParser(argparse.ArgumentParser):
    """An `argparse.ArgumentParser` that formats help with `DefaultsFormatter`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401  (argparse's own)
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)
