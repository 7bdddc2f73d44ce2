"""The live monitor: policies fire at the log where ``gate`` would fail the same series, rules
report each finding once, and nothing raises into the training loop."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainlens.errors import TrainlensError
from trainlens.gate import Status, evaluate_arrays, parse_policy
from trainlens.live import POLICY_RULE, Monitor
from trainlens.live.output import findings_document, write_findings

POLICIES = [
    "kl>10",
    "kl>10 for 3",
    "kl>=5 for 2 after 30",
    "kl<0.02 before 40",
    "max(kl)>10",
    "min(kl)<0.01",
    "count(kl>1)>4",
    "mean(kl)>1",
    "sum(kl)>40",
    "std(kl)>2",
    "median(kl)>0.5",
    "first(kl)>0.04",
    "last(kl)>20",
    "kl==nan",
    "kl!=0.05",
]


def kl_series(n: int = 80, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    kl = 0.05 + 0.01 * rng.random(n)
    kl[50:56] = [12.0, 30.0, 11.0, 0.5, 25.0, 40.0]
    kl[60] = np.nan
    return kl


def first_failing_prefix(text: str, steps: np.ndarray, values: np.ndarray) -> int | None:
    """The step at which ``trainlens gate`` first fails the series logged so far."""
    policy = parse_policy(text)
    for i in range(1, len(steps) + 1):
        if evaluate_arrays(policy, steps[:i], values[:i]).status is Status.FAIL:
            return int(steps[i - 1])
    return None


def feed(mon: Monitor, steps: np.ndarray, values: np.ndarray, key: str = "kl") -> int | None:
    for s, v in zip(steps.tolist(), values.tolist()):
        if any(f.rule == POLICY_RULE for f in mon.log(s, {key: v, "loss": 1.0})):
            return int(s)
    return None


@pytest.mark.parametrize("text", POLICIES)
def test_policy_fires_where_gate_fails_the_prefix(text: str) -> None:
    steps = np.arange(1, 81) * 5
    values = kl_series()
    mon = Monitor(fail_on=[text], rules=False, rules_every=1, rules_budget_ms=None)
    assert feed(mon, steps, values) == first_failing_prefix(text, steps, values)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, float("nan")]), min_size=1, max_size=30),
    st.sampled_from(["x>1 for 2", "count(x>=1)>3", "mean(x)>0.9", "max(x)>1.5", "std(x)>0.8"]),
)
def test_monitor_agrees_with_gate_on_random_series(values: list[float], text: str) -> None:
    steps = np.arange(len(values)) * 2
    arr = np.array(values)
    mon = Monitor(fail_on=[text], rules=False, rules_every=1000, rules_budget_ms=None)
    assert feed(mon, steps, arr, key="x") == first_failing_prefix(text, steps, arr)


def test_raw_framework_keys_resolve_to_canonical_names() -> None:
    mon = Monitor(fail_on=["kl>1", "clipped_ratio>0.3"], rules=False)
    assert mon.log(1, {"train/objective/kl": 0.1, "completions/clipped_ratio": 0.1}) == []
    fired = mon.log(2, {"train/objective/kl": 3.0, "completions/clipped_ratio": 0.5})
    assert [f.params["policy"] for f in fired] == ["kl>1", "clipped_ratio>0.3"]
    assert [f.key for f in fired] == ["train/objective/kl", "completions/clipped_ratio"]
    assert fired[0].end_step == 2 and fired[0].peak_value == 3.0
    assert mon.log(3, {"train/objective/kl": 9.0}) == []  # each policy fails once
    assert len(mon.failed) == 2 and mon.should_stop


def test_a_better_ranked_key_appearing_later_is_followed() -> None:
    """A canonical name reads its preferred key, as ``Run.resolve`` does: when that key shows
    up later, the policy switches to it (and replays its points)."""
    mon = Monitor(fail_on=["kl>1 for 2"], rules=False)
    mon.log(1, {"objective/kl": 5.0})
    fired = mon.log(2, {"objective/kl": 0.1, "kl": 2.0})
    assert fired == []
    fired = mon.log(3, {"objective/kl": 0.1, "kl": 2.0})
    assert [f.key for f in fired] == ["kl"] and fired[0].start_step == 2


def test_a_relogged_step_keeps_its_last_value() -> None:
    mon = Monitor(fail_on=["x>1 for 2"], rules=False)
    mon.log(1, {"x": 5.0})
    mon.log(2, {"x": 5.0})  # would fail ...
    assert mon.failed  # ... and does
    mon = Monitor(fail_on=["x>1 for 3"], rules=False)
    for step, value in [(1, 5.0), (2, 5.0), (2, 0.0), (3, 5.0)]:
        mon.log(step, {"x": value})
    assert not mon.failed  # step 2 was logged again as 0: no 3 in a row


def test_values_that_are_not_numbers_are_ignored() -> None:
    mon = Monitor(fail_on=["x>1"], rules=False)
    assert mon.log(1, {"x": "high", "flag": True, "y": None, "z": [1]}) == []
    assert mon.store.columns == {}
    fired = mon.log(2, {"x": np.float32(2.0), "n": np.int64(3)})
    assert fired and set(mon.store.columns) == {"x", "n"}


def test_rules_report_a_kl_spike_once() -> None:
    mon = Monitor(rules=True, rules_every=25, rules_budget_ms=None)
    rng = np.random.default_rng(1)
    seen = []
    for step in range(1, 201):
        kl = 0.02 + 0.002 * rng.standard_normal() + (15.0 if step == 120 else 0.0)
        seen += [f.rule for f in mon.log(step, {"kl": kl, "loss": 1.0 + 0.01 * rng.random()})]
    seen += [f.rule for f in mon.check()]
    assert seen.count("kl_spike") == 1
    assert mon.checks >= 200 // 25
    spike = next(f for f in mon.findings if f.rule == "kl_spike")
    assert spike.peak_step == 120
    assert "KL" in mon.message(spike) and "KL" in mon.message(spike, "zh")


def test_rule_policy_fails_on_the_cadence() -> None:
    mon = Monitor(fail_on_rule=["kl_spike"], rules_every=10, rules_budget_ms=None)
    stop = None
    for step in range(1, 101):
        kl = 0.02 + (20.0 if step == 61 else 0.0) + 0.001 * (step % 3)
        if any(f.rule == POLICY_RULE for f in mon.log(step, {"kl": kl})):
            stop = step
            break
    assert stop is not None and 61 <= stop <= 70
    assert mon.failed[0].findings[0].rule == "kl_spike"


def test_the_rules_cadence_follows_the_budget() -> None:
    """An analysis that costs T seconds is followed by at least T / budget logs without one."""
    mon = Monitor(rules_every=5, rules_budget_ms=0.001)  # 1 µs per log: every analysis is slow
    for step in range(1, 61):
        mon.log(step, {"kl": 0.01, "loss": 1.0})
    assert mon.checks == 1  # after log 5, the next one is thousands of logs away
    assert mon._gap > 60


def test_one_string_is_one_policy() -> None:
    mon = Monitor(fail_on="kl>10 for 2", fail_on_rule="kl_spike")
    assert [p.text for p in mon.policies] == ["kl>10 for 2", "rule kl_spike"]


def test_bad_policies_raise_at_construction() -> None:
    with pytest.raises(TrainlensError):
        Monitor(fail_on=["kl>>10"])
    with pytest.raises(TrainlensError, match="unknown rule"):
        Monitor(fail_on_rule=["kl_spik"])
    with pytest.raises(TrainlensError, match="rules=True"):
        Monitor(fail_on_severity="error", rules=False)


class Exploding(dict):  # type: ignore[type-arg]
    def items(self):  # type: ignore[override]
        raise KeyError("boom")


def test_an_internal_error_warns_once_and_disables_the_monitor() -> None:
    mon = Monitor(fail_on=["x>1"], rules=False)
    with pytest.warns(RuntimeWarning, match="disabled after an internal error: KeyError"):
        assert mon.log(1, Exploding(x=2.0)) == []
    assert mon.disabled
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mon.log(2, {"x": 5.0}) == []
        assert mon.check() == []
    assert mon.pop_notes()[0].startswith("trainlens monitor disabled")


def test_a_policy_on_an_absent_metric_is_noted_once() -> None:
    mon = Monitor(fail_on=["kll>1"], rules=False, rules_every=2, rules_budget_ms=None)
    for step in range(1, 7):
        mon.log(step, {"kl": 0.1})
    notes = mon.pop_notes()
    assert len(notes) == 1 and "cannot be checked yet" in notes[0] and "'kl'" in notes[0]
    assert mon.pop_notes() == []


def test_findings_document(tmp_path) -> None:
    mon = Monitor(fail_on=["kl>10", "loss==nan"], rules=True, rules_every=1000)
    for step in range(1, 30):
        mon.log(step, {"kl": 50.0 if step == 20 else 0.01, "loss": 1.0})
    mon.check()
    doc = json.loads(write_findings(mon, tmp_path / "f.json").read_text())
    assert doc == json.loads(json.dumps(findings_document(mon)))
    assert doc["passed"] is False and doc["last_step"] == 29
    assert [p["status"] for p in doc["policies"]] == ["fail", "pass"]
    assert doc["policies"][0]["fired_step"] == 20
    rules = [f["rule"] for f in doc["findings"]]
    assert rules[0] == POLICY_RULE and "kl_spike" in rules


def test_importing_and_using_the_monitor_imports_neither_torch_nor_transformers() -> None:
    code = (
        "import sys; from trainlens.live import Monitor; m = Monitor(fail_on=['kl>1']); "
        "[m.log(i, {'kl': 0.1, 'loss': 1.0}) for i in range(60)]; m.check(); "
        "print(sorted(k for k in ('torch', 'transformers') if k in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
