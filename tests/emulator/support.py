"""Constants and small HTTP helpers shared by the emulator tests (fixtures are in conftest)."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import jwt

API_KEY = "emulator-test-key-3b9f"
SITE_ID = "5d2c1b0a-site-4e3f"
AUTH = {"Authorization": API_KEY, "wix-site-id": SITE_ID}
BP = "/benefit-programs/v1"
BOOKINGS = "13d21c63-b5ec-5912-8397-c3a5ddb27a97"
PRICING_PLANS = "@wix/pricing-plans"

# Demo seed: members, pools, services, item sets.
ANA = "daae4fb6-e7f5-581a-8f5c-b58f79a5a919"
BEN = "8a34846e-1269-5483-bb1a-f5813ac89242"
DEV = "3427421a-740a-5916-8cac-acc11743aaa1"
EVE = "318c8dbb-184c-583c-be9c-8f214130c5ae"
FAY = "ce9655f1-5802-597d-b211-1df77c480299"
GUS = "5a3df7c3-aca0-5f77-9d48-12c778159650"
VISITOR = "ba134b11-86cd-5939-99da-365f888a3817"
ANA_POOL = "54f64ce6-f56e-5d88-bb99-ce8b48813437"
BEN_POOL = "09b07468-f4a6-55a9-9b84-19beb9d15ed9"
CLEO_POOL = "4ed9895f-26a6-5434-b4df-93019922e71c"
EVE_ACTIVE = "ba24f4c9-a207-5ddf-807f-25bfa3267b25"
EVE_ENDED = "0858a3c1-9efa-52a3-8ef8-d1bb497ab16c"
FAY_POOL = "1f4c1356-1648-5076-b300-6dac38713103"
GUS_POOLS = ("b6fd33d6-a489-5b4a-937c-f350d6fb6cc2", "92d9295e-10c4-5a27-a6bb-8b9c2b161c75")
YOGA = "7c1f4a52-3e8b-4d6a-9b21-5f0e8d2c4a10"
PILATES = "b2d84e17-6a3c-4f9e-8d05-1c7e9a3b6f42"
TEN_YOGA_SET = "c4ca881e-3f3b-5506-9135-d756b10163a7"
TEN_PILATES_SET = "ac5bb06a-dca6-5e8f-abfa-2289e92baf73"
FIVE_YOGA_SET = "0b7c8ecf-219f-5ea5-8d6a-dfe7ff3018ed"
FIVE_PILATES_SET = "8b8285ca-7894-5812-91e6-bea21c9b182d"
YOGA_ONLY_SET = "800b0b22-bdd3-5e74-9dad-cb606de7ea1a"
TEN_YOGA_ITEM = "0465d72b-51c8-5fb6-8393-3388687986a5"

NO_CURSORS = {"next": None, "prev": None}


def query(client: httpx.Client, body: dict[str, Any], headers: Any = AUTH) -> httpx.Response:
    """QueryBalances with ``body`` as the CursorQuery."""
    return client.post(f"{BP}/balances/query", json={"query": body}, headers=headers)


def query_of(
    client: httpx.Client, collection: str, body: dict[str, Any], headers: Any = AUTH
) -> httpx.Response:
    """Query ``balances``, ``pools`` or ``items`` with ``body`` as the CursorQuery."""
    return client.post(f"{BP}/{collection}/query", json={"query": body}, headers=headers)


def mint(client: httpx.Client, **body: Any) -> str:
    response = client.post("/_emulator/tokens", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def change(client: httpx.Client, pool_id: str, **body: Any) -> httpx.Response:
    return client.post(f"{BP}/balances/{pool_id}/change", json=body, headers=AUTH)


def adjust(client: httpx.Client, pool_id: str, value: str, key: str) -> httpx.Response:
    options = {"value": value}
    return change(client, pool_id, idempotencyKey=key, type="ADJUST", adjustOptions=options)


def field_of(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    return str(response.json()["details"]["validationError"]["fieldViolations"][0]["field"])


def quirks(client: httpx.Client, **switches: Any) -> dict[str, Any]:
    response = client.post("/_emulator/quirks", json=switches)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["quirks"]
    return result


def eligibility(
    client: httpx.Client, pool_id: str, service: str, **extra: Any
) -> httpx.Response:
    """CheckBenefitEligibility for a Bookings service, in the pricing-plans namespace."""
    body = {
        "poolId": pool_id,
        "itemReference": {"externalId": service, "category": "", "providerAppId": BOOKINGS},
        "namespace": PRICING_PLANS,
        **extra,
    }
    return client.post(f"{BP}/pools/check-eligibility", json=body, headers=AUTH)


def result_types(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["type"] for r in response.json()["result"]["benefitResults"]]


def follow(client: httpx.Client, collection: str, first: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page of a query, following ``metadata.cursors.next`` only (never ``hasNext``).

    Follow-ups send the cursor and the first request's limit, and nothing else (reference §0).
    """
    limit = first.get("cursorPaging", {}).get("limit", 100)
    pages = [query_of(client, collection, first).json()]
    while True:
        metadata = pages[-1].get("metadata") or {}
        cursor = (metadata.get("cursors") or {}).get("next")
        if not cursor:
            return pages
        paging = {"cursorPaging": {"cursor": cursor, "limit": limit}}
        response = query_of(client, collection, paging)
        assert response.status_code == 200, response.text
        pages.append(response.json())


def arm(client: httpx.Client, **fault: Any) -> dict[str, Any]:
    """Arm a fault (``POST /_emulator/faults``); returns it as the emulator lists it."""
    response = client.post("/_emulator/faults", json=fault)
    assert response.status_code == 201, response.text
    armed: dict[str, Any] = response.json()["fault"]
    return armed


def get_balance(client: httpx.Client, pool_id: str, **kwargs: Any) -> httpx.Response:
    return client.get(f"{BP}/balances/{pool_id}", headers=AUTH, **kwargs)


def refused_url() -> str:
    """A URL nobody listens on: bind a free loopback port, then close it (the README recipe)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def public_pem(client: httpx.Client) -> str:
    """The emulator's webhook public key, as a PEM."""
    response = client.get("/_emulator/webhooks/public-key")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-pem-file")
    return response.text


def sign_event(client: httpx.Client, **body: Any) -> dict[str, Any]:
    """``POST /_emulator/webhooks/sign``: ``{"jwt", "eventId"}``."""
    response = client.post("/_emulator/webhooks/sign", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def unpack(token: str, pem: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Verify a webhook JWT like a receiver must, then open the nesting: claims, STRING A and
    STRING B (reference §4)."""
    claims = jwt.decode(token, pem, algorithms=["RS256"])
    envelope = json.loads(claims["data"])
    return claims, envelope, json.loads(envelope["data"])
