"""A string that never prints itself: webhook URLs, tokens, passwords."""

from __future__ import annotations

from typing import Final

MASK: Final = "**********"


class Secret:
    """Holds a secret value; `repr`/`str` show a mask, `reveal()` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret in plain text (only at the point of use)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret(%s)" % MASK

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)
