"""The tools of :mod:`trainlens.mcp.tools` on the official MCP Python SDK (``mcp`` extra):
``MCPServer`` in mcp 2.x, ``FastMCP`` in 1.x. Transports: stdio, or streamable HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trainlens._version import __version__
from trainlens.errors import TrainlensError
from trainlens.mcp import tools
from trainlens.mcp.tools import Workspace

INSTRUCTIONS = (
    "trainlens reads LLM training logs (TensorBoard, ms-swift, HF Trainer, verl, console logs) "
    "and explains what went wrong. Start with list_runs, then analyze a run; finding(run, rule) "
    "explains one rule; series(run, metric) gives a downsampled curve. Paths are relative to "
    "the server's roots. Answers are compact JSON; a 'truncated' field says what was cut."
)


def _sdk() -> tuple[type, type[Exception], int]:
    """The SDK's server class, its tool error (whose message reaches the agent) and major
    version."""
    try:
        from mcp.server.mcpserver import MCPServer
        from mcp.server.mcpserver.exceptions import ToolError

        return MCPServer, ToolError, 2
    except ImportError:
        pass
    try:
        from mcp.server.fastmcp import FastMCP  # type: ignore[attr-defined]
        from mcp.server.fastmcp.exceptions import ToolError as V1ToolError
    except ImportError as exc:
        raise TrainlensError(
            "trainlens mcp needs the MCP SDK: pip install 'trainlens[mcp]'"
        ) from exc
    return FastMCP, V1ToolError, 1


def build_server(ws: Workspace) -> Any:
    """An SDK server with every tool bound to ``ws``."""
    cls, tool_error, _ = _sdk()
    server = cls("trainlens", instructions=INSTRUCTIONS)

    def call(fn: Callable[..., str], *args: Any) -> str:
        try:
            return fn(ws, *args)
        except TrainlensError as exc:  # bad input or a refused path: say why
            raise tool_error(str(exc)) from exc

    def list_runs(path: str = ".") -> str:
        return call(tools.list_runs, path)

    def metrics(run: str) -> str:
        return call(tools.metrics, run)

    def series(
        run: str,
        metric: str,
        start: int | None = None,
        end: int | None = None,
        max_points: int = 200,
    ) -> str:
        return call(tools.series, run, metric, start, end, max_points)

    def analyze(run: str, select: list[str] | None = None) -> str:
        return call(tools.analyze, run, select)

    def finding(run: str, rule: str) -> str:
        return call(tools.finding, run, rule)

    def compare(runs: list[str], metric: str | None = None) -> str:
        return call(tools.compare, runs, metric)

    def gate(
        run: str,
        policies: list[str] | None = None,
        fail_on_severity: str | None = None,
        fail_on_rule: list[str] | None = None,
    ) -> str:
        return call(tools.gate, run, policies or (), fail_on_severity, fail_on_rule or ())

    def report(run: str, lang: str | None = None) -> str:
        return call(tools.report, run, lang)

    for fn in (list_runs, metrics, series, analyze, finding, compare, gate, report):
        doc = getattr(tools, fn.__name__).__doc__ or ""
        server.add_tool(fn, name=fn.__name__, description=" ".join(doc.split()))
    return server


def serve(ws: Workspace, *, http: int | None = None, host: str = "127.0.0.1") -> None:
    """Run until the client goes away: stdio, or streamable HTTP on ``host:http``."""
    server = build_server(ws)
    if http is None:
        server.run("stdio")
        return
    _, _, major = _sdk()
    if major >= 2:
        server.run("streamable-http", host=host, port=http)
    else:  # mcp 1.x: host and port are settings
        server.settings.host, server.settings.port = host, http
        server.run("streamable-http")


__all__ = ["INSTRUCTIONS", "__version__", "build_server", "serve"]
