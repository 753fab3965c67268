"""booking-gate: stop members from reaching a booking checkout they cannot pay for."""

from gate.balances import BalanceSnapshot, PoolBalance
from gate.cache import BalanceCache, MemoryBalanceCache
from gate.config import WixSettings
from gate.errors import (
    ConfigError,
    GateError,
    PolicyError,
    PolicyProblem,
    SourceError,
    UpstreamAuthError,
    UpstreamDataError,
    UpstreamNotFound,
    UpstreamRejected,
    UpstreamUnavailable,
)
from gate.identity import (
    Identity,
    MemberResolver,
    SignedCookieResolver,
    TrustedHeaderResolver,
    WixTokenResolver,
)
from gate.middleware import SCOPE_KEY, BookingGate
from gate.observe.exposition import metrics_app
from gate.observe.metrics import GateMetrics
from gate.policy import Decision, PolicySet, check_policies, load_policies
from gate.routes import CheckoutRoute
from gate.sources import BalanceSource, StaticBalanceSource, WixBalanceSource
from gate.wix.client import WixClient

__version__ = "0.1.0"

__all__ = [  # noqa: RUF022 - plain sorted order, checked by tests/test_style.py
    "BalanceCache",
    "BalanceSnapshot",
    "BalanceSource",
    "BookingGate",
    "CheckoutRoute",
    "ConfigError",
    "Decision",
    "GateError",
    "GateMetrics",
    "Identity",
    "MemberResolver",
    "MemoryBalanceCache",
    "PolicyError",
    "PolicyProblem",
    "PolicySet",
    "PoolBalance",
    "SCOPE_KEY",
    "SignedCookieResolver",
    "SourceError",
    "StaticBalanceSource",
    "TrustedHeaderResolver",
    "UpstreamAuthError",
    "UpstreamDataError",
    "UpstreamNotFound",
    "UpstreamRejected",
    "UpstreamUnavailable",
    "WixBalanceSource",
    "WixClient",
    "WixSettings",
    "WixTokenResolver",
    "check_policies",
    "load_policies",
    "metrics_app",
]
