"""What every margin input shares: field checks, venue times, units, tightening, event ids.

Units of ``old``/``new`` by ``basis`` (one convention for every input, so D compares):

=====================  ===============================================  ==============
basis                  unit                                             example
=====================  ===============================================  ==============
``pct_notional``       percent of notional, in percent points (0–100]   ``18`` = 18 %
``usd_per_contract``   USD per contract                                 ``32500``
``maintenance_rate``   maintenance margin rate as a fraction (0–1)      ``0.005``
``max_leverage``       maximum leverage, × (≥ 1)                        ``50``
=====================  ===============================================  ==============

Tightening D is 1 − old/new for requirements and 1 − new/old for max leverage;
negative is a loosening (`monitor.events.tightening_of`).

Times. A value with a UTC offset (``2026-02-06T22:00Z``, ``…T16:00-06:00``) is exact. A
datetime without an offset is local time at the venue (`VENUE_TIMES`; DST handled). A date
alone means *that day's close at the venue*, for both notice and effective:

- effective "after the close of business on D" (CME, SHFE, SGE) is the close of D;
- a notice known only by its date is also put at that day's close: CME releases
  performance-bond advisories during the US afternoon, so the close is the
  latest plausible time and a replay never arms an asset before the notice could have been
  read (no look-ahead). Give a datetime when the publication time is known.

CME's close is 16:00 America/Chicago, the Globex daily halt of COMEX metals (the exact
clearing-cycle time is not published): 16:00 CST = 22:00 UTC in winter, 21:00 UTC under
daylight saving. A venue without a known close (ICE, unknown venues) needs datetimes.

Profiles (CME Non-HRP/HRP, Spec/Hedge; SHFE general/hedging): the headline rate (blank,
``non-HRP``, ``spec``, ``general``) keeps the bare product code (``SI``); any other profile
becomes ``PRODUCT:PROFILE`` (``SI:HRP``), so both can be published without colliding.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from monitor.events import ASSET_CLASSES, AssetClass, MarginBasis, MarginChange, tightening_of
from monitor.symbols import classify

PATH: Final = "/api/v1/margin-changes"
"""Where the daemon takes margin changes over HTTP (`monitor.margin.http`, ``margin add``)."""
BASES: Final[tuple[MarginBasis, ...]] = (
    "pct_notional",
    "usd_per_contract",
    "maintenance_rate",
    "max_leverage",
)
HEADLINE_PROFILES: Final = frozenset({"", "non-hrp", "spec", "speculator", "general"})
TIGHTENING_TOLERANCE: Final = 1e-6  # a given tightening may differ from old/new by this much
EVENT_FIELDS: Final = frozenset(
    {
        "type", "venue", "product", "asset", "asset_class", "basis", "old", "new",
        "tightening", "notice_ts_ns", "effective_ts_ns", "source", "event_id",
    }
)  # fmt: skip
EXTRA_FIELDS: Final = frozenset({"notice", "effective", "profile"})
KNOWN_FIELDS: Final = EVENT_FIELDS | EXTRA_FIELDS
_VENUE_RE: Final = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_CODE_RE: Final = re.compile(r"^[^\s,]{1,64}$")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class VenueTime:
    """A venue's time zone (IANA name) and daily close (local time; None: unknown)."""

    zone: str
    close: time | None


VENUE_TIMES: Final[dict[str, VenueTime]] = {
    "cme": VenueTime("America/Chicago", time(16, 0)),  # Globex halt for COMEX metals
    "shfe": VenueTime("Asia/Shanghai", time(15, 0)),  # "closing settlement" after 15:00 BJT
    "sge": VenueTime("Asia/Shanghai", time(15, 30)),  # Ag(T+D) day session ends 15:30 BJT
    "ice": VenueTime("Europe/London", None),  # close differs by contract: give datetimes
}
DEFAULT_VENUE_TIME: Final = VenueTime("UTC", None)


class FieldError(ValueError):
    """One field of a margin change is missing or wrong; the message starts with its name."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__("%s: %s" % (field, reason))
        self.field = field
        self.reason = reason


def venue_time(venue: str) -> VenueTime:
    """Return the time zone and close of `venue` (UTC and unknown for unlisted venues)."""
    return VENUE_TIMES.get(venue, DEFAULT_VENUE_TIME)


def parse_time(text: str, venue: str, field: str) -> int:
    """Return epoch ns of an ISO date or datetime given for `venue` (rules in the module doc).

    Raises:
        FieldError: not ISO 8601, or a bare date for a venue whose close is unknown.
    """
    spec = venue_time(venue)
    try:
        zone = ZoneInfo(spec.zone)
    except ZoneInfoNotFoundError:
        raise FieldError(
            field="venue", reason="time zone %s unavailable (install tzdata)" % spec.zone
        ) from None
    value = text.strip()
    bad = FieldError(field, "not an ISO date or datetime: %r" % text)
    if len(value) == 10:  # a bare date: that day's close at the venue
        if spec.close is None:
            raise FieldError(
                field, "a bare date needs the close of %r, which is unknown: give a "
                "datetime with an offset, e.g. 2026-02-06T22:00Z" % venue,
            )  # fmt: skip
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise bad from None
        when = datetime.combine(day, spec.close, tzinfo=zone)
    else:
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise bad from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=zone)
    return (when - _EPOCH) // timedelta(microseconds=1) * 1000


def format_ts(ts_ns: int) -> str:
    """Return epoch ns as an ISO 8601 UTC string (``2026-02-06T22:00:00Z``)."""
    when = _EPOCH + timedelta(microseconds=ts_ns // 1000)
    text = when.isoformat().replace("+00:00", "Z")
    return text if when.microsecond else text.replace(".000000", "")


def product_key(product: str, profile: str) -> str:
    """Return the event's product: bare for the headline profile, else ``PRODUCT:PROFILE``."""
    profile = profile.strip()
    return product if profile.lower() in HEADLINE_PROFILES else "%s:%s" % (product, profile)


def make_event_id(
    venue: str,
    product: str,
    basis: str,
    old: float,
    new: float,
    notice_ts_ns: int,
    effective_ts_ns: int,
) -> str:
    """Return the deterministic id ``venue:product:<16 hex>`` of a change.

    The hash covers every field that defines the change, so a corrected row (another
    date or value) gets a new id and the same row read twice keeps its id.
    """
    key = "|".join(
        (venue, product, basis, repr(float(old)), repr(float(new)),
         str(notice_ts_ns), str(effective_ts_ns))
    )  # fmt: skip
    return "%s:%s:%s" % (venue, product, hashlib.sha256(key.encode()).hexdigest()[:16])


def new_change(  # noqa: PLR0913  (every field of the event, keyword-only)
    *,
    venue: str,
    product: str,
    asset: str,
    asset_class: AssetClass,
    basis: MarginBasis,
    old: float,
    new: float,
    notice_ts_ns: int,
    effective_ts_ns: int,
    source: str,
) -> MarginChange:
    """Return a `MarginChange` with its tightening and deterministic event id computed.

    Raises:
        ValueError: when old or new is not positive.
    """
    return MarginChange(
        venue=venue,
        product=product,
        asset=asset,
        asset_class=asset_class,
        basis=basis,
        old=old,
        new=new,
        tightening=tightening_of(basis, old, new),
        notice_ts_ns=notice_ts_ns,
        effective_ts_ns=effective_ts_ns,
        source=source,
        event_id=make_event_id(venue, product, basis, old, new, notice_ts_ns, effective_ts_ns),
    )


def build_change(
    fields: Mapping[str, object],
    classes: Mapping[str, AssetClass],
    *,
    default_source: str = "",
) -> MarginChange:
    """Validate one change given as fields (a calendar row, a JSON object, CLI flags).

    Values may be strings (calendar cells) or JSON numbers; blank strings count as absent.
    Times come as ``notice``/``effective`` (ISO, module doc) or ``*_ts_ns`` (epoch ns).
    ``asset_class`` defaults to the ``assets.classes`` table; ``tightening``, when given,
    must agree with old/new; ``event_id``, when absent, is `make_event_id`.

    Raises:
        FieldError: naming the first bad field.
    """
    present = {k: v for k, v in fields.items() if not (isinstance(v, str) and not v.strip())}
    unknown = sorted(set(present) - KNOWN_FIELDS)
    if unknown:
        raise FieldError(unknown[0], "unknown field")
    if present.get("type", "margin_change") != "margin_change":
        raise FieldError(field="type", reason="must be 'margin_change', got %r" % present["type"])
    venue = _text(present, "venue", _VENUE_RE, "a lower-case venue id such as cme")
    product = product_key(
        _text(present, "product", _CODE_RE, "a code without spaces or commas"),
        _optional_text(present, "profile"),
    )
    asset = _text(present, "asset", _CODE_RE, "an asset code such as XAG")
    asset_class = _asset_class(present, asset, classes)
    basis = _choice(present, "basis", BASES)
    old, new = _value(present, "old", basis), _value(present, "new", basis)
    notice_ns = _when(present, "notice", venue)
    effective_ns = _when(present, "effective", venue)
    if effective_ns < notice_ns:
        raise FieldError(field="effective", reason="before the notice (%s)" % format_ts(notice_ns))
    change = new_change(
        venue=venue, product=product, asset=asset, asset_class=asset_class, basis=basis,
        old=old, new=new, notice_ts_ns=notice_ns, effective_ts_ns=effective_ns,
        source=_optional_text(present, "source") or default_source,
    )  # fmt: skip
    if "tightening" in present:
        given = _number(present["tightening"], "tightening")
        if abs(given - change.tightening) > TIGHTENING_TOLERANCE:
            raise FieldError(
                field="tightening",
                reason="%.6g does not match old/new (%.6g)" % (given, change.tightening),
            )
    if "event_id" in present:
        event_id = _optional_text(present, "event_id")
        if len(event_id) > 200:
            raise FieldError(field="event_id", reason="longer than 200 characters")
        change = msgspec.structs.replace(change, event_id=event_id)
    return change


def _optional_text(fields: Mapping[str, object], name: str) -> str:
    value = fields.get(name, "")
    if not isinstance(value, str):
        raise FieldError(name, "must be a string, got %r" % (value,))
    return value.strip()


def _text(fields: Mapping[str, object], name: str, pattern: re.Pattern[str], what: str) -> str:
    if name not in fields:
        raise FieldError(name, "missing")
    value = _optional_text(fields, name)
    if not pattern.match(value):
        raise FieldError(name, "must be %s, got %r" % (what, value))
    return value


def _choice(fields: Mapping[str, object], name: str, choices: tuple[str, ...]) -> MarginBasis:
    if name not in fields:
        raise FieldError(name, "missing")
    value = _optional_text(fields, name)
    if value not in choices:
        raise FieldError(name, "must be one of %s, got %r" % ("|".join(choices), value))
    return cast("MarginBasis", value)


def _asset_class(
    fields: Mapping[str, object], asset: str, classes: Mapping[str, AssetClass]
) -> AssetClass:
    if "asset_class" not in fields:
        return classify(asset, classes)
    value = _optional_text(fields, "asset_class")
    if value not in ASSET_CLASSES:
        raise FieldError(
            field="asset_class",
            reason="must be one of %s, got %r" % ("|".join(ASSET_CLASSES), value),
        )
    return value


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise FieldError(name, "must be a number, got %r" % (value,))
    try:
        number = float(value)
    except ValueError:
        raise FieldError(name, "must be a number, got %r" % value) from None
    if not math.isfinite(number):
        raise FieldError(name, "must be finite, got %r" % value)
    return number


_LIMITS: Final[dict[str, tuple[float, float, str]]] = {
    "pct_notional": (0.0, 100.0, "percent points in (0, 100]"),
    "usd_per_contract": (0.0, math.inf, "USD > 0"),
    "maintenance_rate": (0.0, 1.0, "a fraction in (0, 1)"),
    "max_leverage": (1.0, math.inf, "a leverage ≥ 1"),
}


def _value(fields: Mapping[str, object], name: str, basis: MarginBasis) -> float:
    if name not in fields:
        raise FieldError(name, "missing")
    number = _number(fields[name], name)
    low, high, what = _LIMITS[basis]
    ok = low <= number <= high if basis == "max_leverage" else low < number <= high
    if not ok or (basis == "maintenance_rate" and number >= 1.0):
        raise FieldError(name, "must be %s for basis %s, got %r" % (what, basis, number))
    return number


def _when(fields: Mapping[str, object], name: str, venue: str) -> int:
    ns_name = "%s_ts_ns" % name
    if name in fields and ns_name in fields:
        raise FieldError(name, "give %s or %s, not both" % (name, ns_name))
    if ns_name in fields:
        value = fields[ns_name]
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise FieldError(ns_name, "must be epoch nanoseconds ≥ 0, got %r" % (value,))
        return value
    if name not in fields:
        raise FieldError(name, "missing (an ISO date or datetime, or %s)" % ns_name)
    return parse_time(_optional_text(fields, name), venue, name)
