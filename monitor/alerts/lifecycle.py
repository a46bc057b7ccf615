"""One alert state machine for every kind: pending → firing → resolved, waves, cooldown.

Keyed by (kind, scope). Times are event time (ns), so replays give identical alerts.

- idle + hot → ``pending`` (a new incident, wave 1); hot for ``for_s`` → ``firing``
  (the signal's own ``for_s`` when its detector sets one, else the configured one).
- pending + cold → ``resolved`` ("cleared before firing"), so every pending ends.
- firing + hot with a higher severity → ``firing`` again (escalation, same wave).
- firing + cold for ``resolve_after_s`` → ``resolved``.
- resolved + hot within ``cooldown_s`` → ``pending`` of the *same* incident, wave + 1;
  after ``cooldown_s`` the track is forgotten and the next hot starts a new incident.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from monitor.aggregate.detect.detectors import Signal
from monitor.config import LifecycleSettings
from monitor.events import NS, Alert, AlertKind, AlertState, EvidenceValue, Severity

_RANK: Final[dict[Severity, int]] = {"warning": 0, "critical": 1}

Key = tuple[AlertKind, str]


@dataclass(slots=True)
class Track:
    """The state of one (kind, scope)."""

    kind: AlertKind
    scope: str
    alert_id: str
    started_ns: int
    state: AlertState = "pending"
    wave: int = 1
    severity: Severity = "warning"
    hot_since_ns: int = 0
    cold_since_ns: int | None = None
    resolved_ns: int = 0
    summary: str = ""
    evidence: dict[str, EvidenceValue] = field(default_factory=dict)
    peak_score: float = 0.0

    def alert(self, ts_ns: int, state: AlertState, summary: str | None = None) -> Alert:
        """Return the contract event for this track's transition to `state` at `ts_ns`."""
        return Alert(
            alert_id=self.alert_id,
            kind=self.kind,
            scope=self.scope,
            state=state,
            severity=self.severity,
            wave=self.wave,
            started_ns=self.started_ns,
            ts_ns=ts_ns,
            summary=summary or self.summary,
            evidence=dict(self.evidence),
        )


class AlertBook:
    """All tracks; `update` is called at every evaluation with the signals found hot."""

    def __init__(self, cfg: LifecycleSettings) -> None:
        self.cfg = cfg
        self.tracks: dict[Key, Track] = {}

    def open_scopes(self) -> set[str]:
        """Return the scopes with a pending or firing alert (their baselines freeze)."""
        return {t.scope for t in self.tracks.values() if t.state != "resolved"}

    def is_open(self, kind: AlertKind, scope: str) -> bool:
        """Return True while (kind, scope) is pending or firing."""
        track = self.tracks.get((kind, scope))
        return track is not None and track.state != "resolved"

    def has_open(self) -> bool:
        """Return True while any alert is pending, firing, or inside its cooldown."""
        return bool(self.tracks)

    def active(self) -> list[Track]:
        """Return pending and firing tracks, sorted by kind and scope."""
        return [t for _, t in sorted(self.tracks.items()) if t.state != "resolved"]

    def update(self, ts_ns: int, signals: Iterable[Signal]) -> list[Alert]:
        """Apply one evaluation at event time `ts_ns`; return the transitions, in key order."""
        hot = _strongest(signals)
        out: list[Alert] = []
        for key in sorted(hot.keys() | self.tracks.keys()):
            out.extend(self._step(key, ts_ns, hot.get(key)))
        return out

    def _step(self, key: Key, ts_ns: int, sig: Signal | None) -> list[Alert]:
        track = self.tracks.get(key)
        if track is None or track.state == "resolved":
            return self._from_quiet(key, track, ts_ns, sig)
        if sig is not None:
            return self._hot(track, ts_ns, sig)
        return self._cold(key, track, ts_ns)

    def _from_quiet(
        self, key: Key, track: Track | None, ts_ns: int, sig: Signal | None
    ) -> list[Alert]:
        in_cooldown = track is not None and ts_ns - track.resolved_ns <= self.cfg.cooldown_s * NS
        if sig is None:
            if track is not None and not in_cooldown:
                del self.tracks[key]
            return []
        if track is not None and in_cooldown:
            track.wave += 1
        else:
            track = Track(key[0], key[1], _alert_id(key, ts_ns), started_ns=ts_ns)
            self.tracks[key] = track
        track.state, track.hot_since_ns, track.cold_since_ns = "pending", ts_ns, None
        track.severity, track.peak_score = sig.severity, sig.score
        track.summary, track.evidence = sig.summary, dict(sig.evidence)
        out = [track.alert(ts_ns, "pending")]
        return out + self._hot(track, ts_ns, sig)

    def _hot(self, track: Track, ts_ns: int, sig: Signal) -> list[Alert]:
        track.cold_since_ns = None
        escalated = _RANK[sig.severity] > _RANK[track.severity]
        if sig.score >= track.peak_score or escalated:
            track.peak_score = max(track.peak_score, sig.score)
            track.summary, track.evidence = sig.summary, dict(sig.evidence)
        if escalated:
            track.severity = sig.severity
        if track.state == "pending":
            need_s = self.cfg.for_s if sig.for_s is None else sig.for_s
            if ts_ns - track.hot_since_ns >= need_s * NS:
                track.state = "firing"
                return [track.alert(ts_ns, "firing")]
            return []
        return [track.alert(ts_ns, "firing")] if escalated else []

    def _cold(self, key: Key, track: Track, ts_ns: int) -> list[Alert]:
        if track.state == "pending":
            return [self._resolve(key, track, ts_ns, "%s (cleared before firing)" % track.summary)]
        if track.cold_since_ns is None:
            track.cold_since_ns = ts_ns
        if ts_ns - track.cold_since_ns >= self.cfg.resolve_after_s * NS:
            return [self._resolve(key, track, ts_ns, "%s (resolved)" % track.summary)]
        return []

    def _resolve(self, key: Key, track: Track, ts_ns: int, summary: str) -> Alert:
        track.state, track.resolved_ns = "resolved", ts_ns
        alert = track.alert(ts_ns, "resolved", summary)
        if track.wave == 1 and self.cfg.cooldown_s == 0:
            del self.tracks[key]
        return alert


def _strongest(signals: Iterable[Signal]) -> Mapping[Key, Signal]:
    best: dict[Key, Signal] = {}
    for sig in signals:
        key = (sig.kind, sig.scope)
        old = best.get(key)
        if old is None or (_RANK[sig.severity], sig.score) > (_RANK[old.severity], old.score):
            best[key] = sig
    return best


def _alert_id(key: Key, started_ns: int) -> str:
    digest = hashlib.sha256(("%s|%s|%d" % (key[0], key[1], started_ns)).encode()).hexdigest()
    return digest[:16]
