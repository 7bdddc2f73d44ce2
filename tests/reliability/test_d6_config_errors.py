"""D6: config and alias files that cannot be read are exit 2 naming the file; a broken
pyproject.toml passed on the way up is one warning."""

from __future__ import annotations

import pytest
from reliability_support import EXAMPLE, cli


@pytest.mark.parametrize(
    "name, content, option, message",
    [
        ("bad.toml", b"\xff\xfe[report]\n", "--config", "not UTF-8"),
        ("bad.toml", b"lang = \n", "--config", "invalid TOML"),
        ("binary.yaml", bytes(range(256)) * 4, "--aliases", "bad"),
        ("keys.yaml", b"acc:\n  keys: 5\n", "--aliases", "keys must be a list"),
        ("pat.yaml", b"acc:\n  patterns: [1]\n", "--aliases", "patterns must be a list"),
        ("dir.yaml", b"acc:\n  keys: [acc]\n  direction: sideways\n", "--aliases", "direction"),
        ("name.yaml", b"5:\n  keys: [acc]\n", "--aliases", "canonical name"),
    ],
)
def test_d6_config_errors_exit_2(tmp_path, name, content, option, message):
    path = tmp_path / name
    path.write_bytes(content)
    result = cli("metrics", EXAMPLE, option, path)
    assert result.exit_code == 2, result.output
    assert str(path) in result.stderr
    if message != "bad":
        assert message in result.stderr
    assert "internal error" not in result.stderr


def test_d6_config_errors_broken_pyproject_on_the_way_up(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_bytes(b"\xff\xfe\x00[tool.trainlens]\n")
    (tmp_path / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a" / "b")
    result = cli("metrics", EXAMPLE)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "pyproject.toml" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning:")
    assert "not UTF-8" in warnings[0]


def test_d6_config_errors_broken_discovered_trainlens_toml(tmp_path, monkeypatch):
    """trainlens.toml is trainlens's own file: a broken one is an error naming it."""
    (tmp_path / "trainlens.toml").write_bytes(b"lang = 'en\n")
    monkeypatch.chdir(tmp_path)
    result = cli("metrics", EXAMPLE)
    assert result.exit_code == 2, result.output
    assert "trainlens.toml" in result.stderr and "invalid TOML" in result.stderr


def test_d6_config_errors_odd_pyproject_shapes(tmp_path, monkeypatch):
    """``tool = 5`` is not a trainlens config on the way up; named with --config it is an error
    naming the file."""
    (tmp_path / "pyproject.toml").write_text("tool = 5\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert cli("metrics", EXAMPLE).exit_code == 0
    named = cli("metrics", EXAMPLE, "--config", tmp_path / "pyproject.toml")
    assert named.exit_code == 2 and "must be a table" in named.stderr


def test_d6_config_errors_binary_rule_file(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "mine.yaml").write_bytes(b"id: x\n\xff\xfe\x00")
    result = cli("analyze", EXAMPLE, "--rules", tmp_path / "rules")
    assert result.exit_code == 2, result.output
    assert "mine.yaml: rule file is not UTF-8" in result.stderr


@pytest.mark.parametrize(
    "name, text, option",
    [
        ("deep.yaml", "a: " + "[" * 100_000 + "]" * 100_000 + "\n", "--aliases"),
        ("deep.toml", "x = " + "[" * 100_000 + "]" * 100_000 + "\n", "--config"),
    ],
)
def test_d6_config_errors_deep_nesting(tmp_path, name, text, option):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = cli("metrics", EXAMPLE, option, path)
    assert result.exit_code == 2, result.output
    assert f"{path}: invalid" in result.stderr and "nested too deeply" in result.stderr


def test_d6_config_errors_deep_param_value():
    result = cli("analyze", EXAMPLE, "--param", "kl_spike.window=" + "[" * 50_000)
    assert result.exit_code == 2, result.output
    assert "--param kl_spike.window" in result.stderr
