"""The CCP-compatible HTTP API (spec §4): both path families, its wire formats (XML, JSON, query strings), limits."""
