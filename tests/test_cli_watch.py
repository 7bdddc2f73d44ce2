"""``trainlens watch``: exit codes (policy failed, Ctrl-C, bad input), streams, formats."""

from __future__ import annotations

import json
import queue
import threading
from pathlib import Path

import pytest
from fake_engine import install_fake_rules
from logwriters import swift_line
from typer.testing import CliRunner

from trainlens.cli import app

runner = CliRunner()


@pytest.fixture()
def fake_rules(monkeypatch):
    """The engine replaced by one rule, ``kl_limit`` (error): kl above 10."""
    install_fake_rules(monkeypatch)


@pytest.fixture()
def job(tmp_path: Path) -> Path:
    """A finished ms-swift log whose kl goes above 10 at steps 6-8."""
    log = tmp_path / "job" / "logging.jsonl"
    log.parent.mkdir()
    log.write_text(
        "".join(
            swift_line(s, 10, {"loss": 0.5, "kl": 20.0 if 6 <= s <= 8 else 0.1}) + "\n"
            for s in range(1, 11)
        )
    )
    return tmp_path


def watch(*args: str):
    return runner.invoke(app, ["watch", *args, "--interval", "0.05"])


def test_exit_1_as_soon_as_a_policy_fails(job):
    result = watch(str(job), "--no-rules", "--exit-on", "kl>10 for 3")
    assert result.exit_code == 1
    assert "POLICY FAILED  job  kl>10 for 3: worst 20 at step 6" in result.stdout
    assert "watch: policy failed" in result.stderr and "found run job" in result.stderr


def test_exit_0_when_polls_end_without_failure(job):
    result = watch(str(job), "--no-rules", "--exit-on", "kl>100", "--max-polls", "2")
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and "stopped after 2 poll(s)" in result.stderr


def test_new_findings_printed_once(job, fake_rules):
    result = watch(str(job), "--max-polls", "3")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("kl_limit") == 1
    assert "ERROR   job  kl  steps 6–8  kl_limit (error) on kl, steps 6–8" in result.stdout


def test_fail_on_severity_in_watch(job, fake_rules):
    result = watch(str(job), "--fail-on-severity", "error")
    assert result.exit_code == 1 and "POLICY FAILED  job  severity>=error" in result.stdout
    result = watch(str(job), "--no-rules", "--fail-on-severity", "error")
    assert result.exit_code == 2 and "need the rules" in result.stderr


def test_jsonl_events(job, fake_rules):
    result = watch(str(job), "--exit-on", "max(kl)>10", "-f", "jsonl")
    assert result.exit_code == 1
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["event"] for e in events] == ["run_found", "finding", "policy_failed"]
    assert events[1]["rule"] == "kl_limit" and events[1]["start_step"] == 6
    assert events[2]["policy"] == "max(kl)>10" and events[2]["value"] == 20.0


def test_ctrl_c_exits_0(job, monkeypatch):
    import trainlens.watch as watch_lib  # the command imports it when it runs

    def interrupted(*args, **kwargs):
        yield from ()
        raise KeyboardInterrupt

    monkeypatch.setattr(watch_lib, "watch", interrupted)
    result = watch(str(job), "--no-rules")
    assert result.exit_code == 0 and "stopped after 0 new finding(s)" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--exit-on", "kl>>10"], 'bad policy "kl>>10": expected a number at column 4'),
        (["--exit-on", "kl>1", "--fail-on-rule", "nope"], "unknown rule 'nope'"),
    ],
)
def test_exit_2_on_bad_input(job, fake_rules, args, message):
    result = watch(str(job), *args)
    assert result.exit_code == 2 and message in result.stderr


def test_a_missing_path_is_waited_for(tmp_path):
    """A wrapper may start watch before the job creates its output dir: wait, say so once."""
    where = tmp_path / "not_yet" / "output"
    result = watch(str(where), "--no-rules", "--max-polls", "3")
    assert result.exit_code == 0, result.output
    assert result.stderr.count(f"waiting for {where} to appear (Ctrl-C to stop)") == 1
    assert f"stopped after 3 poll(s), 0 new finding(s); {where} never appeared" in result.stderr
    assert result.stdout == ""
    jsonl = watch(str(where), "--no-rules", "--max-polls", "1", "-f", "jsonl")
    assert [json.loads(x)["event"] for x in jsonl.stdout.splitlines()] == ["waiting"]


def test_the_path_appears_while_waiting(tmp_path, monkeypatch):
    import trainlens.watch as watch_lib

    where = tmp_path / "job"
    calls = []

    def sleep(seconds: float) -> None:  # the job starts writing after the second poll
        calls.append(seconds)
        if len(calls) == 2:
            where.mkdir()
            (where / "logging.jsonl").write_text(
                "".join(swift_line(s, 10, {"loss": 0.5, "kl": 20.0}) + "\n" for s in (1, 2, 3))
            )

    real = watch_lib.watch
    monkeypatch.setattr(watch_lib, "watch", lambda *a, **k: real(*a, **{**k, "sleep": sleep}))
    result = watch(str(where), "--no-rules", "--exit-on", "kl>10", "--max-polls", "10")
    assert result.exit_code == 1, result.output
    assert result.stderr.count("waiting for") == 1 and "found run job" in result.stderr
    assert "POLICY FAILED" in result.stdout and len(calls) == 2


def test_ctrl_c_while_waiting_exits_0(tmp_path, monkeypatch):
    import trainlens.watch as watch_lib

    def sleep(seconds: float) -> None:
        raise KeyboardInterrupt

    real = watch_lib.watch
    monkeypatch.setattr(watch_lib, "watch", lambda *a, **k: real(*a, **{**k, "sleep": sleep}))
    result = watch(str(tmp_path / "nowhere"), "--no-rules")
    assert result.exit_code == 0 and "waiting for" in result.stderr
    assert "stopped after 0 new finding(s)" in result.stderr


def test_lang_help_says_what_it_translates():
    result = runner.invoke(app, ["watch", "--help"], env={"COLUMNS": "300"})
    text = " ".join(result.stdout.split())
    assert "Watch's own lines (found run, POLICY FAILED and its evidence, waiting, stopped)" in text
    assert "A PATH that does not exist yet is waited for" in text


def test_watch_settings_from_config(job, tmp_path):
    cfg = tmp_path / "trainlens.toml"
    cfg.write_text('[watch]\nexit_on = ["kl>10"]\ninterval = 0.05\n')
    result = runner.invoke(app, ["watch", str(job), "--no-rules", "--config", str(cfg)])
    assert result.exit_code == 1 and "POLICY FAILED  job  kl>10" in result.stdout
    cfg.write_text('[watch]\ninterval = "soon"\n')
    result = runner.invoke(app, ["watch", str(job), "--no-rules", "--config", str(cfg)])
    assert result.exit_code == 2 and "watch.interval must be a number" in result.stderr


def test_real_ctrl_c_and_sigterm_exit_0(job):
    """The installed command in its own process: SIGINT (Ctrl-C) and SIGTERM both stop it, 0."""
    import signal
    import subprocess
    import sys

    procs = {
        sig: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "trainlens",
                "watch",
                str(job),
                "--no-rules",
                "--interval",
                "0.1",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        readers = {}
        for sig, proc in procs.items():
            assert proc.stderr is not None
            lines: queue.Queue[str] = queue.Queue()
            reader = threading.Thread(
                target=lambda f=proc.stderr, q=lines: [q.put(x) for x in f], daemon=True
            )  # a reader thread: never hang CI on a watcher that never starts
            reader.start()
            readers[sig] = (reader, lines)
            seen = ""
            while "found run job" not in seen:  # it is polling now
                try:
                    seen = lines.get(timeout=60)
                except queue.Empty:
                    pytest.fail("watch did not start polling within 60 s")
            proc.send_signal(sig)
        for sig, proc in procs.items():
            assert proc.wait(timeout=20) == 0, sig
            reader, lines = readers[sig]
            reader.join(timeout=10)
            err = "".join(lines.queue)
            assert "stopped after 0 new finding(s)" in err
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()


def test_full_every_with_the_real_rules(job):
    """The real engine with its incremental analyzer: a finished run, checked whole once."""
    result = watch(str(job), "--full-every", "2", "--max-polls", "2", "--exit-on", "kl>100")
    assert result.exit_code == 0, result.output
    assert watch(str(job), "--full-every", "0", "--max-polls", "1").exit_code == 2


def test_incremental_checks_follow_the_project_select(job, tmp_path, monkeypatch):
    """The CLI's end-of-run analyzer gets the project's select / ignore."""
    import trainlens.watch as watch_mod

    seen = []
    real = watch_mod.tail_analyzer

    def spy(rules, select=(), ignore=()):
        out = real(rules, select, ignore)
        seen.append((list(select), list(ignore), out))
        return out

    monkeypatch.setattr(watch_mod, "tail_analyzer", spy)
    cfg = tmp_path / "trainlens.toml"
    cfg.write_text('select = ["kl_spike", "reward_collapse"]\nignore = ["reward_collapse"]\n')
    result = watch(str(job), "--config", str(cfg), "--max-polls", "1")
    assert result.exit_code == 0, result.output
    ((select, ignore, analyzer),) = seen
    assert (select, ignore) == (["kl_spike", "reward_collapse"], ["reward_collapse"])
    assert analyzer is not None and analyzer.context > 1
    cfg.write_text('select = ["reward_collapse"]\n')
    assert watch(str(job), "--config", str(cfg), "--max-polls", "1").exit_code == 0
    assert seen[-1][2] is None  # no selected rule judges the end of a series
