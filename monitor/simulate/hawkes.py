"""Marked Hawkes (self-exciting) point processes by the cluster (branching) construction.

A marked Hawkes process: λ(t) = μ + Σ α·g(m_i)·φ(t − t_i) with a two-exponential kernel φ
(a fast liquidation-engine scale and a slow margin-call scale) and a mark effect
g(m) = (m/m_med)^γ · e^{−γ²σ²/2}, normalised so that E[g] = 1 under log-normal marks. Each
event has Poisson(n·g(m)) direct children, so the branching ratio is n and a cluster has
1/(1 − n) events on average. Generations are drawn vectorised with numpy, so a cluster of
tens of thousands of events costs milliseconds. Everything is deterministic for a given
`numpy.random.Generator` state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
MAX_EVENTS: Final = 400_000  # per cluster: a safety stop for branching ratios close to 1


@dataclass(frozen=True, slots=True)
class Kernel:
    """Two-exponential excitation kernel, integrating to 1.

    Attributes:
        fast_s: fast decay time, seconds (liquidation-engine feedback, 5–30 s).
        slow_s: slow decay time, seconds (margin-call and stop-loss waves, 3–15 min).
        fast_weight: share of the children on the fast scale, 0..1.
    """

    fast_s: float = 15.0
    slow_s: float = 240.0
    fast_weight: float = 0.5

    def delays(self, rng: np.random.Generator, n: int) -> F64:
        """Return `n` parent-to-child delays, seconds."""
        fast = rng.random(n) < self.fast_weight
        scale = np.where(fast, self.fast_s, self.slow_s)
        return rng.exponential(1.0, n) * scale


@dataclass(frozen=True, slots=True)
class Marks:
    """Log-normal USD marks and their excitation effect.

    Attributes:
        median_usd: median notional of one liquidation, USD.
        sigma: standard deviation of log(notional).
        gamma: mark-effect exponent γ of g(m) (0 = marks do not excite more).
    """

    median_usd: float
    sigma: float = 1.3
    gamma: float = 0.3

    @property
    def mean_usd(self) -> float:
        """Return the mean notional, USD (median · e^{σ²/2})."""
        return self.median_usd * math.exp(self.sigma**2 / 2.0)

    def draw(self, rng: np.random.Generator, n: int) -> F64:
        """Return `n` notionals, USD."""
        return self.median_usd * np.exp(rng.normal(0.0, self.sigma, n))

    def effect(self, usd: F64) -> F64:
        """Return g(m) for each notional, with E[g] = 1."""
        norm = math.exp(-((self.gamma * self.sigma) ** 2) / 2.0)
        return np.power(usd / self.median_usd, self.gamma) * norm


def descendants(
    rng: np.random.Generator,
    times_s: F64,
    branching: float,
    marks: Marks,
    kernel: Kernel,
) -> tuple[F64, F64]:
    """Return every event of the clusters grown from the immigrants at `times_s`.

    Args:
        rng: the random generator (consumed deterministically).
        times_s: immigrant times, seconds.
        branching: the branching ratio n, 0 ≤ n < 1.
        marks: the mark distribution (immigrants and children alike).
        kernel: parent-to-child delay distribution.

    Returns:
        (times, notionals): sorted by time, seconds and USD.

    Raises:
        ValueError: when the branching ratio is outside [0, 1).
    """
    if not 0.0 <= branching < 1.0:
        raise ValueError("branching ratio must be in [0, 1), got %r" % branching)
    gen_t = np.asarray(times_s, dtype=np.float64)
    gen_m = marks.draw(rng, gen_t.size)
    all_t, all_m = [gen_t], [gen_m]
    total = gen_t.size
    while gen_t.size and total < MAX_EVENTS:
        counts = rng.poisson(branching * marks.effect(gen_m))
        n_children = int(counts.sum())
        if n_children == 0:
            break
        gen_t = np.repeat(gen_t, counts) + kernel.delays(rng, n_children)
        gen_m = marks.draw(rng, n_children)
        all_t.append(gen_t)
        all_m.append(gen_m)
        total += n_children
    t = np.concatenate(all_t)
    m = np.concatenate(all_m)
    order = np.argsort(t, kind="stable")
    return t[order], m[order]


def ramp_immigrants(rng: np.random.Generator, n: int, onset_s: float, ramp_s: float) -> F64:
    """Return `n` immigrant times on [onset, onset + ramp) with a linearly rising density.

    The exogenous shock builds up (density ∝ t − onset), so a cascade grows from its onset
    to a peak near the end of the ramp, as real ones do (onset → peak 10–30 min, §2.8).
    """
    return onset_s + ramp_s * np.sqrt(rng.random(n))


def poisson_times(rng: np.random.Generator, rate_per_s: float, duration_s: float) -> F64:
    """Return sorted homogeneous Poisson times on [0, duration_s), seconds."""
    n = int(rng.poisson(rate_per_s * duration_s)) if rate_per_s > 0 else 0
    return np.sort(rng.random(n) * duration_s)


def profile_times(rng: np.random.Generator, knots_s: F64, levels: F64, expected: float) -> F64:
    """Return inhomogeneous Poisson times with a piecewise-constant rate.

    Args:
        rng: the random generator.
        knots_s: segment boundaries, seconds (len(levels) + 1 values, increasing).
        levels: relative rate of each segment.
        expected: expected number of events over all segments.
    """
    widths = np.diff(knots_s)
    weight = widths * levels
    counts = rng.poisson(expected * weight / weight.sum())
    parts = [
        knots_s[i] + rng.random(int(c)) * widths[i] for i, c in enumerate(counts.tolist()) if c
    ]
    return np.sort(np.concatenate(parts)) if parts else np.zeros(0)
