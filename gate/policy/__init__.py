"""Declarative YAML policies with CEL conditions."""

from gate.policy.compiler import check_policies, discover_policy_files, load_policies
from gate.policy.context import VARIABLES, Facts
from gate.policy.decision import Decision, Outcome
from gate.policy.engine import CelEngine
from gate.policy.policyset import PolicySet

__all__ = [
    "VARIABLES",
    "CelEngine",
    "Decision",
    "Facts",
    "Outcome",
    "PolicySet",
    "check_policies",
    "discover_policy_files",
    "load_policies",
]
