"""File formats: contract JSON lines and public market-data archives."""
