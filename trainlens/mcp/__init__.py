"""``trainlens mcp``: the library API as tools for coding agents (Model Context Protocol).

:mod:`trainlens.mcp.tools` holds the tools as plain functions over confined roots (no SDK
needed); :mod:`trainlens.mcp.server` registers them on the official ``mcp`` SDK's server
(the ``mcp`` extra)."""
