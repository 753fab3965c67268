"""The shape of a policy file, as pydantic models: one source for validation and JSON Schema.

Cross-field rules (a redirect needs ``to``, a deny needs ``message``...) are checked by the
compiler, which has the file positions to report them at.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from gate.strict import StrictModel

__all__ = [
    "ACTIONS",
    "API_VERSION",
    "OutcomeModel",
    "PolicyFileModel",
    "RuleModel",
]

API_VERSION = "booking-gate/v1"
#: ``10``, ``10s``, ``1.5m``: seconds or minutes.
MAX_AGE_PATTERN = r"^\d{1,6}(\.\d{1,3})?\s*(s|m)$"
ACTIONS = ("allow", "redirect", "deny")

Action = Literal["allow", "redirect", "deny"]


# StrictModel: "403" is not a status and "yes" is not true; staff get told, not guessed at.
class OutcomeModel(StrictModel):
    """What the gate does: let the request through, send the visitor elsewhere, or stop."""

    action: Action = Field(description="allow, redirect or deny.")
    to: str | None = Field(
        default=None,
        description="redirect only: where to send the visitor. A path on this site, like "
        "/plans-pricing.",
        examples=["/plans-pricing"],
    )
    reason: str | None = Field(
        default=None,
        description="redirect/deny: a short code the target page can read (?reason=...), "
        "like no-credits.",
        pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$",
    )
    return_to: bool = Field(
        default=False,
        description="redirect only: add ?return_to=<the page they asked for>, so they come "
        "back after signing in or buying a plan.",
    )
    status: int | None = Field(
        default=None,
        description="deny only: the HTTP status, 400-599. 403 if not given.",
        ge=400,
        le=599,
    )
    message: str | None = Field(
        default=None,
        description="deny only: the sentence shown to the visitor.",
        min_length=1,
        max_length=500,
    )


class RuleModel(OutcomeModel):
    """One rule: when its condition is true, its action happens. The first true rule wins."""

    name: str = Field(
        description="A unique name, shown in logs and in the X-Gate-Rule header.",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,79}$",
    )
    description: str | None = Field(default=None, description="A note for people; ignored.")
    when: str = Field(
        description="The condition, in CEL. For example: available <= 0",
        examples=["available <= 0", 'status == "PAUSED"', "!signed_in"],
    )
    mode: Literal["enforce", "shadow"] = Field(
        default="enforce",
        description="shadow: only log what this rule would have done, do not do it.",
    )
    max_age: int | Annotated[str, Field(pattern=MAX_AGE_PATTERN)] | None = Field(
        default=None,
        description="How old the member's credits may be for this rule, like 10s or 2m "
        "(a number means seconds). Older data is read again from Wix first; if Wix cannot "
        "answer, the gate cannot decide (on_error).",
    )


class PolicyFileModel(StrictModel):
    """A policy file. All files of a set are read in file-name order; rules keep that order."""

    apiVersion: Literal["booking-gate/v1"] = Field(
        description="Always booking-gate/v1."
    )
    timezone: str | None = Field(
        default=None,
        description="The studio's time zone for `today` and time rules, like Europe/Lisbon. "
        "UTC if not given.",
    )
    default: OutcomeModel | None = Field(
        default=None, description="What happens when no rule matches. allow if not given."
    )
    on_error: OutcomeModel | None = Field(
        default=None,
        description="What happens when the gate cannot decide (Wix unreachable, a rule "
        "failed). A 503 'try again shortly' page if not given.",
    )
    rules: list[RuleModel] = Field(default_factory=list, description="The rules, in order.")
