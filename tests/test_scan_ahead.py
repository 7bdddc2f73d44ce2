"""Failure scans started in a worker while the reader parses the log give exactly the in-process
results, and fall back to scanning in-process whenever they cannot be used."""

from __future__ import annotations

from pathlib import Path

from trainlens.analysis import analyze
from trainlens.engine.spec import load_rules
from trainlens.logscan import scan_logs
from trainlens.scan_ahead import ScanAhead

CRASH = """\
{'loss': 0.5, 'grad_norm': 1.0, 'learning_rate': 1e-05, 'epoch': 0.1}
{'loss': 0.4, 'grad_norm': 1.1, 'learning_rate': 1e-05, 'epoch': 0.2}
Traceback (most recent call last):
  File "train.py", line 10, in <module>
    trainer.train()
torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB
"""


def _log(tmp_path: Path) -> Path:
    path = tmp_path / "output.log"
    path.write_text("noise line\n" * 2000 + CRASH, encoding="utf-8")
    return path


def test_worker_scan_equals_in_process_scan(tmp_path: Path) -> None:
    path = _log(tmp_path)
    specs = load_rules().of_kind("log_pattern")
    here, here_warnings = scan_logs([path], specs)
    with ScanAhead(specs, min_bytes=0) as ahead:
        ahead.start([path])
        assert ahead._futures  # started in a worker
        there, there_warnings = ahead.scan_logs([path], specs)
    assert repr(there) == repr(here) and there_warnings == here_warnings


def test_changed_file_or_other_rules_are_scanned_again(tmp_path: Path) -> None:
    path = _log(tmp_path)
    specs = load_rules().of_kind("log_pattern")
    with ScanAhead(specs, min_bytes=0) as ahead:
        ahead.start([path])
        fewer = [s for s in specs if s.id != "cuda_oom"]
        scans, _ = ahead.scan_logs([path], fewer)
    assert repr(scans) == repr(scan_logs([path], fewer)[0])
    with ScanAhead(specs, min_bytes=0) as ahead:
        ahead.start([path])
        with path.open("a", encoding="utf-8") as fh:
            fh.write("RuntimeError: NCCL communicator was aborted\n")
        scans, _ = ahead.scan_logs([path], specs)
    assert repr(scans) == repr(scan_logs([path], specs)[0])


def test_analyze_finds_the_same_failures_with_and_without_scan_ahead(
    tmp_path: Path, monkeypatch
) -> None:
    path = _log(tmp_path)
    defaults = ScanAhead.__init__.__kwdefaults__
    started: list[Path] = []
    real_start = ScanAhead.start

    def spy(self: ScanAhead, paths) -> None:
        paths = list(paths)
        started.extend(paths)
        real_start(self, paths)

    monkeypatch.setattr(ScanAhead, "start", spy)
    monkeypatch.setitem(defaults, "min_bytes", 0)
    ahead = analyze(path)
    monkeypatch.setitem(defaults, "min_bytes", 1 << 62)
    inline = analyze(path)
    assert started and "cuda_oom" in {f.rule for f in ahead.findings}
    assert [f.to_dict("") for f in ahead.findings] == [f.to_dict("") for f in inline.findings]
