"""The aggregate's state in time.

1-second buckets (`buckets`, `columns`), scopes
(`scopes`), sliding windows (`sliding`), per-partition summaries and their merge
(`partial`, `merge`), and price windows (`prices`).
"""
