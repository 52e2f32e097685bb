"""Runnable examples of omie-otel: an Omie MCP server (:mod:`examples.omie_mcp_server`) and ``make demo``
(:mod:`examples.demo`). Run them from the repository root: ``python -m examples.omie_mcp_server``."""
