"""Snapshot and restore of the aggregation engine (`monitor.aggregate.engine.Engine`).

Kept: scope ids (the per-scope arrays are indexed by them), the sliding-window sums and
their bucket log, the seconds not closed yet, the burst baselines (global and hour-of-week),
CUSUM and event-rate baselines, every instrument's price windows and volatility, the alert
book (same ids, states and waves after a restart: no resolve is emitted for a restart), the
cascade entries of the overlays and the margin changes received. Any other component the
engine, its burst state or its extra detectors hold that is `Snapshottable` (e.g. a tail
estimator, the deleveraging stage's per-window daily maxima) is saved and restored under
its attribute path, with no change here.

Not kept (short windows, rebuilt within minutes): the liquidity, saturation and correlation
detectors' windows. Restore goes all or nothing: on a snapshot that does not fit, the
engine is rebuilt empty.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections import deque
from typing import Any

import msgspec
import polars as pl

from monitor.aggregate.detect import overlays
from monitor.aggregate.engine import Engine
from monitor.aggregate.windows import buckets, columns
from monitor.aggregate.windows.prices import InstrumentPrices
from monitor.alerts.lifecycle import Track
from monitor.events import MarginChange
from monitor.state.snapshot import (
    RESTORE_ERRORS,
    RestoreError,
    Snapshot,
    Snapshottable,
    pack_array,
    unpack_array,
)

_OWNERS = ("", "bursts.", "extras.")  # where pluggable Snapshottable components live


class EngineSnapshot:
    """`Snapshottable` view of one engine (``engine`` may be replaced by the caller)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def snapshot(self) -> Snapshot:
        """Return the engine's state as plain values."""
        e = self.engine
        return {
            "config": _config_key(e),
            "engine": {
                "max_ts_ns": e.max_ts_ns,
                "closed_sec": e.closed_sec,
                "next_idle": e._next_idle,
                "inst_info": {k: list(v) for k, v in e._inst_info.items()},
                "hot_instruments": sorted(e._hot_instruments),
                "margin_changes": msgspec.to_builtins(e.margin_changes),
            },
            "scopes": {"levels": list(e.scopes.levels), "keys": list(e.scopes.keys)},
            "liq": _liq(e),
            "pending": _pending(e),
            "bursts": _bursts(e),
            "prices": [_instrument(p) for p in e.prices.instruments.values()],
            "book": [_track(t) for t in e.book.tracks.values()],
            "spread": {
                "class_of": dict(e.spread.class_of),
                "entered": [dataclasses.asdict(x) for x in e.spread.entered.values()],
            },
            "plugins": {name: part.snapshot() for name, part in plugins(e).items()},
        }

    def restore(self, state: Snapshot) -> None:
        """Load `state` into the engine; on a misfit, rebuild it empty and raise.

        Raises:
            RestoreError: the snapshot was taken with other detector settings or layout.
        """
        e = self.engine
        if state.get("config") != _config_key(e):
            msg = "saved with other window or detector settings"
            raise RestoreError(msg)
        try:
            _restore(e, state)
        except RESTORE_ERRORS as exc:
            Engine.__init__(e, e.settings, e.metrics)  # back to a clean start
            raise RestoreError("does not fit this engine (%s)" % exc) from exc


def plugins(engine: Engine) -> dict[str, Snapshottable]:
    """Return the engine's pluggable `Snapshottable` components by attribute path."""
    found: dict[str, Snapshottable] = {}
    for prefix in _OWNERS:
        owner: Any = engine
        for attr in filter(None, prefix.split(".")):
            owner = getattr(owner, attr)
        for name, value in sorted(vars(owner).items()):
            if isinstance(value, Snapshottable) and not isinstance(value, type):
                found[prefix + name] = value
    return found


def _config_key(e: Engine) -> dict[str, Any]:
    """Return what the snapshot's layout depends on (windows, crash windows)."""
    return {"windows_s": list(e.liq.windows_s), "crash_windows_s": list(e.prices.windows_s)}


def _liq(e: Engine) -> Snapshot:
    w = e.liq
    log = [[sec, pack_array(ids), pack_array(vals)] for sec, ids, vals in w._log]
    return {
        "sums": pack_array(w.sums),
        "log": log,
        "head": list(w._head),
        "last_second": w.last_second,
    }


def _pending(e: Engine) -> Snapshot:
    parts = e._pending_liq._parts
    return {
        "liq": [[pack_array(p.sec), pack_array(p.sid), pack_array(p.vals)] for p in parts],
        "px": e._pending_px.to_dict(as_series=False),
    }


def _bursts(e: Engine) -> Snapshot:
    b, base, rate = e.bursts, e.bursts.baseline, e.bursts.intensity
    arrays = {
        name: pack_array(getattr(b, name))
        for name in ("_cusum", "_was_open", "_born", "_minute_n", "_minute_acc")
    }
    return {
        **arrays,
        "minute": b._minute,
        "global": [pack_array(base.glob.mean), pack_array(base.glob.var)],
        "global_periods": pack_array(base.glob.periods),
        "seasonal": [pack_array(base.mean), pack_array(base.var), pack_array(base.count)],
        "rate": [pack_array(rate.excitation), pack_array(rate.rate), pack_array(rate.minutes)],
        "rate_second": rate.second,
    }


def _instrument(p: InstrumentPrices) -> Snapshot:
    return {
        "key": p.key,
        "asset": p.asset,
        "asset_class": p.asset_class,
        "last": p.last,
        "second": p.second,
        "highs": [[list(x) for x in dq] for dq in p.highs],
        "ref_close": p.ref_close,
        "ref_minute": p.ref_minute,
        "var_1m": p.var_1m,
        "minutes": p.minutes,
        "hour_var": list(p.hour_var),
        "hour": [p.hour, p.hour_sum, p.hour_n],
        "falls": {
            "hour": p.falls.hour,
            "current": list(p.falls.current),
            "blocks": [list(b) for b in p.falls.blocks],
        },
    }


def _restore_history(inst: InstrumentPrices, p: Snapshot) -> None:
    """Restore the long-run volatility and the fall maxima (absent in older state files)."""
    if "hour_var" not in p:
        return
    inst.hour_var.extend(float(v) for v in p["hour_var"])
    if inst.hour_var:
        inst.long_var = statistics.median(inst.hour_var)
    inst.hour, inst.hour_sum, inst.hour_n = (
        int(p["hour"][0]),
        float(p["hour"][1]),
        int(p["hour"][2]),
    )
    falls = p["falls"]
    if len(falls["current"]) == inst.falls.n_windows:
        inst.falls.hour = int(falls["hour"])
        inst.falls.current = [float(v) for v in falls["current"]]
        inst.falls.blocks.extend(tuple(float(v) for v in b) for b in falls["blocks"])
        inst.falls.refit()


def _track(t: Track) -> Snapshot:
    return {f.name: getattr(t, f.name) for f in dataclasses.fields(t)}


def _restore(e: Engine, s: Snapshot) -> None:
    eng = s["engine"]
    e.max_ts_ns, e.closed_sec = eng["max_ts_ns"], eng["closed_sec"]
    e._next_idle = int(eng["next_idle"])
    e._inst_info.update({k: (v[0], v[1]) for k, v in eng["inst_info"].items()})
    e._hot_instruments = set(eng["hot_instruments"])
    e.margin_changes = msgspec.convert(eng["margin_changes"], list[MarginChange])
    for level, key in zip(s["scopes"]["levels"], s["scopes"]["keys"], strict=True):
        e.scopes.id_of(level, key)
    _restore_liq(e, s["liq"], s["pending"])
    _restore_bursts(e, s["bursts"])
    for p in s["prices"]:
        inst = e.prices.get(p["key"], p["asset"], p["asset_class"])
        inst.last, inst.second = float(p["last"]), int(p["second"])
        inst.highs = [deque((int(a), float(b)) for a, b in dq) for dq in p["highs"]]
        inst.ref_close, inst.ref_minute = float(p["ref_close"]), int(p["ref_minute"])
        inst.var_1m, inst.minutes = float(p["var_1m"]), int(p["minutes"])
        _restore_history(inst, p)
    for t in s["book"]:
        track = Track(**t)
        e.book.tracks[(track.kind, track.scope)] = track
    e.spread.class_of.update(s["spread"]["class_of"])
    for x in s["spread"]["entered"]:
        entry = overlays.Entry(**x)
        e.spread.entered[entry.scope] = entry
    found = plugins(e)
    for name, state in s["plugins"].items():
        if name in found:
            found[name].restore(state)


def _restore_liq(e: Engine, liq: Snapshot, pending: Snapshot) -> None:
    w = e.liq
    w.sums = unpack_array(liq["sums"])
    w._log = [(int(sec), unpack_array(i), unpack_array(v)) for sec, i, v in liq["log"]]
    w._head = [int(h) for h in liq["head"]]
    w.last_second = liq["last_second"]
    parts = [columns.Buckets(*map(unpack_array, part)) for part in pending["liq"]]
    e._pending_liq._parts = parts
    e._pending_px = pl.DataFrame(pending["px"], schema=buckets.PRICE_SCHEMA)


def _restore_bursts(e: Engine, s: Snapshot) -> None:
    b, base, rate = e.bursts, e.bursts.baseline, e.bursts.intensity
    for name in ("_cusum", "_was_open", "_born", "_minute_n", "_minute_acc"):
        setattr(b, name, unpack_array(s[name]))
    b._minute = s["minute"]
    base.glob.mean, base.glob.var = (unpack_array(x) for x in s["global"])
    base.glob.periods = unpack_array(s["global_periods"])
    base.mean, base.var, base.count = (unpack_array(x) for x in s["seasonal"])
    rate.excitation, rate.rate, rate.minutes = (unpack_array(x) for x in s["rate"])
    rate.second = s["rate_second"]
    e._ensure_scopes()
