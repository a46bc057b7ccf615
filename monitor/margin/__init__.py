"""Margin changes as first-class input.

Four ways in, one event type out (`monitor.events.MarginChange` on ``liqmon.margin.v1``):

- `monitor.margin.calendar`: a watched CSV/YAML calendar of clearing-house notices (CME
  performance bonds, SHFE, SGE, ICE, …);
- `monitor.margin.http`: ``POST /api/v1/margin-changes`` with a bearer token;
- `monitor.margin.pollers`: diffs of the public risk-tier endpoints of Bybit, OKX and
  Hyperliquid (pure parsers and diff in `monitor.margin.tiers`);
- `monitor.margin.cli`: ``liqmon margin add`` to enter one by hand.

`monitor.margin.model` holds what they share: field validation, the venues' time zones and
closes, units, tightening and the deterministic ``event_id``. This package ``__init__``
imports nothing. Its config section lives in `monitor.config.margin`.
"""
