"""Rule parameters: every integer parameter declares an upper bound, so ``--param
kl_spike.window=99999999999999999999`` is exit 2 with the allowed range, and the largest
accepted value of every count runs in bounded memory and time."""

from __future__ import annotations

import time
from typing import Annotated

import pytest
from reliability_support import ROOT, cli

from trainlens.analysis import analyze
from trainlens.engine.registry import CONTEXT, DETECTORS, MAX_COUNT, Range, constraint, detector
from trainlens.engine.spec import load_rules
from trainlens.errors import TrainlensError


@pytest.mark.parametrize("value", ["99999999999999999999", str(MAX_COUNT + 1), "1e400"])
def test_param_upper_bounds_cli_exit_2(value):
    result = cli(
        "analyze", ROOT / "examples" / "healthy_grpo", "--param", f"kl_spike.window={value}"
    )
    assert result.exit_code == 2, result.output
    assert "--param kl_spike.window" in result.stderr
    assert "internal error" not in result.stderr


def test_param_upper_bounds_message_names_the_range():
    with pytest.raises(TrainlensError) as err:
        load_rules(overrides={"kl_spike": {"window": 10**400}})
    assert f"(allowed: [1, {MAX_COUNT}])" in err.value.message


def test_param_upper_bounds_every_integer_parameter_is_bounded():
    for info in DETECTORS.values():
        for name, default in info.defaults.items():
            if name in CONTEXT or isinstance(default, bool):
                continue
            rng = constraint(info.types[name])
            if isinstance(rng, Range) and isinstance(default, int):
                assert rng.hi is not None, (info.name, name)


def test_param_upper_bounds_unbounded_integer_is_refused_at_registration():
    def unbounded(s: object, *, window: Annotated[int, Range(1)] = 5) -> list:
        return []

    with pytest.raises(TypeError, match="needs an upper bound"):
        detector()(unbounded)


def test_param_upper_bounds_largest_counts_run_fast():
    """Every count of every series rule at its maximum at once: no rule dies, nothing blows up."""
    overrides = {}
    for spec in load_rules():
        if spec.kind != "series":
            continue
        counts = {
            n: MAX_COUNT
            for n, d in spec.params.items()
            if isinstance(d, int)
            and not isinstance(d, bool)
            and n not in CONTEXT
            and MAX_COUNT in (constraint(spec.info.types[n]) or Range())
        }
        if counts:
            overrides[spec.id] = counts
    assert overrides
    started = time.perf_counter()
    result = analyze(ROOT / "examples" / "grpo_kl_episodes", params=overrides)
    assert time.perf_counter() - started < 60
    assert not [w for w in result.warnings if "failed on" in w.message]
