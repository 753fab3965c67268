"""What the gate decided for one request, and why."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Literal

__all__ = ["Decision", "Outcome"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """A compiled action: everything about the response that does not depend on the request."""

    action: Literal["allow", "redirect", "deny"]
    status: int
    location: str | None = None  # redirect target, with ?reason= already in it
    reason: str | None = None
    return_to: bool = False
    message: str | None = None

    @property
    def allows(self) -> bool:
        return self.action == "allow"


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome plus where it came from: which policy version, which rule, what went wrong.

    ``rule`` is the deciding rule's name, ``"(default)"`` when no rule matched, or
    ``"(on_error)"`` when the gate could not decide and applied the declared fail mode.
    ``shadow`` names the shadow-mode rules that matched before the decision (not enforced).
    ``member_id`` is the verified member (None when signed out or unknown), for the app.
    ``cause`` says which fail mode applied (upstream, identity, rule, config), when one did.
    """

    outcome: Outcome
    rule: str
    policy_version: str
    error: str | None = None
    shadow: tuple[str, ...] = ()
    member_id: str | None = None
    #: What the credits it used were: "fresh"; "stale" (older than the cache TTL, used while a
    #: refresh runs in the background); "fallback" (used because Wix could not answer); or
    #: "none" (no balance read: a visitor, or a failure).
    data: str = "none"
    cause: str | None = None
    # Computed once: decisions are dictionary keys on the hot path (pages, log lines), and a
    # dataclass's own hash walks every field, the outcome's too, each time (~1 µs).
    _hash: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((
            self.outcome, self.rule, self.policy_version, self.error, self.shadow,
            self.member_id, self.data, self.cause)))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type[Decision], tuple[object, ...]]:
        # Rebuilt, not restored: string hashes differ from one process to the next.
        return Decision, tuple(getattr(self, f.name) for f in fields(self) if f.init)

    @property
    def action(self) -> str:
        return self.outcome.action

    @property
    def allows(self) -> bool:
        return self.outcome.action == "allow"

    @property
    def error_kind(self) -> str | None:
        """The machine-readable kind of ``error`` (``upstream_unavailable``...), for headers."""
        if self.error is None:
            return None
        if self.error.startswith("rule '"):
            return "rule_error"
        return self.error.split(":", 1)[0]
