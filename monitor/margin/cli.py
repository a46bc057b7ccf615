r"""``liqmon margin add``: enter one margin change by hand.

    liqmon margin add --venue cme --product SI --asset XAG --basis pct_notional \
        --old 15 --new 18 --notice 2026-02-05 --effective 2026-02-06T22:00Z \
        [--source URL] [--profile HRP] [--asset-class metal] \
        [--out CALENDAR.csv|.yaml | --post http://127.0.0.1:9464 [--token-env VAR]]

The change is validated like a calendar row (times and units: `monitor.margin.model`) and
printed as one contract JSON line on stdout. ``--out`` appends it to a calendar file (CSV
or a top-level YAML list; created with a header when missing) and re-reads the file to
prove the row loads; a running daemon's watcher then publishes it. ``--post`` sends it to
a daemon's ``POST /api/v1/margin-changes`` with the bearer token read from the environment
variable ``--token-env`` (default ``LIQMON_HTTP__API_TOKEN``, the daemon's own setting).
Exit codes: 0 done; 2 bad input or a refused request (raised as `InputError`); 1 the daemon
could not be reached (`MonitorError`).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit, urlunsplit

import yaml

from monitor.codec import encode
from monitor.errors import InputError, MonitorError
from monitor.events import ASSET_CLASSES, MarginChange
from monitor.margin.calendar import REQUIRED_COLUMNS, parse_calendar
from monitor.margin.model import BASES, PATH, FieldError, build_change, format_ts

if TYPE_CHECKING:
    from monitor.config import Settings

DEFAULT_TOKEN_ENV: Final = "LIQMON_HTTP__API_TOKEN"  # noqa: S105  (a variable name)
CSV_COLUMNS: Final = (*REQUIRED_COLUMNS, "asset_class", "profile", "source")
_FLAGS: Final = ("venue", "product", "asset", "asset_class", "basis", "profile", "source")


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> argparse.ArgumentParser:
    """Add ``margin add`` to the ``liqmon`` parser; `common` holds --config and logging flags."""
    margin = subparsers.add_parser("margin", help="margin changes: enter one by hand")
    actions = margin.add_subparsers(dest="margin_command", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add", parents=[common], help="validate one change; print, append to a calendar or POST"
    )
    add.add_argument("--venue", required=True, help="issuer id: cme, shfe, sge, ice, bybit, …")
    add.add_argument("--product", required=True, help="clearing code or symbol, e.g. SI")
    add.add_argument("--asset", required=True, help="asset code, e.g. XAG")
    add.add_argument(
        "--asset-class", choices=ASSET_CLASSES,
        help="the asset's class (default: from the config's assets.classes)",
    )  # fmt: skip
    add.add_argument("--basis", required=True, choices=BASES, help="what old and new measure")
    add.add_argument("--old", required=True, help="requirement before (pct_notional: 15 = 15%%)")
    add.add_argument("--new", required=True, help="requirement after")
    add.add_argument("--notice", required=True, metavar="WHEN", help="ISO date or datetime")
    add.add_argument("--effective", required=True, metavar="WHEN", help="date = that day's close")
    add.add_argument("--profile", help="account profile: non-HRP (the default), HRP, hedge, …")
    add.add_argument("--source", help="URL of the notice (default: none)")
    target = add.add_mutually_exclusive_group()
    target.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="append to this calendar (required: this or --post)",
    )
    target.add_argument(
        "--post", metavar="URL", help="POST to a running daemon's API (required: this or --out)"
    )
    add.add_argument(
        "--token-env", default=DEFAULT_TOKEN_ENV, metavar="VAR", help="env var with the token"
    )
    add.add_argument("--timeout-s", type=float, default=10.0, metavar="N", help="POST timeout")
    return margin


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``margin add``; return the exit code.

    Raises:
        InputError: a bad flag (named), an unwritable ``--out`` or a refused POST.
        MonitorError: the daemon of ``--post`` could not be reached.
    """
    change = change_from_args(args, settings)
    sys.stdout.write(encode(change).decode() + "\n")
    if args.out is not None:
        append_to_calendar(args.out, change, args)
        sys.stderr.write("appended %s to %s\n" % (change.event_id, args.out))
    elif args.post:
        token = os.environ.get(args.token_env, "")
        if not token:
            raise InputError("--token-env %s: the variable is not set" % args.token_env)
        status, text = asyncio.run(post_change(args.post, token, change, args.timeout_s))
        sys.stderr.write("%s: HTTP %d %s\n" % (args.post, status, text.strip()))
    return 0


def change_from_args(args: argparse.Namespace, settings: Settings) -> MarginChange:
    """Validate the flags into a `MarginChange`.

    Raises:
        InputError: ``margin add: --<flag>: <reason>``.
    """
    fields: dict[str, object] = {f: getattr(args, f) for f in _FLAGS if getattr(args, f)}
    fields.update(old=args.old, new=args.new, notice=args.notice, effective=args.effective)
    try:
        return build_change(fields, settings.assets.classes, default_source="cli")
    except FieldError as exc:
        flag = "--" + exc.field.replace("_", "-")
        raise InputError("margin add: %s: %s" % (flag, exc.reason)) from None


def calendar_fields(change: MarginChange, args: argparse.Namespace) -> dict[str, str]:
    """Return the calendar row of `change`: times as exact UTC, product and profile as given."""
    return {
        "venue": change.venue,
        "product": args.product,
        "asset": change.asset,
        "basis": change.basis,
        "old": "%r" % change.old,
        "new": "%r" % change.new,
        "notice": format_ts(change.notice_ts_ns),
        "effective": format_ts(change.effective_ts_ns),
        "asset_class": change.asset_class,
        "profile": args.profile or "",
        "source": change.source,
    }


def append_to_calendar(path: Path, change: MarginChange, args: argparse.Namespace) -> None:
    """Append `change` to a CSV or YAML calendar and check that the file loads it.

    Raises:
        InputError: the file cannot be written, is not a calendar this can append to, or
            does not load the new row.
    """
    row = calendar_fields(change, args)
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        addition = (
            _yaml_item(text, row) if path.suffix in (".yaml", ".yml") else _csv_row(text, row)
        )
        with path.open("a", encoding="utf-8") as stream:
            stream.write(addition)
        final = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError("--out %s: cannot write: %s" % (path, exc.strerror or exc)) from None
    read = parse_calendar(final, str(path), {})
    if change.event_id not in {e.event_id for e in read.events}:
        raise InputError("--out %s: the appended row does not load: %s" % (path, read.errors))


def _csv_row(text: str, row: dict[str, str]) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    prefix = "" if not text or text.endswith("\n") else "\n"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if not lines:
        writer.writerow(CSV_COLUMNS)
        header: list[str] = list(CSV_COLUMNS)
    else:
        header = [c.strip() for c in next(csv.reader([lines[0]]))]
    lost = [k for k, v in row.items() if v and k not in header]
    if lost:
        raise InputError("--out: the calendar has no %r column for the value given" % lost[0])
    writer.writerow([row.get(column, "") for column in header])
    return prefix + out.getvalue()


def _yaml_item(text: str, row: dict[str, str]) -> str:
    try:
        existing = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as exc:
        raise InputError("--out: not YAML: %s" % exc) from None
    if existing is not None and not isinstance(existing, list):
        msg = "--out: can append only to a YAML calendar that is a top-level list"
        raise InputError(msg)
    prefix = "" if not text or text.endswith("\n") else "\n"
    item = {k: v for k, v in row.items() if v}
    return prefix + yaml.safe_dump([item], sort_keys=False, allow_unicode=True)


async def post_change(
    url: str, token: str, change: MarginChange, timeout_s: float
) -> tuple[int, str]:
    """POST `change` to a daemon (``/api/v1/margin-changes`` when `url` has no path).

    Returns:
        The status (202) and the response text.

    Raises:
        InputError: the daemon refused it (4xx).
        MonitorError: the daemon could not be reached or failed (5xx).
    """
    import aiohttp  # noqa: PLC0415  (only --post needs it: keep it off every command's start-up)

    parts = urlsplit(url)
    if parts.path in ("", "/"):
        url = urlunsplit((parts.scheme, parts.netloc, PATH, "", ""))
    headers = {"Authorization": "Bearer %s" % token, "Content-Type": "application/json"}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session,
            session.post(url, data=encode(change), headers=headers) as resp,
        ):
            status, text = resp.status, await resp.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise MonitorError("--post %s: %s" % (url, str(exc) or type(exc).__name__)) from None
    if 400 <= status < 500:
        raise InputError("--post %s: HTTP %d %s" % (url, status, text.strip()))
    if status != 202:
        raise MonitorError("--post %s: HTTP %d %s" % (url, status, text.strip()))
    return status, text
