"""Without pyarrow (the optional ``fast`` extra) a big ms-swift log is decoded line by line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

WITHOUT_PYARROW = r"""
import sys
sys.modules["pyarrow"] = None  # as if not installed: importing it fails
from pathlib import Path
from trainlens.readers import _jsonl_fast
from trainlens.readers.swift_jsonl import read_swift_jsonl
_jsonl_fast.MIN_BYTES = 0
assert not _jsonl_fast.available()
result = read_swift_jsonl(Path(sys.argv[1]))
print(len(result.frame), result.meta["max_steps"], sys.modules.get("pyarrow"))
"""


def test_without_pyarrow_every_line_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "logging.jsonl"
    lines = [
        json.dumps({"loss": 1.0 / i, "global_step/max_steps": f"{i}/30", "percentage": "1.00%"})
        for i in range(1, 31)
    ]
    path.write_text("\n".join(lines) + "\n")
    out = subprocess.run(
        [sys.executable, "-c", WITHOUT_PYARROW, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["60", "30", "None"]
