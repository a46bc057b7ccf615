"""Fuzz every venue's live parse path with mutated real frames (hypothesis, bounded).

Each example takes one of the venue's fixture frames, mutates it (`tests.support.mutate`:
extreme numbers, byte flips, cuts, repeats, deep nesting, wrong types) and sends it to
every stream's parser through `parse_frame`, as the runner does. Only `ParseError` may
come out, and every event `monitor.bounds` keeps must be sane (finite, positive, a time
in int64 nanoseconds); the others it rejects with a reason. ``bench/fuzz`` runs the
same path for millions of frames.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.sources import SOURCES
from tests.support.mutate import Counts, LivePath, frames_of, mutate

TS_RECV_NS = 1_700_000_000_000_000_000
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_venue_has_frames_and_a_book(name: str) -> None:
    path = LivePath(SOURCES[name], TS_RECV_NS)
    assert frames_of(SOURCES[name])
    counts = Counts()
    for frame in frames_of(SOURCES[name]):
        path.feed(frame, counts)
    assert counts.events > 0  # the unmutated fixtures give events: the fuzz reaches parsers
    assert counts.escapes == []


@pytest.mark.parametrize("name", sorted(SOURCES))
@FUZZ
@given(pick=st.integers(0, 10**6), seed=st.integers(0, 2**32 - 1))
def test_mutated_frames_give_parse_errors_or_sane_events(name: str, pick: int, seed: int) -> None:
    venue = SOURCES[name]
    frames = frames_of(venue)
    path = LivePath(venue, TS_RECV_NS)
    counts = Counts()
    path.feed(mutate(frames[pick % len(frames)], random.Random(seed)), counts)
    assert counts.escapes == []
    assert counts.non_finite == []
