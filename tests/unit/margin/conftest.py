"""Paths to the margin fixtures (composed REST payloads and the shipped CME calendar)."""

from __future__ import annotations

from pathlib import Path

MARGIN = Path(__file__).resolve().parents[2] / "fixtures" / "margin"
ROOT = Path(__file__).resolve().parents[3]
CME_CALENDAR = MARGIN / "cme_metals_2025-12_2026-02.csv"
SHIPPED_CALENDAR = ROOT / "deploy" / "margin" / "cme_metals_2025-12_2026-02.csv"
CLASSES = {"XAU": "metal", "XAG": "metal", "XPT": "metal", "XPD": "metal"}


def ns(iso: str) -> int:
    """Epoch ns of an ISO UTC time, e.g. ``ns("2026-02-05T22:00:00+00:00")``."""
    from datetime import datetime

    return int(datetime.fromisoformat(iso).timestamp()) * 1_000_000_000
