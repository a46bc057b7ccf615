"""The alert state machine: pending → firing → resolved, escalation, waves, cooldown."""

from __future__ import annotations

import hashlib

from monitor.aggregate.detect.detectors import Signal
from monitor.alerts.lifecycle import AlertBook
from monitor.config import LifecycleSettings

S = 1_000_000_000
T0 = 1_700_000_000 * S
CFG = LifecycleSettings(for_s=20, resolve_after_s=60, cooldown_s=300)


def sig(scope="BTC", severity="warning", score=1.0, summary=None, kind="cascade"):
    return Signal(
        kind=kind,
        scope=scope,
        severity=severity,
        score=score,
        summary=summary or "%s hot (%s)" % (scope, severity),
        evidence={"window_s": 60, "liquidated_usd": 1e6 * score},
    )


def expected_id(kind, scope, started_ns):
    return hashlib.sha256(("%s|%s|%d" % (kind, scope, started_ns)).encode()).hexdigest()[:16]


def states(alerts):
    return [(a.state, a.severity, a.wave, a.ts_ns) for a in alerts]


def fired_book():
    """A book whose BTC cascade went pending at T0 and firing at T0 + 20 s."""
    book = AlertBook(CFG)
    book.update(T0, [sig()])
    book.update(T0 + 20 * S, [sig()])
    return book


def test_first_hot_signal_opens_a_pending_alert():
    # Arrange
    book = AlertBook(CFG)

    # Act
    alerts = book.update(T0, [sig()])

    # Assert
    assert len(alerts) == 1
    a = alerts[0]
    assert (a.kind, a.scope, a.state, a.severity, a.wave) == (
        "cascade",
        "BTC",
        "pending",
        "warning",
        1,
    )
    assert (a.started_ns, a.ts_ns) == (T0, T0)
    assert a.alert_id == expected_id("cascade", "BTC", T0)
    assert a.summary == "BTC hot (warning)"
    assert a.evidence == {"window_s": 60, "liquidated_usd": 1e6}
    assert book.open_scopes() == {"BTC"}


def test_hot_before_for_s_gives_nothing():
    # Arrange
    book = AlertBook(CFG)
    book.update(T0, [sig()])

    # Act
    alerts = book.update(T0 + 10 * S, [sig()])

    # Assert
    assert alerts == []
    assert [t.state for t in book.active()] == ["pending"]


def test_hot_for_for_s_fires():
    # Arrange
    book = AlertBook(CFG)
    opened = book.update(T0, [sig()])
    book.update(T0 + 10 * S, [sig()])

    # Act
    alerts = book.update(T0 + 20 * S, [sig()])

    # Assert
    assert states(alerts) == [("firing", "warning", 1, T0 + 20 * S)]
    assert alerts[0].alert_id == opened[0].alert_id
    assert alerts[0].started_ns == T0


def test_hot_just_under_for_s_does_not_fire():
    # Arrange
    book = AlertBook(CFG)
    book.update(T0, [sig()])

    # Act
    alerts = book.update(T0 + 20 * S - 1, [sig()])

    # Assert
    assert alerts == []


def test_escalation_while_firing_emits_firing_with_the_higher_severity():
    # Arrange
    book = fired_book()

    # Act
    alerts = book.update(T0 + 30 * S, [sig(severity="critical", score=3.0)])

    # Assert
    assert states(alerts) == [("firing", "critical", 1, T0 + 30 * S)]
    assert alerts[0].summary == "BTC hot (critical)"
    assert alerts[0].evidence == {"window_s": 60, "liquidated_usd": 3e6}


def test_same_severity_while_firing_emits_nothing():
    # Arrange
    book = fired_book()

    # Act
    alerts = book.update(T0 + 30 * S, [sig(score=5.0)])

    # Assert
    assert alerts == []


def test_lower_severity_while_firing_keeps_critical():
    # Arrange
    book = fired_book()
    book.update(T0 + 30 * S, [sig(severity="critical", score=3.0)])

    # Act
    nothing = book.update(T0 + 40 * S, [sig(severity="warning", score=1.0)])
    resolved = book.update(T0 + 100 * S, [])

    # Assert
    assert nothing == []
    assert states(resolved) == []  # cold only since T0 + 100 s
    final = book.update(T0 + 160 * S, [])
    assert states(final) == [("resolved", "critical", 1, T0 + 160 * S)]


def test_cold_for_less_than_resolve_after_gives_nothing():
    # Arrange
    book = fired_book()

    # Act
    first = book.update(T0 + 30 * S, [])
    second = book.update(T0 + 89 * S, [])

    # Assert
    assert first == []
    assert second == []
    assert [t.state for t in book.active()] == ["firing"]


def test_cold_for_resolve_after_resolves():
    # Arrange
    book = fired_book()
    book.update(T0 + 30 * S, [])

    # Act
    alerts = book.update(T0 + 90 * S, [])

    # Assert
    assert states(alerts) == [("resolved", "warning", 1, T0 + 90 * S)]
    assert alerts[0].summary == "BTC hot (warning) (resolved)"
    assert alerts[0].started_ns == T0
    assert alerts[0].alert_id == expected_id("cascade", "BTC", T0)
    assert book.open_scopes() == set()
    assert book.has_open() is True  # inside its cooldown


def test_hot_again_while_cold_restarts_the_resolve_clock():
    # Arrange
    book = fired_book()
    book.update(T0 + 30 * S, [])
    book.update(T0 + 80 * S, [sig()])  # hot again before resolve_after_s
    book.update(T0 + 90 * S, [])

    # Act
    early = book.update(T0 + 149 * S, [])
    late = book.update(T0 + 150 * S, [])

    # Assert
    assert early == []
    assert states(late) == [("resolved", "warning", 1, T0 + 150 * S)]


def resolved_book():
    """A book whose BTC cascade resolved at T0 + 90 s."""
    book = fired_book()
    book.update(T0 + 30 * S, [])
    book.update(T0 + 90 * S, [])
    return book


def test_hot_again_within_cooldown_opens_the_next_wave_of_the_same_incident():
    # Arrange
    book = resolved_book()
    resolved_at = T0 + 90 * S

    # Act
    alerts = book.update(resolved_at + 300 * S, [sig()])

    # Assert
    assert states(alerts) == [("pending", "warning", 2, resolved_at + 300 * S)]
    assert alerts[0].alert_id == expected_id("cascade", "BTC", T0)
    assert alerts[0].started_ns == T0


def test_next_wave_fires_after_for_s_with_its_wave_number():
    # Arrange
    book = resolved_book()
    t = T0 + 120 * S
    book.update(t, [sig()])

    # Act
    alerts = book.update(t + 20 * S, [sig()])

    # Assert
    assert states(alerts) == [("firing", "warning", 2, t + 20 * S)]
    assert alerts[0].started_ns == T0


def test_hot_again_after_cooldown_starts_a_new_incident():
    # Arrange
    book = resolved_book()
    t = T0 + 90 * S + 300 * S + 1

    # Act
    alerts = book.update(t, [sig()])

    # Assert
    assert states(alerts) == [("pending", "warning", 1, t)]
    assert alerts[0].started_ns == t
    assert alerts[0].alert_id == expected_id("cascade", "BTC", t)
    assert alerts[0].alert_id != expected_id("cascade", "BTC", T0)


def test_track_is_forgotten_after_cooldown_without_signals():
    # Arrange
    book = resolved_book()

    # Act
    inside = book.update(T0 + 90 * S + 300 * S, [])
    open_inside = book.has_open()
    after = book.update(T0 + 90 * S + 301 * S, [])

    # Assert
    assert (inside, after) == ([], [])
    assert open_inside is True
    assert book.has_open() is False
    assert book.tracks == {}


def test_pending_that_goes_cold_resolves_as_cleared_before_firing():
    # Arrange
    book = AlertBook(CFG)
    book.update(T0, [sig()])

    # Act
    alerts = book.update(T0 + 5 * S, [])

    # Assert
    assert states(alerts) == [("resolved", "warning", 1, T0 + 5 * S)]
    assert "cleared before firing" in alerts[0].summary
    assert alerts[0].summary == "BTC hot (warning) (cleared before firing)"
    assert alerts[0].alert_id == expected_id("cascade", "BTC", T0)


def test_for_s_zero_fires_in_the_same_update():
    # Arrange
    book = AlertBook(LifecycleSettings(for_s=0, resolve_after_s=60, cooldown_s=300))

    # Act
    alerts = book.update(T0, [sig()])

    # Assert
    assert states(alerts) == [("pending", "warning", 1, T0), ("firing", "warning", 1, T0)]
    assert alerts[0].alert_id == alerts[1].alert_id


def test_zero_cooldown_forgets_the_track_at_resolve():
    # Arrange
    book = AlertBook(LifecycleSettings(for_s=20, resolve_after_s=60, cooldown_s=0))
    book.update(T0, [sig()])

    # Act
    resolved = book.update(T0 + 1 * S, [])

    # Assert
    assert states(resolved) == [("resolved", "warning", 1, T0 + 1 * S)]
    assert book.tracks == {}
    assert book.has_open() is False


def scripted_run():
    book = AlertBook(CFG)
    script = [
        (T0, [sig(), sig("ETH")]),
        (T0 + 10 * S, [sig()]),
        (T0 + 20 * S, [sig()]),
        (T0 + 30 * S, [sig(severity="critical", score=4.0)]),
        (T0 + 100 * S, []),
        (T0 + 160 * S, []),
        (T0 + 200 * S, [sig()]),
    ]
    return [a for ts, signals in script for a in book.update(ts, signals)]


def test_alert_ids_are_deterministic_across_books():
    # Act
    first = scripted_run()
    second = scripted_run()

    # Assert
    assert first == second
    assert [(a.scope, a.state, a.severity, a.wave) for a in first] == [
        ("BTC", "pending", "warning", 1),
        ("ETH", "pending", "warning", 1),
        ("ETH", "resolved", "warning", 1),
        ("BTC", "firing", "warning", 1),
        ("BTC", "firing", "critical", 1),
        ("BTC", "resolved", "critical", 1),
        ("BTC", "pending", "warning", 2),
    ]
    assert {a.alert_id for a in first if a.scope == "BTC"} == {expected_id("cascade", "BTC", T0)}
    assert {a.alert_id for a in first if a.scope == "ETH"} == {expected_id("cascade", "ETH", T0)}


def test_scopes_in_one_update_come_out_in_sorted_key_order():
    # Arrange
    book = AlertBook(CFG)
    signals = [
        sig("XAU"),
        sig("metal", kind="contagion"),
        sig("BTC"),
        sig("ETH"),
    ]

    # Act
    alerts = book.update(T0, signals)

    # Assert
    assert [(a.kind, a.scope) for a in alerts] == [
        ("cascade", "BTC"),
        ("cascade", "ETH"),
        ("cascade", "XAU"),
        ("contagion", "metal"),
    ]
    assert [t.scope for t in book.active()] == ["BTC", "ETH", "XAU", "metal"]


def test_strongest_signal_per_scope_wins():
    # Arrange
    book = AlertBook(CFG)
    signals = [
        sig(score=9.0, summary="weak but big"),
        sig(severity="critical", score=1.5, summary="critical"),
        sig(severity="critical", score=1.0, summary="critical but smaller"),
    ]

    # Act
    alerts = book.update(T0, signals)

    # Assert
    assert [(a.severity, a.summary) for a in alerts] == [("critical", "critical")]


def test_a_signal_with_its_own_for_s_fires_after_that_long():
    book = AlertBook(CFG)  # for_s 20
    short = Signal("cascade", "BTC", "warning", 1.0, "BTC hot", {}, for_s=10)

    book.update(T0, [short])
    early = book.update(T0 + 9 * S, [short])
    fired = book.update(T0 + 10 * S, [short])

    assert early == []
    assert states(fired) == [("firing", "warning", 1, T0 + 10 * S)]


def test_a_signal_without_for_s_waits_for_the_configured_for_s():
    book = AlertBook(CFG)

    book.update(T0, [sig()])

    assert book.update(T0 + 10 * S, [sig()]) == []
    assert [a.state for a in book.update(T0 + 20 * S, [sig()])] == ["firing"]
