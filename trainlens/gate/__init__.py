"""``trainlens gate``: policy expressions (``kl>10``, ``max(kl)>10 after 100``, ``kl>10 for 3``)
evaluated over runs and findings. The library never prints; the CLI renders a :class:`GateReport`.
"""

from trainlens.gate.evaluate import (
    GateReport,
    PolicyResult,
    Status,
    evaluate,
    evaluate_arrays,
    evaluate_findings,
    evaluate_metric,
    needs_analysis,
)
from trainlens.gate.expressions import (
    Aggregate,
    Comparison,
    MetricPolicy,
    Op,
    Policy,
    PolicyError,
    RulePolicy,
    SeverityPolicy,
    parse_policy,
    parse_severity,
)
from trainlens.gate.settings import PolicySet, build_policies

__all__ = [
    "Aggregate",
    "Comparison",
    "GateReport",
    "MetricPolicy",
    "Op",
    "Policy",
    "PolicyError",
    "PolicyResult",
    "PolicySet",
    "RulePolicy",
    "SeverityPolicy",
    "Status",
    "build_policies",
    "evaluate",
    "evaluate_arrays",
    "evaluate_findings",
    "evaluate_metric",
    "needs_analysis",
    "parse_policy",
    "parse_severity",
]
