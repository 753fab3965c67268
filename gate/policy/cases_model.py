"""The shape of a policy-test file (``*.test.yaml``): cases as data, checked like policies."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    Field,
    WithJsonSchema,
    model_validator,
)

from gate.credits.amounts import AMOUNT_PATTERN, parse_amount
from gate.credits.balances import KnownPoolStatus
from gate.strict import StrictModel

__all__ = ["CaseModel", "ExpectModel", "MemberModel", "PolicyTestFileModel", "PoolModel",
           "RequestModel", "fields_at"]

_AMOUNT_PATTERN = f"^{AMOUNT_PATTERN}$"  # the same amounts Wix may send


def _amount_text(value: object) -> object:
    # Staff write `available: 3` as often as `available: "3"`. Numbers become their written
    # form (2.5 -> "2.5"), so the case still holds an exact decimal, never a float.
    if isinstance(value, bool):
        return value
    return str(value) if isinstance(value, int | float) else value


def _amount_checked(text: str) -> str:
    # gate.credits.amounts says what is wrong and what to write ("2.12345" has 5 decimal places...);
    # a pattern would only say that the text does not match a regular expression.
    parse_amount(text, negative=True, plus=True)
    return text


Amount = Annotated[
    str,
    BeforeValidator(_amount_text),
    AfterValidator(_amount_checked),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": _AMOUNT_PATTERN},
                              {"type": "number"}]}),
]


class PoolModel(StrictModel):
    """One pool of the member, for cases that need several."""

    available: Amount = Field(description='Credits in this pool, like "2.5".')
    reserved: Amount = "0"
    status: KnownPoolStatus = "ACTIVE"
    plan: str | None = Field(default=None, description="The plan (pricing plan) id.")
    covers: bool = Field(default=True, description="Whether this plan includes the service "
                         "asked for. false: like a yoga-only plan asked for pilates.")
    price: Amount | None = Field(default=None, description="Credits one session costs from "
                                 "this plan; the request's cost if left out.")


class MemberModel(StrictModel):
    """A signed-in member and their balance: one pool (available/status) or a list of pools."""

    available: Amount | None = Field(default=None, description='Credits: 3 or "2.5".')
    reserved: Amount = "0"
    status: KnownPoolStatus = "ACTIVE"
    plan: str | None = None
    covers: bool = Field(default=True, description="Whether the plan includes the service.")
    pools: list[PoolModel] | None = Field(default=None, description="Several pools instead of "
                                          "one; leave out available/status then.")
    age_minutes: float = Field(default=0, ge=0, description="How old the balance is, in minutes.")
    id: str = Field(default="member-1", min_length=1)


class RequestModel(StrictModel):
    path: str = Field(default="/booking-form", pattern=r"^/")
    method: Literal["GET", "POST"] = "GET"
    service: str = "service-1"
    cost: Amount = Field(default="1", description="Credits one session of the service costs.")
    known: bool = Field(default=True, description="false: a service id Wix does not know.")


class ExpectModel(StrictModel):
    """Exactly one of allow / redirect / deny, plus optional checks of the rule and reason."""

    allow: Literal[True] | None = None
    redirect: str | None = Field(default=None, pattern=r"^/",
                                 description="The page, like /plans-pricing.")
    deny: int | None = Field(default=None, ge=400, le=599, description="The status, like 403.")
    rule: str | None = Field(default=None, description="The rule expected to decide.")
    reason: str | None = None

    @model_validator(mode="after")
    def _one_outcome(self) -> ExpectModel:
        given = [n for n in ("allow", "redirect", "deny") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("write exactly one of  allow: true,  redirect: /page  or  deny: 403")
        return self


class CaseModel(StrictModel):
    name: str = Field(min_length=1, max_length=120)
    member: Literal["signed-out", "no-plan", "unavailable", "unverifiable"] | MemberModel = Field(
        description="signed-out, no-plan, unavailable (Wix cannot be reached), unverifiable "
        "(who is asking cannot be checked), or a balance."
    )
    request: RequestModel = RequestModel()
    now: AwareDatetime | None = Field(default=None, strict=False, description="The clock for "
                                      "this case, like 2026-12-25T10:00:00Z.")
    expect: Literal["allow"] | ExpectModel


class PolicyTestFileModel(StrictModel):
    apiVersion: Literal["booking-gate/v1"]
    policies: str | None = Field(default=None, description="The policy folder or file to test, "
                                 "relative to this file. Its own folder if not given.")
    now: AwareDatetime | None = Field(default=None, strict=False,
                                      description="The clock for every case.")
    cases: list[CaseModel] = Field(min_length=1)


def fields_at(loc: tuple[Any, ...]) -> tuple[str, ...]:
    """The settings a test file may have where ``loc`` points, for "did you mean" hints."""
    models: dict[str, type[BaseModel]] = {
        "member": MemberModel, "request": RequestModel, "expect": ExpectModel,
        "pools": PoolModel,
    }
    for part in reversed(loc[:-1]):
        if isinstance(part, str) and part in models:
            return tuple(models[part].model_fields)
    if "cases" in loc[:-1]:
        return tuple(CaseModel.model_fields)
    return tuple(PolicyTestFileModel.model_fields)
