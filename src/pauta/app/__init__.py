"""Application functions shared by the CLI and the API: they speak records and plain dicts."""
