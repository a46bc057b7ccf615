"""The lateness rule, one copy for the engine and for the Kafka stage 1's partitions.

Each event is judged against the newest event before it (so batch boundaries do not
matter): it is late when its second is below the first open one, that is below
max((newest − grace) // 1 s, the first second not yet closed). A late event counts in that
first open second, unless its second is below that of newest − ``allowed_lateness_ms``:
then it is dropped. Called once per batch by `monitor.aggregate.engine.Engine` and
`monitor.aggregate.windows.partial.PartitionBuckets`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.events import NS


@dataclass(frozen=True, slots=True)
class Judged:
    """The judgement of one batch, per event (arrays in batch order)."""

    late: npt.NDArray[np.bool_]  # its second is below the first open one
    dropped: npt.NDArray[np.bool_]  # late and older than the allowed lateness
    first_open: npt.NDArray[np.int64]  # the first open second when it came (s)
    newest_ns: int  # the newest event time after the batch (epoch ns)


def judge(
    ts: npt.NDArray[np.int64],
    newest_ns: int | None,
    first_open: int | None,
    grace_ns: int,
    lateness_ns: int,
) -> Judged:
    """Judge a batch of event times `ts` (epoch ns, batch order).

    `newest_ns`: the newest event time before the batch (None: none yet, the first event
    is never late); `first_open`: the first second not closed yet (None: none closed).
    """
    start = np.iinfo(np.int64).min if newest_ns is None else newest_ns
    running = np.maximum.accumulate(np.concatenate([np.array([start], np.int64), ts]))
    newest = running[:-1]
    horizon = (newest - grace_ns) // NS
    if first_open is not None:
        horizon = np.maximum(horizon, first_open)
    late = ts // NS < horizon
    if newest_ns is None and late.size:
        late[0] = False
    dropped = late & (ts // NS < (newest - lateness_ns) // NS)
    return Judged(late, dropped, horizon, int(running[-1]))
