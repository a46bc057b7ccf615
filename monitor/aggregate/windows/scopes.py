"""Scope ids: every (level, key) the windows track gets a dense integer id.

Levels: ``instrument`` (``exchange:symbol``), ``asset`` (all venues), ``class`` (asset
class) and ``market``. Dense ids let the windows keep their sums in numpy arrays indexed by
id; `ScopeIndex.grow` tells the owners of those arrays when to resize.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

Level = Literal["instrument", "asset", "class", "market"]
LEVELS: Final[tuple[Level, ...]] = ("instrument", "asset", "class", "market")
LEVEL_CODE: Final[dict[Level, int]] = {lvl: i for i, lvl in enumerate(LEVELS)}
MARKET: Final = "market"


class ScopeIndex:
    """Assigns ids in first-seen order (deterministic for a given input order)."""

    def __init__(self) -> None:
        self._ids: dict[tuple[Level, str], int] = {}
        self.levels: list[Level] = []
        self.keys: list[str] = []

    def __len__(self) -> int:
        return len(self.keys)

    def id_of(self, level: Level, key: str) -> int:
        """Return the id of (level, key), creating it if new."""
        found = self._ids.get((level, key))
        if found is None:
            found = len(self.keys)
            self._ids[(level, key)] = found
            self.levels.append(level)
            self.keys.append(key)
        return found

    def ids_of(self, level: Level, keys: Iterable[str]) -> dict[str, int]:
        """Return ``{key: id}`` for `keys` at `level`, creating ids for new ones."""
        return {k: self.id_of(level, k) for k in keys}

    def find(self, level: Level, key: str) -> int | None:
        """Return the id of (level, key) or None if never seen."""
        return self._ids.get((level, key))

    def level_codes(self) -> npt.NDArray[np.int8]:
        """Return each id's level as its index in `LEVELS`."""
        return np.array([LEVEL_CODE[lvl] for lvl in self.levels], dtype=np.int8)


def grown(array: npt.NDArray[np.float64], size: int, fill: float = 0.0) -> npt.NDArray[np.float64]:
    """Return `array` extended along axis 0 to at least `size` rows (capacity doubles)."""
    if array.shape[0] >= size:
        return array
    capacity = max(size, 2 * array.shape[0], 64)
    out = np.full((capacity, *array.shape[1:]), fill, dtype=array.dtype)
    out[: array.shape[0]] = array
    return out
