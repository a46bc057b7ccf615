"""The scenario simulator: reproducible contract-event files for demos, tests and evaluation.

``calm`` (multi-asset background), ``hawkes`` (self-exciting cascades of a chosen branching
ratio, with ground-truth labels) and ``feb-2026`` (the CME margin-hike cascade of early
February 2026). See `monitor.simulate.scenarios` for what each contains and why, and
`monitor.simulate.command` for ``liqmon simulate``.
"""

from __future__ import annotations

from monitor.simulate.command import add_parser, run, write_events
from monitor.simulate.scenarios import SCENARIOS, SimParams, build, simulate

__all__ = ["SCENARIOS", "SimParams", "add_parser", "build", "run", "simulate", "write_events"]
