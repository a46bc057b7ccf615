"""One wording of how rare a move is, for every detector (`detectors.rarity`)."""

import math

import pytest

from monitor.aggregate.detect.detectors import rarity


@pytest.mark.parametrize(
    ("days", "words"),
    [
        (0.25, "1-in-0.2-days for BTC"),
        (3.24, "1-in-3.2-days for BTC"),
        (40.4, "1-in-40-days for BTC"),
        (912.5, "1-in-2.5-years for BTC"),
        (1000.0, "rarer than 1-in-1000-days for BTC"),
        (math.inf, "rarer than 1-in-1000-days for BTC"),
        (math.nan, "rarity unknown for BTC"),
    ],
)
def test_a_return_period_in_words(days, words):
    assert rarity(days, "BTC") == words
