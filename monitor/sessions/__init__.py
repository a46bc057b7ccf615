"""Market sessions of TradFi perpetuals: when the underlying market is open, and how.

`calendar` keeps the session timeline per underlying market (US equities, commodities),
from the venues' published schedules and streams (`binance`), falling back to a weekly
template of the markets' usual hours when nothing has been published.
"""
