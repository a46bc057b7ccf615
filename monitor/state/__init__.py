"""State that survives restarts: a versioned state file and component snapshots.

`store` reads and writes the file atomically; `snapshot` defines the `Snapshottable`
protocol and collects/restores components; `engine` snapshots the aggregation engine;
`keeper` wires both into a running role (load at start, save periodically and at stop).
"""
