"""One-sided upper CUSUM (Page 1954), vectorized over scope ids.

S_t = max(0, S_{t−1} + z_t − k); the alarm is S_t ≥ h. `z_t` is the standardized residual
of one closed minute (its liquidation USD against the scope's seasonal baseline), so S
accumulates sustained moderate rises that no single minute shows. The engine updates S
once per closed minute and resets a scope's S to 0 when its alert resolves.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


def cusum_step(s: F64, z: F64, k: float) -> F64:
    """Return max(0, s + z − k), elementwise."""
    return np.maximum(s + z - k, 0.0)


def cusum_repeat(s: F64, z: F64, k: float, steps: int) -> F64:
    """Return S after `steps` periods with the same residual `z` each (closed form).

    Exact when z − k ≤ 0 (then S only falls, as for the zero minutes of a data gap) and
    when z − k > 0 (then S only rises), since max(0, ·) binds at most once either way.
    """
    return np.maximum(s + steps * (z - k), 0.0)
