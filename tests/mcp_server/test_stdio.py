"""``trainlens mcp`` over stdio, driven by the MCP SDK's own client: every tool on the examples,
and a path escape refused."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")
anyio = pytest.importorskip("anyio")

from mcp import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
pytestmark = pytest.mark.slow

CALLS: list[tuple[str, dict[str, Any]]] = [
    ("list_runs", {}),
    ("metrics", {"run": "grpo_kl_episodes"}),
    ("series", {"run": "grpo_kl_episodes", "metric": "kl", "max_points": 50}),
    ("analyze", {"run": "grpo_kl_episodes"}),
    ("finding", {"run": "grpo_kl_episodes", "rule": "kl_spike"}),
    ("compare", {"runs": ["degrading_runs"]}),
    ("gate", {"run": "grpo_kl_episodes", "policies": ["kl>10 for 2"]}),
    ("report", {"run": "sft_overfit", "lang": "zh"}),
    ("list_runs", {"path": "../"}),
]


def _is_error(result: Any) -> bool:
    return bool(getattr(result, "is_error", None) or getattr(result, "isError", None))


async def _session(calls: list[tuple[str, dict[str, Any]]]) -> tuple[list[str], list[Any]]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "trainlens", "mcp", "--root", str(EXAMPLES), "--budget", "6000"],
    )
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            listed = await session.list_tools()
            results = [await session.call_tool(name, args) for name, args in calls]
    return [t.name for t in listed.tools], results


def test_every_tool_over_stdio() -> None:
    names, results = anyio.run(_session, CALLS)
    assert sorted(names) == sorted(
        ["list_runs", "metrics", "series", "analyze", "finding", "compare", "gate", "report"]
    )
    docs = {}
    for (name, _), result in zip(CALLS[:-1], results[:-1]):
        assert not _is_error(result), (name, result)
        text = result.content[0].text
        assert len(text) <= 6000
        docs.setdefault(name, json.loads(text))
    assert {r["run"] for r in docs["list_runs"]["runs"]} >= {"grpo_kl_episodes", "sft_overfit"}
    assert docs["series"]["points_returned"] <= 50 and docs["series"]["merged"] > 0
    assert any(f["rule"] == "kl_spike" for f in docs["analyze"]["findings"])
    assert docs["finding"]["findings"][0]["peak_step"] == 2800
    assert docs["gate"]["passed"] is False
    cut = docs["compare"].get("truncated", {}).get("runs", {"total": len(docs["compare"]["runs"])})
    assert cut["total"] == 3  # the budget may have cut the list: it says so
    assert docs["report"]["markdown"].startswith("# ")
    escape = results[-1]
    assert _is_error(escape)
    assert "refused, outside the server's roots" in escape.content[0].text


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _http_session(url: str) -> tuple[list[str], Any]:
    try:
        from mcp.client.streamable_http import streamable_http_client as client
    except ImportError:  # mcp 1.x
        from mcp.client.streamable_http import streamablehttp_client as client
    async with client(url) as streams:
        async with ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            listed = await session.list_tools()
            result = await session.call_tool("list_runs", {})
    return [t.name for t in listed.tools], result


def test_streamable_http_on_localhost() -> None:
    import socket
    import subprocess
    import time

    port = _free_port()
    args = ["-m", "trainlens", "mcp", "--root", str(EXAMPLES), "--http", str(port)]
    proc = subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.3)
        names, result = anyio.run(_http_session, f"http://127.0.0.1:{port}/mcp")
        assert "series" in names and not _is_error(result)
        assert json.loads(result.content[0].text)["count"] == 8
    finally:
        proc.terminate()
        proc.wait(timeout=30)
