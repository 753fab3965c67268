"""The shape of a policy file, as pydantic models: one source for validation and JSON Schema.

Cross-field rules (a redirect needs ``to``, a deny needs ``message``...) are checked by the
compiler, which has the file positions to report them at.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field
from pydantic.config import JsonDict, JsonValue

from gate.strict import StrictModel

__all__ = [
    "ACTIONS",
    "API_VERSION",
    "ERROR_CAUSES",
    "PAGE_NAME_PATTERN",
    "OnErrorModel",
    "OutcomeModel",
    "PolicyFileModel",
    "RuleModel",
]

API_VERSION = "booking-gate/v1"
#: ``10``, ``10s``, ``1.5m``: seconds or minutes.
MAX_AGE_PATTERN = r"^\d{1,6}(\.\d{1,3})?\s*(s|m)$"
ACTIONS = ("allow", "redirect", "deny")
#: A page's name in ``pages:``, as a rule's ``to:`` names it: ``login``, ``plans-page``.
PAGE_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,39}$"

Action = Literal["allow", "redirect", "deny"]


# The settings an outcome shares with a rule and with each cause of on_error; functions, so
# each model gets its own FieldInfo.
def _to() -> Any:
    return Field(
        default=None,
        description="redirect only: where to send the visitor. A path on this site, like "
        "/plans-pricing, or the name of a page from `pages:`, like login.",
        examples=["/plans-pricing", "login"],
    )


def _reason() -> Any:
    return Field(
        default=None,
        description="redirect/deny: a short code the target page can read (?reason=...), "
        "like no-credits.",
        pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$",
    )


def _return_to() -> Any:
    return Field(
        default=False,
        description="redirect only: add ?return_to=<the page they asked for>, so they come "
        "back after signing in or buying a plan.",
    )


def _status() -> Any:
    return Field(
        default=None,
        description="deny only: the HTTP status, 400-599. 403 if not given.",
        ge=400,
        le=599,
    )


def _message() -> Any:
    return Field(
        default=None,
        description="deny only: the sentence shown to the visitor.",
        min_length=1,
        max_length=500,
    )


# StrictModel: "403" is not a status and "yes" is not true; staff get told, not guessed at.
class OutcomeModel(StrictModel):
    """What the gate does: let the request through, send the visitor elsewhere, or stop."""

    action: Action = Field(description="allow, redirect or deny.")
    to: str | None = _to()
    reason: str | None = _reason()
    return_to: bool = _return_to()
    status: int | None = _status()
    message: str | None = _message()


#: Why the gate could not decide, as staff name it in ``on_error``.
ERROR_CAUSES: dict[str, str] = {
    "upstream": "Wix cannot be reached, is too slow, sends data that makes no sense, or the "
    "gate's share of Wix calls is used up.",
    "identity": "who is asking cannot be checked (Wix's check of a sign-in token failed, or "
    "too many unknown tokens came from one address). Never allow: a visitor can cause this.",
    "rule": "a rule's condition failed while running, or a rule's max_age could not be met.",
    "config": "the gate is set up wrong or hit a bug (Wix refuses its API key, an address is "
    "wrong, Wix rejects its requests).",
}
# The JSON Schema says what the compiler checks, so editors flag it too: identity never
# allows, and on_error is either one action or one entry per cause.
_NOT_ALLOW: JsonDict = {"not": {"type": "object", "required": ["action"],
                                "properties": {"action": {"const": "allow"}}}}
_ANY_CAUSE: list[JsonValue] = [{"required": [cause]} for cause in ERROR_CAUSES]
_ANY_OUTCOME_FIELD: list[JsonValue] = [
    {"required": [f]} for f in ("action", "to", "reason", "return_to", "status", "message")]


class OnErrorModel(StrictModel):
    """What happens when the gate cannot decide: one action for every cause, or one per cause.

    Either `action:` (with `to:`, `message:`... as in a rule) for every cause, or any of
    `upstream:`, `identity:`, `rule:`, `config:`, each with an action of its own; a cause not
    listed gets the standard 503 page. `identity` can never be `allow`.
    """

    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"required": ["action"], "not": {"anyOf": _ANY_CAUSE}},
        {"anyOf": _ANY_CAUSE, "not": {"anyOf": _ANY_OUTCOME_FIELD}},
    ]})

    action: Action | None = Field(
        default=None,
        description="allow, redirect or deny, for every cause. Or leave it out and write one "
        "entry per cause: upstream, identity, rule, config.",
    )
    to: str | None = _to()
    reason: str | None = _reason()
    return_to: bool = _return_to()
    status: int | None = _status()
    message: str | None = _message()
    upstream: OutcomeModel | None = Field(default=None, description=ERROR_CAUSES["upstream"])
    identity: OutcomeModel | None = Field(
        default=None, description=ERROR_CAUSES["identity"], json_schema_extra=_NOT_ALLOW)
    rule: OutcomeModel | None = Field(default=None, description=ERROR_CAUSES["rule"])
    config: OutcomeModel | None = Field(default=None, description=ERROR_CAUSES["config"])


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
    on_error: OnErrorModel | None = Field(
        default=None,
        description="What happens when the gate cannot decide (Wix unreachable, who is asking "
        "cannot be checked, a rule failed, the gate is set up wrong): one action for all, or "
        "one per cause (upstream, identity, rule, config). A 503 'try again shortly' page "
        "for every cause not given; identity failures never allow.",
    )
    pages: dict[Annotated[str, Field(pattern=PAGE_NAME_PATTERN)], str] | None = Field(
        default=None,
        description="Pages of your site by name, for `to:`: a rule with `to: login` sends "
        "visitors to the page named login. login is / (the home page) unless set here, like "
        "login: /account/login. Each page is set in one file only.",
        examples=[{"login": "/account/login"}],
    )
    rules: list[RuleModel] = Field(default_factory=list, description="The rules, in order.")
