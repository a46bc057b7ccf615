import random

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from monitor.aggregate.windows import buckets, columns
from monitor.aggregate.windows.scopes import ScopeIndex
from monitor.events import Liquidation

NS = 1_000_000_000
T0 = 1_767_225_600
SIDES = ("long", "short")


def random_events(seed, n, span_s, assets=("BTC", "ETH", "XAU", "NVDA")):
    rng = random.Random(seed)
    classes = {"BTC": "crypto", "ETH": "crypto", "XAU": "metal", "NVDA": "equity"}
    out = []
    for i in range(n):
        asset = rng.choice(assets)
        venue = rng.choice(("bybit", "okx", "binance_usdm"))
        usd = round(rng.lognormvariate(8, 1.5), 2)
        ts = (T0 + rng.randrange(span_s)) * NS + rng.randrange(NS)
        out.append(
            Liquidation(
                exchange=venue, symbol=f"{asset}-USDT-PERP", venue_symbol=f"{asset}USDT",
                asset=asset, asset_class=classes[asset], position_side=rng.choice(SIDES),
                price=1.0, qty=usd, notional_usd=usd, ts_event_ns=ts, ts_recv_ns=ts,
                event_id=str(i),
            )
        )  # fmt: skip
    return out


def as_frame(b):
    return pl.DataFrame(
        {
            "sec": b.sec,
            "sid": b.sid.astype(np.uint32),
            "long_usd": b.vals[:, 0],
            "short_usd": b.vals[:, 1],
            "long_n": b.vals[:, 2],
            "short_n": b.vals[:, 3],
        }
    )


def test_buckets_match_the_polars_reference_and_scope_ids():
    ref_scopes, scopes = ScopeIndex(), ScopeIndex()
    coder = columns.LiquidationCoder(scopes)
    # dense (many events in few seconds) and sparse (few events over an hour) batches,
    # with new instruments and assets turning up in later batches
    batches = [
        random_events(1, 500, 3, assets=("BTC", "ETH")),
        random_events(2, 40, 3600),
        random_events(3, 2000, 20),
    ]

    for batch in batches:
        want = buckets.liquidation_buckets(buckets.liquidation_frame(batch), ref_scopes)
        got = columns.bucket(coder.columns(batch), coder)

        assert_frame_equal(as_frame(got), want, check_exact=False, rel_tol=1e-12)
        assert (scopes.levels, scopes.keys) == (ref_scopes.levels, ref_scopes.keys)


def test_totals_and_present_keys_match_the_polars_reference():
    coder = columns.LiquidationCoder(ScopeIndex())
    batch = random_events(4, 300, 10, assets=("BTC", "XAU"))

    cols = coder.columns(batch)
    want = buckets.totals_by_exchange(buckets.liquidation_frame(batch))
    got = coder.totals_by_exchange(cols)

    assert sorted(g[:3] for g in got) == sorted(w[:3] for w in want)
    np.testing.assert_allclose(
        [g[3] for g in sorted(got)], [w[3] for w in sorted(want)], rtol=1e-12
    )
    assert {(k[2], k[3]) for k in coder.present(cols)} == {("BTC", "crypto"), ("XAU", "metal")}


def test_pending_buckets_merge_batches_and_keep_open_seconds():
    coder = columns.LiquidationCoder(ScopeIndex())
    events = random_events(5, 3000, 30)
    events.sort(key=lambda e: e.ts_event_ns)
    pending = columns.PendingBuckets()
    for i in range(0, len(events), 700):  # batches cut through seconds
        pending.add(columns.bucket(coder.columns(events[i : i + 700]), coder))

    first = pending.take(T0 + 10)
    rest = pending.take(T0 + 30)
    whole = columns.bucket(coder.columns(events), coder)

    assert pending.take(T0 + 99).sec.size == 0
    assert first.sec.max() < T0 + 10 <= rest.sec.min()
    merged = columns.merge([first, rest])
    np.testing.assert_array_equal(merged.sec, whole.sec)
    np.testing.assert_array_equal(merged.sid, whole.sid)
    np.testing.assert_allclose(merged.vals, whole.vals, rtol=1e-12)
