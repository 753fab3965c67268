"""CheckBenefitEligibility (``POST /benefit-programs/v1/pools/check-eligibility``), from the state.

Wix's own answer to "can this pool pay for this service?" (reference §2), computed the way the
reference describes the link (reference §6): the pool must exist in the namespace asked for and
be ACTIVE; one of its benefits must name an item set holding an item with the requested
externalId/providerAppId/category; and the pool's *own* ``available`` must cover
``price * count``. Credits are never pooled across pools, which is exactly what a gate that sums
balances gets wrong.

Checks run in that order and the first failure is the answer (one result). When several of the
pool's benefits cover the item, there is one result per benefit, in benefit order, as the
response's ``benefitResults`` list (maxSize 10, one per benefit) suggests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gate.credits.amounts import parse_amount
from gate.tooling.emulator.errors import as_object, validation_error
from gate.tooling.emulator.seed import SeedBenefit, format_amount
from gate.tooling.emulator.shapes import compact
from gate.tooling.emulator.state import BalanceRecord, EmulatorState

__all__ = ["EligibilityRequest", "ItemReference", "check_eligibility", "parse_request"]


@dataclass(frozen=True)
class ItemReference:
    external_id: str
    provider_app_id: str
    category: str

    def json(self) -> dict[str, Any]:
        return {
            "externalId": self.external_id,
            "category": self.category,
            "providerAppId": self.provider_app_id,
        }


@dataclass(frozen=True)
class EligibilityRequest:
    pool_id: str
    namespace: str
    item: ItemReference
    count: int = 1
    benefit_key: str | None = None
    beneficiary: dict[str, Any] | None = None


def _text(data: dict[str, Any], key: str, where: str, *, max_length: int = 200) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise validation_error(where, "is required", "REQUIRED_FIELD")
    if len(value) > max_length:
        raise validation_error(where, f"must be at most {max_length} characters", "MAX_LENGTH")
    return value


def parse_request(body: dict[str, Any]) -> EligibilityRequest:
    """Validate a CheckBenefitEligibilityRequest; poolId, namespace and itemReference are
    required, as in the SDK's request type."""
    pool_id = _text(body, "poolId", "poolId")
    namespace = _text(body, "namespace", "namespace", max_length=20)
    reference = as_object(body.get("itemReference"), "itemReference")
    category = reference.get("category", "")
    if not isinstance(category, str) or len(category) > 20:
        raise validation_error("itemReference.category", "must be a string of at most 20")
    item = ItemReference(
        external_id=_text(reference, "externalId", "itemReference.externalId"),
        provider_app_id=_text(reference, "providerAppId", "itemReference.providerAppId"),
        category=category,
    )
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise validation_error("count", "must be an integer of at least 1", "MIN")
    benefit_key = body.get("benefitKey")
    if benefit_key is not None and not isinstance(benefit_key, str):
        raise validation_error("benefitKey", "must be a string")
    beneficiary = body.get("beneficiary")
    if beneficiary is not None:
        beneficiary = as_object(beneficiary, "beneficiary")
    return EligibilityRequest(pool_id, namespace, item, count, benefit_key, beneficiary)


def check_eligibility(state: EmulatorState, request: EligibilityRequest) -> list[dict[str, Any]]:
    """The ``benefitResults`` for one request."""
    record = state.balances.get(request.pool_id)
    if record is None or not _visible(record, request):
        return [{"type": "POOL_NOT_FOUND", "poolNotFoundOptions": {"poolId": request.pool_id}}]
    if record.status != "ACTIVE":
        options = {"poolId": record.id, "poolStatus": record.status}
        return [{"type": "POOL_NOT_ACTIVE", "poolNotActiveOptions": options}]
    benefits = [b for b in record.benefits if _covers(state, b, request)]
    if not benefits:
        options = compact({"poolId": record.id, "benefitKey": request.benefit_key})
        return [{"type": "BENEFIT_NOT_FOUND", "benefitNotFoundOptions": options}]
    return [_balance_result(record, benefit, request) for benefit in benefits]


def _visible(record: BalanceRecord, request: EligibilityRequest) -> bool:
    # A pool is looked up within a namespace and, when one is named, for one beneficiary: a
    # pool of another namespace or another member does not exist for this caller.
    if record.seed.namespace != request.namespace:
        return False
    return request.beneficiary is None or request.beneficiary == {"memberId": record.member_id}


def _covers(state: EmulatorState, benefit: SeedBenefit, request: EligibilityRequest) -> bool:
    if request.benefit_key is not None and benefit.benefitKey != request.benefit_key:
        return False
    item = request.item
    assert benefit.itemSetId is not None  # resolved when the pool was added
    return state.item_set_holds(
        benefit.itemSetId, item.external_id, item.provider_app_id, item.category
    )


def _balance_result(
    record: BalanceRecord, benefit: SeedBenefit, request: EligibilityRequest
) -> dict[str, Any]:
    requested = parse_amount(benefit.price) * request.count
    if parse_amount(record.available, negative=True) >= requested:
        options = {
            "poolId": record.id,
            "benefitKey": benefit.benefitKey,
            "itemReference": request.item.json(),
            "price": benefit.price,
        }
        return {"type": "ELIGIBLE_BENEFIT", "eligibleBenefitOptions": options}
    options = {
        "poolId": record.id,
        "itemReference": request.item.json(),
        "availableBalance": record.available,
        "requestedBalance": format_amount(requested),
    }
    return {"type": "NOT_ENOUGH_BALANCE", "notEnoughBalanceOptions": options}
