"""Config of the liquidity-stress, saturation and deleveraging detectors and of user rules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from monitor.config._base import NonNeg, NonNegFloat, Pos, PosFloat, Ratio, _Section
from monitor.errors import ConfigError
from monitor.events import ASSET_CLASSES

RuleSide = Literal["long", "short", "both"]


class LiquiditySettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Liquidity stress: the quoted spread against its own baseline (per asset).

    Per instrument whose ticks carry bid and ask: spread s = (ask − bid) / mid in bps; the
    current spread is the median of its per-second spreads over ``window_s``; its baseline
    is an EWMA of each minute's mean log spread (half-life ``baseline_half_life_min``,
    frozen while the asset is in alert). The asset's ratio is the median ratio of its fresh,
    warmed-up instruments. Hot when the ratio ≥ ``ratio_warning`` and the asset's median
    spread ≥ ``min_spread_bps``; critical from ``ratio_critical``. Depth is not in the event
    contract, so there is no depth ratio.
    """

    window_s: Pos = 60
    ratio_warning: PosFloat = 5.0
    ratio_critical: PosFloat = 10.0
    min_spread_bps: PosFloat = 2.0  # a wider ratio on a spread below this is noise
    baseline_half_life_min: PosFloat = 1440.0
    warmup_min: NonNeg = 60  # minutes of baseline before an instrument counts


class DeleveragingSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Deleveraging: open interest falling past the scope's own threshold while prices move.

    Per scope (asset, asset class, market) and per window of ``windows_s`` (seconds), from
    the ticks that carry open interest: the OI fall over the window from each instrument's
    high, in base units valued at the current price, as a share of the scopes' OI.
    ``score``: ``oi_and_price`` judges the geometric mean of that fall and the price range
    over the same window (both %), ``oi`` the fall alone. Each window has its own threshold
    (the 1 − 1/``return_period_days`` quantile of the scope's daily maxima of that window's
    score over ``history_days``, from ``min_days`` of them; before, ``prior_pct`` on the
    first window while the others stay silent; never below ``floor_pct``). While the
    ``market`` scope is itself hot, the other scopes are judged at the shorter
    ``joined_return_period_days`` (None: never). Hot when any
    window's score reaches its threshold, with the OI fallen ≥ ``min_drop_pct`` and the
    price moved ≥ ``min_price_move_pct`` since the OI high in that window. Critical from
    ``critical_multiple`` × the threshold. Defaults from Binance BTC/AVAX 5-minute OI, Dec
    2025 – Jun 2026 (docs/open-interest.md).
    """

    enabled: bool = True
    windows_s: tuple[Pos, ...] = (3600,)
    step_s: Pos = 60  # one OI sample per instrument per step (seconds of event time)
    return_period_days: PosFloat = 90.0
    joined_return_period_days: PosFloat | None = 14.0  # while the market scope unwinds
    history_days: Pos = 90
    min_days: Pos = 14
    prior_pct: PosFloat = 3.0
    floor_pct: PosFloat = 1.0
    min_drop_pct: NonNegFloat = 1.0  # the OI fall itself, whatever the price range
    min_price_move_pct: NonNegFloat = 0.5
    stale_s: Pos = 900  # an instrument without an OI reading for this long is left out
    critical_multiple: PosFloat = 1.5
    score: Literal["oi", "oi_and_price"] = "oi_and_price"

    def __post_init__(self) -> None:
        if not self.windows_s or len(set(self.windows_s)) != len(self.windows_s):
            msg = "windows_s needs at least one window and no repeats"
            raise ValueError(msg)


class SaturationSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Saturation of sampled liquidation streams (``completeness: sampled``, e.g. Binance).

    A sampled stream shows at most one liquidation per symbol per second, so a symbol with
    an event in nearly every second undercounts. Over ``window_s``, an instrument's share
    of seconds with ≥ 1 event is its saturation. Every cascade signal on an asset with a
    sampled instrument carries the share as evidence. A saturated asset (share ≥
    ``min_share``) whose seen USD reaches ``floor_fraction`` × its burst floor, one-sided as
    the burst rule requires, is a cascade signal of its own (warning).
    """

    window_s: Pos = 60
    min_share: Ratio = 0.8
    floor_fraction: Ratio = 0.25


class ThresholdRule(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One user rule; raises a ``threshold`` alert on ``scope`` named after the rule.

    Two forms, told apart by which of ``usd`` and ``min_assets`` is set:

    - USD: ``usd`` liquidated on ``side`` over ``window_s`` (one of the aggregate
      windows) in ``scope`` (an asset, an asset class or ``market``).
    - Breadth: ≥ ``min_assets`` assets (of class ``scope``, or any for ``market``) with a
      firing alert whose incident started within the last ``window_s``.
    """

    name: str
    window_s: Pos
    scope: str = "market"
    usd: PosFloat | None = None
    side: RuleSide = "both"
    min_assets: Pos | None = None
    severity: Literal["warning", "critical"] = "warning"

    def __post_init__(self) -> None:
        if not self.name.strip():
            msg = "a rule needs a non-empty name"
            raise ValueError(msg)
        if not self.scope.strip():
            raise ValueError("rule %r: scope must not be empty" % self.name)
        if (self.usd is None) == (self.min_assets is None):
            raise ValueError("rule %r: set exactly one of usd and min_assets" % self.name)
        if self.min_assets is not None and self.scope not in ("market", *ASSET_CLASSES):
            raise ValueError(
                "rule %r: a min_assets rule's scope is market or an asset class, got %r"
                % (self.name, self.scope)
            )


def check_rules(rules: Sequence[ThresholdRule], windows_s: Sequence[int]) -> None:
    """Check what one rule cannot see alone: unique names, USD windows that exist.

    Called by `monitor.config.load` after conversion.

    Raises:
        ConfigError: naming the rule, the key and the value.
    """
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        if rule.name in seen:
            raise ConfigError("config: detect.rules[%d].name: duplicate %r" % (i, rule.name))
        seen.add(rule.name)
        if rule.usd is not None and rule.window_s not in windows_s:
            raise ConfigError(
                "config: detect.rules[%d].window_s: rule %r: %d is not one of "
                "aggregate.windows_s %s" % (i, rule.name, rule.window_s, list(windows_s))
            )
