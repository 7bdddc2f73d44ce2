"""``Monitor``: the policies and rules of ``gate`` / ``watch``, fed one logged dict at a time.

For training loops without a Trainer (verl, OpenRLHF, custom)::

    mon = Monitor(fail_on=["kl>10 for 3", "clipped_ratio>0.3 for 5"])
    for step, metrics in loop:
        for finding in mon.log(step, metrics):
            print(mon.describe(finding))
        if mon.failed:
            save_checkpoint(); break

Metric policies are checked at every log by running trackers (O(1) per point); when one may
have failed, the gate's evaluator decides over the whole series. The rules run over the whole
run (the same engine as ``analyze``) at most every ``rules_every`` logs, and less often when an
analysis is slow: the gap grows so that the rules cost at most ``rules_budget_ms`` per log,
amortised. A policy failure and each new rule finding are returned once. Nothing here raises
into the training loop: an internal error becomes one :class:`RuntimeWarning` and the monitor
disables itself. No torch import.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trainlens.config import ProjectConfig, load_config
from trainlens.errors import TrainlensError
from trainlens.findings import EvidenceRow, Finding, Severity
from trainlens.gate.evaluate import (
    PolicyResult,
    Status,
    evaluate_arrays,
    evaluate_findings,
    missing_note,
)
from trainlens.gate.expressions import MetricPolicy, Policy
from trainlens.gate.settings import build_policies
from trainlens.live.policies import Tracker
from trainlens.live.series import Column, SeriesStore
from trainlens.metrics import AliasTable
from trainlens.run import Run
from trainlens.watch import _Reported

#: ``Finding.rule`` of a finding that says a ``fail_on`` policy failed.
POLICY_RULE = "policy"


def _number(value: Any) -> float | None:
    """A logged value as a float (numpy and 0-d tensor scalars too), None for anything else."""
    if isinstance(value, float):
        return value
    if isinstance(value, bool) or isinstance(value, (str, bytes)):
        return None
    if isinstance(value, int):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        return None


class Monitor:
    """Checks a training run as it logs. Policies use the ``trainlens gate`` grammar
    (``fail_on``, ``fail_on_severity``, ``fail_on_rule``); ``config`` is a project config (a
    path, a loaded one, or None: the nearest ``trainlens.toml``) giving aliases, rule
    parameters and select/ignore; ``run_config`` is the training config (e.g. ``beta``), which
    some rules read. Raises :class:`~trainlens.errors.TrainlensError` for a bad policy, at
    construction only."""

    def __init__(
        self,
        fail_on: Sequence[str] = (),
        *,
        fail_on_severity: str | None = None,
        fail_on_rule: Sequence[str] = (),
        rules: bool = True,
        name: str = "live",
        path: Path | str = ".",
        config: ProjectConfig | Path | str | None = None,
        run_config: Mapping[str, Any] | None = None,
        lang: str | None = None,
        rules_every: int = 50,
        rules_budget_ms: float | None = 0.5,
    ) -> None:
        cfg = (
            config
            if isinstance(config, ProjectConfig)
            else load_config(Path(config) if config is not None else None)
        )
        self.policies: list[Policy] = build_policies(  # one string is one policy
            fail_on=[fail_on] if isinstance(fail_on, str) else fail_on,
            fail_on_severity=fail_on_severity,
            fail_on_rule=[fail_on_rule] if isinstance(fail_on_rule, str) else fail_on_rule,
        ).policies
        self.name = name
        self.path = Path(path)
        self.run_config: dict[str, Any] = dict(run_config or {})
        self.max_steps: int | None = None
        self.framework: str | None = None  # when the keys do not tell (set by the callback)
        self.checkpoints: list[int] = []
        self.lang = lang or cfg.lang or "en"
        self.rules_every = max(1, int(rules_every))
        self.rules_budget_ms = rules_budget_ms
        self.store = SeriesStore(AliasTable.load(cfg.alias_files, inline=cfg.aliases or None))
        self.rules: Any = None
        self._analyze: Any = None
        if rules:
            from trainlens.gate.rulebook import check_rules, load_analyzer

            self.rules, self._analyze = load_analyzer(cfg)
            check_rules(self.policies, self.rules)
        elif any(not isinstance(p, MetricPolicy) for p in self.policies):
            raise TrainlensError("rule and severity policies need rules=True")
        self.trackers = [Tracker(p) for p in self.policies if isinstance(p, MetricPolicy)]
        self._bound: dict[int, str | None] = {}  # tracker index -> raw key it reads
        self._by_key: dict[str, list[Tracker]] = {}
        self.failed: list[PolicyResult] = []
        self.findings: list[Finding] = []  # every finding returned so far, in order
        self.analysis: Any = None  # the latest rules analysis
        self.notes: list[str] = []  # warnings for the user (said once each)
        self._unread: list[str] = []
        self.logs = 0
        self.checks = 0  # full passes done
        self.last_step: int | None = None
        self.disabled = False
        self.seconds = {"log": 0.0, "rules": 0.0}
        self._reported = _Reported()
        self._done: set[str] = set()  # texts of policies that failed (not checked again)
        self._noted: set[str] = set()
        self._last_check = 0
        self._gap = self.rules_every

    # ------------------------------------------------------------------------------ feeding

    def log(self, step: int, metrics: Mapping[str, Any]) -> list[Finding]:
        """Feed one logged dict (raw framework keys); returns what fired for the first time: a
        :data:`POLICY_RULE` finding per failed policy, then new rule findings. Never raises."""
        if self.disabled:
            return []
        started = time.perf_counter()
        try:
            return self._log(int(step), metrics)
        except Exception as exc:  # noqa: BLE001 - never into the training loop
            self.disable(exc)
            return []
        finally:
            self.seconds["log"] += time.perf_counter() - started

    def _log(self, step: int, metrics: Mapping[str, Any]) -> list[Finding]:
        self.logs += 1
        self.last_step = step
        pending: list[Tracker] = []
        rebind = False
        replay: set[str] = set()
        columns, by_key = self.store.columns, self._by_key
        for key, raw in metrics.items():  # the hot loop: ~40 keys per log
            if type(raw) is float:
                value = raw
            else:
                number = _number(raw)
                if number is None:
                    continue
                value = number
            if type(key) is not str:
                key = str(key)
            col = columns.get(key)
            if col is None:
                col, rebind = self.store.column(key)[0], True
            last = col.last
            if last is not None and step <= last:
                col.add(step, value)
                col.ordered = False
                if key in by_key:  # a step logged again: the running state is replayed
                    replay.add(key)
                continue
            col.last = step
            col.push_step(step)
            col.push_value(value)
            trackers = by_key.get(key)
            if trackers:
                for t in trackers:
                    if t.feed(step, value):
                        pending.append(t)
        if rebind:
            pending.extend(self._bind())
        for key in replay:
            pending.extend(self._replay(key))
        fired = self._confirm(pending)
        self.findings.extend(fired)
        if self.logs - self._last_check >= self._gap:
            fired.extend(self.check())
        return fired

    def _bind(self) -> list[Tracker]:
        """Point each tracker at the key its metric resolves to now (a better-ranked alias may
        have appeared); a tracker whose key changed replays that key's points."""
        out: list[Tracker] = []
        changed: list[str] = []
        for i, t in enumerate(self.trackers):
            key = self.store.resolve(t.policy.metric)
            if self._bound.get(i) != key:
                self._bound[i] = key
                if key is not None:
                    changed.append(key)
        self._by_key = {}
        for i, t in enumerate(self.trackers):
            key = self._bound.get(i)
            if key is not None and t.policy.text not in self._done:
                self._by_key.setdefault(key, []).append(t)
        for key in dict.fromkeys(changed):
            out.extend(self._replay(key))
        return out

    def _replay(self, key: str) -> list[Tracker]:
        steps, values = self.store.columns[key].arrays()
        out = []
        for t in self._by_key.get(key, []):
            t.reset()
            hit = False
            for s, v in zip(steps.tolist(), values.tolist()):
                hit |= t.feed(s, v)
            if hit:
                out.append(t)
        return out

    def _confirm(self, trackers: list[Tracker]) -> list[Finding]:
        """The gate's verdict on the trackers that say their policy may have failed."""
        out: list[Finding] = []
        for t in dict.fromkeys(trackers):
            result = self._evaluate(t.policy)
            if result is not None and result.status is Status.FAIL:
                out.append(self._fail(result))
        return out

    def _column(self, policy: MetricPolicy) -> tuple[str, Column] | None:
        key = self.store.resolve(policy.metric)
        return (key, self.store.columns[key]) if key is not None else None

    def _evaluate(self, policy: MetricPolicy) -> PolicyResult | None:
        found = self._column(policy)
        if found is None:
            return None
        key, col = found
        steps, values = col.arrays()
        return evaluate_arrays(policy, steps, values, run=self.name, key=key)

    def _fail(self, result: PolicyResult) -> Finding:
        self._done.add(result.policy.text)
        self._by_key = {
            k: [t for t in v if t.policy is not result.policy] for k, v in self._by_key.items()
        }
        self.failed.append(result)
        return policy_finding(result)

    # ---------------------------------------------------------------------------- checking

    def build_run(self) -> Run:
        """Everything logged so far as a Run (what the rules and a postmortem read)."""
        return self.store.run(
            self.name,
            self.path,
            config=self.run_config,
            max_steps=self.max_steps,
            checkpoints=self.checkpoints,
            framework=self.framework,
        )

    def check(self) -> list[Finding]:
        """A full pass now: the rules over the whole run, every policy the trackers cannot
        follow (median) and the rule / severity policies. Returns what is new. Called on the
        cadence by :meth:`log`; call it at the end of training too (never raises)."""
        if self.disabled:
            return []
        started = time.perf_counter()
        try:
            found = self._check()
            self.findings.extend(found)
            return found
        except Exception as exc:  # noqa: BLE001
            self.disable(exc)
            return []
        finally:
            spent = time.perf_counter() - started
            self.seconds["rules"] += spent
            self._last_check = self.logs
            gap = self.rules_every
            if self.rules_budget_ms:
                gap = max(gap, math.ceil(spent * 1000.0 / self.rules_budget_ms))
            self._gap = gap

    def _check(self) -> list[Finding]:
        self.checks += 1
        out: list[Finding] = []
        run: Run | None = None
        for policy in self.policies:
            if not isinstance(policy, MetricPolicy) or policy.text in self._done:
                continue
            result = self._evaluate(policy)
            if result is None:
                run = run or self.build_run()
                self._note(
                    f"policy {policy.text!r} cannot be checked yet: "
                    + missing_note(policy.metric, run)
                )
            elif result.status is Status.FAIL:
                out.append(self._fail(result))
        if self._analyze is None or not self.store.columns:
            return out
        analysis = self.analysis = self._analyze([run or self.build_run()])
        for w in analysis.warnings:
            self._note(f"{w.source}: {w.message}")
        fresh = [f for f in analysis.findings if self._reported.is_new(f)]
        fresh.sort(key=lambda f: (f.start_step, -f.severity.rank, f.rule))
        for policy in self.policies:
            if isinstance(policy, MetricPolicy) or policy.text in self._done:
                continue
            result = evaluate_findings(
                policy, self.name, analysis.findings, analysis.skipped, analysis.selected
            )
            if result.status is Status.FAIL:
                out.append(self._fail(result))
        return out + fresh

    def analyze(self, run: Run) -> Any:
        """The rules over ``run`` as this monitor runs them (all rules when ``rules=False``)."""
        if self._analyze is not None:
            return self._analyze([run])
        from trainlens.analysis import analyze_runs

        return analyze_runs([run])

    def results(self) -> list[PolicyResult]:
        """Every policy's verdict now (as ``trainlens gate`` would give it on this run)."""
        run: Run | None = None
        out: list[PolicyResult] = []
        failed = {r.policy.text: r for r in self.failed}
        for policy in self.policies:
            if policy.text in failed:
                out.append(failed[policy.text])
            elif isinstance(policy, MetricPolicy):
                result = self._evaluate(policy)
                if result is None:
                    run = run or self.build_run()
                    result = PolicyResult(
                        policy, self.name, Status.MISSING, note=missing_note(policy.metric, run)
                    )
                out.append(result)
            elif self.analysis is not None:
                a = self.analysis
                out.append(evaluate_findings(policy, self.name, a.findings, a.skipped, a.selected))
            else:
                out.append(
                    PolicyResult(policy, self.name, Status.MISSING, note="the rules have not run")
                )
        return out

    # ------------------------------------------------------------------------------ words

    def message(self, finding: Finding, lang: str | None = None) -> str:
        """``rule: message`` of a finding in ``lang`` (a policy failure: its gate evidence)."""
        if finding.rule == POLICY_RULE:
            return f"policy {finding.params['policy']} failed: {finding.params['evidence']}"
        from trainlens.gate.rulebook import finding_text

        return finding_text(self.rules, lang or self.lang)(finding)

    def describe(self, finding: Finding, lang: str | None = None) -> str:
        """One line for a console: ``trainlens [error] steps 10–12: kl_spike: ...``."""
        a, b = finding.start_step, finding.end_step
        where = f"step {b}" if a == b else f"steps {a}–{b}"
        return f"trainlens [{finding.severity.value}] {where}: {self.message(finding, lang)}"

    def pop_notes(self) -> list[str]:
        """Warnings not handed out before (a policy whose metric is not logged, a rule that
        crashed, the monitor disabled)."""
        out, self._unread = self._unread, []
        return out

    def _note(self, text: str) -> None:
        if text not in self._noted:
            self._noted.add(text)
            self.notes.append(text)
            self._unread.append(text)

    def disable(self, exc: BaseException) -> None:
        """Stop monitoring after an internal error: one RuntimeWarning, then nothing."""
        if self.disabled:
            return
        self.disabled = True
        text = (
            f"trainlens monitor disabled after an internal error: {type(exc).__name__}: {exc} "
            "(training goes on)"
        )
        self._note(text)
        warnings.warn(text, RuntimeWarning, stacklevel=3)

    @property
    def should_stop(self) -> bool:
        """True once a policy failed."""
        return bool(self.failed)


def policy_finding(result: PolicyResult) -> Finding:
    """A failed policy as a finding (rule :data:`POLICY_RULE`), its evidence in ``params``."""
    from trainlens.render.gate_output import evidence

    samples = result.samples
    fired = result.fired_step
    top = result.findings[0] if result.findings else None
    start = samples[0][0] if samples else (top.start_step if top else fired or 0)
    end = fired if fired is not None else (top.end_step if top else start)
    return Finding(
        rule=POLICY_RULE,
        severity=Severity.ERROR,
        run=result.run,
        metric=result.metric or (top.metric if top else ""),
        key=result.key or "",
        start_step=int(start),
        end_step=int(max(end, start)),
        peak_step=result.step,
        peak_value=result.value,
        evidence=tuple(EvidenceRow(int(s), float(v)) for s, v in samples),
        params={"policy": result.policy.text, "evidence": evidence(result)},
    )
