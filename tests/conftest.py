"""Shared fixtures: paths to the small committed fixtures, and synthetic event files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.synth import write_burst_file

FIXTURES = Path(__file__).parent / "fixtures"
KLINES = FIXTURES / "klines"


@pytest.fixture(scope="session", autouse=True)
def _state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep daemons started by tests (subprocesses too) out of the user's state directory."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("xdg-state")))
        yield


@pytest.fixture(scope="session")
def burst_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two hours of synthetic liquidations with a BTC long burst at 01:30."""
    return write_burst_file(tmp_path_factory.mktemp("synth") / "burst.jsonl")


@pytest.fixture(scope="session")
def calm_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same background as `burst_file`, without the burst."""
    return write_burst_file(tmp_path_factory.mktemp("synth") / "calm.jsonl", with_burst=False)
