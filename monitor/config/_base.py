"""Shared pieces of every config section: the base Struct and constrained number types."""

from __future__ import annotations

from typing import Annotated

import msgspec

NonNeg = Annotated[int, msgspec.Meta(ge=0)]
Pos = Annotated[int, msgspec.Meta(gt=0)]
PosFloat = Annotated[float, msgspec.Meta(gt=0)]
NonNegFloat = Annotated[float, msgspec.Meta(ge=0)]
Ratio = Annotated[float, msgspec.Meta(ge=0, le=1)]
HostPort = Annotated[str, msgspec.Meta(pattern=r"^[^:\s]*:\d{1,5}$")]


class _Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every config section: frozen, keyword-only, unknown keys refused."""
