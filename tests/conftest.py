"""Shared fixtures: paths to the small committed fixtures, and synthetic event files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.synth import write_burst_file

FIXTURES = Path(__file__).parent / "fixtures"
KLINES = FIXTURES / "klines"


@pytest.fixture(scope="session")
def burst_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two hours of synthetic liquidations with a BTC long burst at 01:30."""
    return write_burst_file(tmp_path_factory.mktemp("synth") / "burst.jsonl")


@pytest.fixture(scope="session")
def calm_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same background as `burst_file`, without the burst."""
    return write_burst_file(tmp_path_factory.mktemp("synth") / "calm.jsonl", with_burst=False)
