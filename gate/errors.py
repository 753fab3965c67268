"""Every error booking-gate raises, in one tree.

    GateError
    ├── ConfigError            bad configuration given to BookingGate or the CLI
    ├── PolicyError            a policy set failed to load; carries every PolicyProblem found
    └── SourceError            the gate could not learn something from upstream
        ├── UpstreamUnavailable    connection refused, timeout, 5xx, 429, circuit open
        ├── UpstreamBudgetSpent    the gate's own share of Wix's 200 calls a minute is used up
        ├── UpstreamAuthError      401 / 403: the API key, site id or permissions are wrong
        ├── UpstreamNotFound       404 on an endpoint the gate relies on
        ├── UpstreamRejected       any other 4xx: the gate sent something Wix would not take
        └── UpstreamDataError      a 2xx whose body is not what the API promises

A SourceError never reaches the ASGI server: the middleware turns it into the policy set's
declared ``on_error`` outcome (by default a 503 page), so the gate never answers 500 and
never opens by accident. Messages never contain API keys or member tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "GateError",
    "PolicyError",
    "PolicyProblem",
    "SourceError",
    "UpstreamAuthError",
    "UpstreamBudgetSpent",
    "UpstreamDataError",
    "UpstreamNotFound",
    "UpstreamRejected",
    "UpstreamUnavailable",
]


class GateError(Exception):
    """Base class of every error booking-gate raises on purpose."""


class ConfigError(GateError):
    """The gate was configured with values it cannot use."""


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    """One thing wrong in a policy or policy-test file, with where it is and how to fix it."""

    file: str
    line: int
    column: int
    message: str
    rule: str | None = None
    code: str = "invalid"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        rule = f" (rule '{self.rule}')" if self.rule else ""
        return f"{where}: {self.message}{rule}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "rule": self.rule,
            "code": self.code,
            "message": self.message,
        }


class PolicyError(GateError):
    """A policy set could not be loaded; ``problems`` lists everything found, not just the first."""

    def __init__(self, problems: list[PolicyProblem]) -> None:
        self.problems = problems
        lines = "\n".join(str(p) for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the policy set:\n{lines}")


class SourceError(GateError):
    """The gate could not learn a member's identity or balance from upstream."""

    #: Short machine-readable kind, used in logs, decision records and the X-Gate-Error header.
    kind = "source_error"


class UpstreamUnavailable(SourceError):
    """Upstream could not be reached or answered 5xx/429; worth retrying later."""

    kind = "upstream_unavailable"

    def __init__(
        self, message: str, *, retry_after: float | None = None, retryable: bool = True
    ) -> None:
        super().__init__(message)
        #: Seconds Wix asked us to wait (a Retry-After header), if it said.
        self.retry_after = retry_after
        #: False when trying again now cannot help (the circuit breaker is open).
        self.retryable = retryable


class UpstreamBudgetSpent(SourceError):
    """No call was made: this instance's share of Wix's rate limit is used up for now."""

    kind = "upstream_budget"


class UpstreamAuthError(SourceError):
    """Upstream answered 401/403: the API key, site id or key permissions need fixing."""

    kind = "upstream_auth"


class UpstreamNotFound(SourceError):
    """Upstream answered 404 on an endpoint the gate relies on (wrong base URL?)."""

    kind = "upstream_not_found"


class UpstreamRejected(SourceError):
    """Upstream answered another 4xx: the request the gate built was refused."""

    kind = "upstream_rejected"


class UpstreamDataError(SourceError):
    """Upstream answered 2xx with a body that does not match the documented shape."""

    kind = "upstream_bad_data"
