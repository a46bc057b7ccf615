"""Alert lifecycle and sinks."""
