"""The Wix JSON shapes, in REST names, built from the emulator's records.

Kept apart from the state so that what Wix *sends* is in one place: the records say what is
true, these functions say how Wix spells it. Quirks (gate.tooling.emulator.quirks) then bend the
spelling, never the facts.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from gate.tooling.emulator.seed import ID_NAMESPACE, SeedItem, SeedMember

if TYPE_CHECKING:
    from gate.tooling.emulator.records import BalanceRecord

__all__ = ["balance_json", "compact", "contact_id", "item_json", "member_json", "pool_json"]


def compact(values: dict[str, Any]) -> dict[str, Any]:
    """Drop None values: optional Wix fields are absent, not null, when a record has none."""
    return {key: value for key, value in values.items() if value is not None}


def balance_json(record: BalanceRecord) -> dict[str, Any]:
    """A Balance (reference §1)."""
    seed = record.seed
    pool_info = compact(
        {
            "id": seed.id,
            "poolDefinitionId": seed.poolDefinitionId,
            "programDefinitionId": seed.programDefinitionId,
            "programId": seed.programId,
            "creditAmount": seed.creditAmount,
            "namespace": seed.namespace,
            "externalProgramDefinitionId": seed.externalProgramDefinitionId,
            "externalProgramId": seed.externalProgramId,
            "creditRolloverConfiguration": {"enabled": False},
            "status": record.status,
        }
    )
    balance = {
        "id": seed.id,
        "revision": str(record.revision),
        "createdDate": seed.createdDate,
        "updatedDate": record.updated_date,
        "beneficiary": {"memberId": record.member_id},
        "amount": {"available": record.available, "reserved": record.reserved},
        "poolInfo": pool_info,
        "lastTransactionId": record.last_transaction_id,
    }
    return compact(balance)


def pool_json(record: BalanceRecord) -> dict[str, Any]:
    """A Pool (reference §2). It carries no balance, exactly like Wix."""
    seed = record.seed
    benefits = [
        compact(
            {
                "benefitKey": benefit.benefitKey,
                "itemSetId": benefit.itemSetId,
                "price": benefit.price,
                "providerAppId": benefit.providerAppId,
                "displayName": benefit.displayName,
            }
        )
        for benefit in record.benefits
    ]
    details: dict[str, Any] = {"benefits": benefits}
    if seed.creditAmount is not None:  # no creditConfiguration means an unlimited plan
        details["creditConfiguration"] = {
            "amount": seed.creditAmount,
            "rolloverConfiguration": {"enabled": False},
        }
    pool = {
        "id": seed.id,
        "revision": str(record.pool_revision),
        "createdDate": seed.createdDate,
        "updatedDate": record.pool_updated_date,
        "poolDefinitionId": seed.poolDefinitionId,
        "programDefinitionId": seed.programDefinitionId,
        "programId": seed.programId,
        "status": record.status,
        "beneficiary": {"memberId": record.member_id},
        "details": details,
        "displayName": seed.displayName,
        "namespace": seed.namespace,
        "programDefinition": compact(
            {
                "id": seed.programDefinitionId,
                "externalId": seed.externalProgramDefinitionId,
                "displayName": seed.displayName,
            }
        ),
        "program": compact(
            {
                "id": seed.programId,
                "externalId": seed.externalProgramId,
                "displayName": seed.displayName,
            }
        ),
        "renewalCount": 0,
    }
    return compact(pool)


def item_json(item: SeedItem) -> dict[str, Any]:
    """A benefit Item (SDK ``@wix/auto_sdk_benefit-programs_items``); items never change here."""
    return compact(
        {
            "id": item.id,
            "revision": "1",
            "createdDate": item.createdDate,
            "updatedDate": item.createdDate,
            "externalId": item.service,
            "category": item.category,
            "itemSetId": item.itemSetId,
            "displayName": item.displayName,
            "providerAppId": item.providerAppId,
            "namespace": item.namespace,
        }
    )


def contact_id(member: SeedMember) -> str:
    """The member's contact id: the seed's, or one derived from the member id."""
    return member.contactId or str(uuid.uuid5(ID_NAMESPACE, f"contact:{member.id}"))


def member_json(member: SeedMember, fieldsets: set[str]) -> dict[str, Any]:
    """A Member as GetMyMember returns it; PUBLIC (the default) hides email and statuses."""
    nickname = member.nickname or member.name.capitalize()
    result: dict[str, Any] = {
        "id": member.id,
        "contactId": contact_id(member),
        "profile": {
            "nickname": nickname,
            "slug": member.name,
            "photo": {"id": "", "url": "", "height": 0, "width": 0},
            "title": None,
        },
        "status": "UNKNOWN",
        "privacyStatus": "UNKNOWN",
        "activityStatus": "UNKNOWN",
        "createdDate": member.createdDate,
        "updatedDate": member.createdDate,
    }
    if fieldsets & {"EXTENDED", "FULL"}:
        result.update(
            loginEmail=member.email,
            loginEmailVerified=True,
            status="APPROVED",
            privacyStatus="PUBLIC",
            activityStatus="ACTIVE",
        )
    if "FULL" in fieldsets:
        result["contact"] = {
            "firstName": nickname,
            "lastName": "",
            "phones": [],
            "emails": [member.email],
            "addresses": [],
            "customFields": {},
        }
    return result
