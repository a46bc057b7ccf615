"""The `Snapshottable` protocol and helpers to collect and restore component snapshots.

A component that keeps state worth keeping across a restart (a baseline, a tail estimate,
a poller's last view) implements ``snapshot() -> dict`` (plain values: str, int, float,
bool, None, bytes, lists, dicts; numpy arrays through `pack_array`) and ``restore(dict)``,
which may raise `RestoreError` (or KeyError/TypeError/ValueError) on a snapshot it does
not understand. `collect` and `restore_all` are called by the state keeper at save and
load time.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

Snapshot = dict[str, Any]
RESTORE_ERRORS = (KeyError, TypeError, ValueError, IndexError, AttributeError)


class RestoreError(ValueError):
    """A snapshot does not fit the component (other layout or configuration)."""


@runtime_checkable
class Snapshottable(Protocol):
    """A component whose state can be saved and restored."""

    def snapshot(self) -> Snapshot:
        """Return the component's state as plain values (called at every save)."""
        ...

    def restore(self, state: Snapshot) -> None:
        """Replace the component's state with `state` (called once, at start)."""
        ...


def collect(parts: Mapping[str, Snapshottable]) -> dict[str, Snapshot]:
    """Return ``{name: snapshot}`` of every part."""
    return {name: part.snapshot() for name, part in parts.items()}


def restore_all(parts: Mapping[str, Snapshottable], saved: Mapping[str, Any]) -> list[str]:
    """Restore each part found in `saved`; return the names restored.

    A part whose snapshot is missing is left as is; one that does not fit is logged in one
    line and left as is (its own restore must not half-apply, or must raise before
    changing anything).
    """
    done: list[str] = []
    for name, part in parts.items():
        state = saved.get(name)
        if not isinstance(state, dict):
            continue
        try:
            part.restore(state)
        except RESTORE_ERRORS as exc:
            logger.warning("state of %s ignored: %s", name, exc)
            continue
        done.append(name)
    return done


def pack_array(array: npt.NDArray[Any]) -> Snapshot:
    """Return a numpy array as plain values (dtype, shape, raw bytes)."""
    return {"dtype": array.dtype.str, "shape": list(array.shape), "data": array.tobytes()}


def unpack_array(packed: object) -> npt.NDArray[Any]:
    """Return the array `pack_array` packed (a writable copy).

    Raises:
        RestoreError: `packed` is not a packed array.
    """
    if not isinstance(packed, dict) or not isinstance(packed.get("data"), bytes):
        msg = "not a packed array"
        raise RestoreError(msg)
    array = np.frombuffer(packed["data"], dtype=np.dtype(packed["dtype"]))
    return array.reshape(tuple(packed["shape"])).copy()
