"""The ``state`` config section: where the state file lives and how often it is saved."""

from __future__ import annotations

import os
from pathlib import Path

from monitor.config._base import PosFloat, _Section


class StateSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """State persistence across restarts (``liqmon run`` and the Kafka aggregate role)."""

    enabled: bool = True  # load the state file at start, save it periodically and at stop
    dir: str = ""
    """State directory (``~`` expanded); empty: ``$XDG_STATE_HOME/liqmon`` (else
    ``~/.local/state/liqmon``)."""
    save_interval_s: PosFloat = 60.0  # seconds between periodic saves
    warm_start: bool = True  # first start (no state): seed volatility from REST klines
    warm_start_days: PosFloat = 4.0
    """Days of 1-minute klines the REST warm start fetches per symbol: 4 covers the 72 hours
    of hourly falls the crash rule's own-history fit needs (``detect.crash.tail_min_hours``)."""
    warm_start_timeout_s: PosFloat = 30.0  # bound on the whole REST warm start, seconds

    def directory(self) -> Path:
        """Return the state directory this configuration names (not created here)."""
        if self.dir:
            return Path(self.dir).expanduser()
        base = os.environ.get("XDG_STATE_HOME") or str(Path("~/.local/state").expanduser())
        return Path(base) / "liqmon"
