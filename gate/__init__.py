"""booking-gate: stop members from reaching a booking checkout they cannot pay for."""

from gate.adapters.middleware import SCOPE_KEY, BookingGate
from gate.adapters.routes import CheckoutRoute
from gate.config.settings import GateSettings
from gate.config.wix import WixSettings
from gate.credits.balances import BalanceSnapshot, PoolBalance
from gate.data.cache import BalanceCache, MemoryBalanceCache
from gate.data.sources import BalanceSource, StaticBalanceSource, WixBalanceSource
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
from gate.observe.exposition import metrics_app
from gate.observe.metrics import GateMetrics
from gate.policy import Decision, PolicySet, check_policies, load_policies
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
    "GateSettings",
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
