"""What liqmon shows about itself and the markets: metrics, their exposition, HTTP.

`metrics` (every metric; `source_metrics`: per venue; `engine_gauges`: the engine-state
gauges, read from the engine at scrape), `exposition` (renders them),
`catalogue` (documents them: ``python -m monitor.observability.catalogue --update
docs/metrics.md``), `http` (the HTTP port: ``/metrics``, ``/readyz``, the API) and
`status_page` (the ``/`` page).
"""
