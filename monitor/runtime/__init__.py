"""The runtime core the daemons compose, whatever the transport.

``liqmon run`` (`monitor.runtime.embedded`, in-process bus) and the Kafka roles
``ingest``/``aggregate`` (`monitor.runtime.kafka.roles`) are built from it; replays reuse
both wirings.

`core`: the handle every daemon exposes, the bounds gate, source feeding and readiness;
`http`: the HTTP port; `alerts`: alert routing and the direct sinks; `inputs`: the live
inputs (margin API, calendars, risk-tier pollers, REST polls). The transport (`MemoryBus` or
`KafkaBus`, `monitor.bus`) is what the two wirings add.
"""
