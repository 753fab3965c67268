"""Can this member pay for one session of this service? Every situation, over real HTTP.

The gate (under uvicorn) reads the Wix emulator (under uvicorn, scenario seed) and applies the
shipped policy. Each row is one member; each column one service: yoga (1 credit), pilates
(2 credits), massage (a service Wix knows that no plan covers) and a made-up service id.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from gate import BookingGate, WixSettings
from gate.policy.shipped import shipped_policies
from gate.tooling.emulator import SCENARIO_SEED_PATH, TOKEN_PATTERN, create_emulator, load_seed
from gate.tooling.testing import run_server
from tests.conftest import CHECKOUT_APP, PILATES, SITE_ID, YOGA

MASSAGE = "d23c81d7-3b49-549f-abb3-59079dddfb7a"
UNKNOWN = "00000000-0000-4000-8000-0000000000ff"
SERVICES = {"yoga": YOGA, "pilates": PILATES, "massage": MASSAGE, "unknown": UNKNOWN}
API_KEY = "scenario-key-0123456789"

# What the shipped policy answers: "allow" or the deciding rule.
OK, PLANS = "allow", "not-in-plan"
TABLE: dict[str, tuple[str, str, str]] = {
    #              yoga                  pilates               massage
    "one_pool": (OK, OK, PLANS),
    "zero": ("no-credits", "no-credits", PLANS),
    "split": ("not-enough-credits", "not-enough-credits", PLANS),
    "yoga_only": (OK, PLANS, PLANS),
    "mixed_1": (OK, "not-enough-credits", PLANS),
    "mixed_2": (OK, OK, PLANS),
    "negative": (OK, "not-enough-credits", PLANS),
    "yoga0_all1": (OK, "not-enough-credits", PLANS),
    "ended": ("no-plan", "no-plan", "no-plan"),
    "paused": ("plan-paused", "plan-paused", "plan-paused"),
    "renewing": (OK, OK, PLANS),
    "provisioning": (OK, OK, PLANS),
    "pending": ("plan-not-started", "plan-not-started", "plan-not-started"),
    "foreign": ("no-plan", "no-plan", "no-plan"),
    "visitor": ("sign-in-first", "sign-in-first", "sign-in-first"),
    "(no token)": ("sign-in-first", "sign-in-first", "sign-in-first"),
}


@pytest.fixture(scope="module")
def scenario() -> Iterator[tuple[str, httpx.Client]]:
    app = create_emulator(load_seed(SCENARIO_SEED_PATH), api_key=API_KEY, site_id=SITE_ID)
    with run_server(app) as url, httpx.Client(base_url=url, trust_env=False) as admin:
        yield url, admin


@pytest.fixture(scope="module")
def gate_url(scenario: tuple[str, httpx.Client]) -> Iterator[str]:
    url, _ = scenario
    wix = WixSettings(api_key=API_KEY, site_id=SITE_ID, base_url=url, retries=0)
    gate = BookingGate(CHECKOUT_APP, policies=shipped_policies(), wix=wix,
                       token_pattern=TOKEN_PATTERN)
    with run_server(gate) as gated:
        yield gated


def outcome(response: httpx.Response) -> str:
    if response.status_code == 200 and response.text == "checkout page":
        return OK
    return response.headers.get("x-gate-rule", f"HTTP {response.status_code}")


@pytest.mark.parametrize("member", sorted(TABLE))
def test_member_by_service(gate_url: str, member: str) -> None:
    """One row of the table: this member's outcome for each service."""
    headers = {} if member == "(no token)" else {"Authorization": f"scenario-{member}"}
    seen = tuple(
        outcome(httpx.get(f"{gate_url}/booking-form", params={"bookings_serviceId": sid},
                          headers=headers, follow_redirects=False))
        for sid in SERVICES.values()
    )
    # A service no Wix item knows is never priced and never opens, for anyone.
    assert seen == (*TABLE[member], "unknown-service")


def test_calls_per_cold_member_and_none_when_cached(
    scenario: tuple[str, httpx.Client]
) -> None:
    """A cold checkout costs one call per kind of data; a warm one costs none."""
    url, admin = scenario
    wix = WixSettings(api_key=API_KEY, site_id=SITE_ID, base_url=url, retries=0)
    gate = BookingGate(CHECKOUT_APP, policies=shipped_policies(), wix=wix,
                       token_pattern=TOKEN_PATTERN)
    admin.post("/_emulator/calls/reset").raise_for_status()
    with run_server(gate) as gated:
        for _ in range(3):
            for sid in (YOGA, PILATES):
                response = httpx.get(f"{gated}/booking-form", params={"bookings_serviceId": sid},
                                     headers={"Authorization": "scenario-mixed_2"})
                assert response.status_code == 200
    calls = admin.get("/_emulator/calls").json()["calls"]
    assert calls == {
        "POST /oauth2/token-info": 1,
        "POST /benefit-programs/v1/balances/query": 1,
        "POST /benefit-programs/v1/pools/query": 1,
        "POST /benefit-programs/v1/items/query": 2,  # one per service, then kept
    }


QUIRKS = [
    pytest.param({"pageSize": 1, "hasNext": "omit"}, id="pages-of-one-without-hasNext"),
    pytest.param({"pageSize": 1, "hasNext": "false"}, id="hasNext-false-but-a-cursor"),
    pytest.param({"pageSize": 1, "cursorStyle": "absent"}, id="absent-cursor-on-last-page"),
    pytest.param({"pageSize": 1, "cursorStyle": "empty"}, id="empty-cursor-on-last-page"),
    pytest.param({"nullMetadata": True}, id="null-metadata"),
    pytest.param({"amountStyle": "padded"}, id="amounts-7.0000"),
    pytest.param({"amountStyle": "plain"}, id="amounts-7"),
    pytest.param({"extraFields": True}, id="extra-fields"),
    pytest.param({"omitEmptyLists": True}, id="empty-lists-omitted"),
    pytest.param({"emptyErrorDescriptions": True, "pageSize": 2}, id="empty-descriptions"),
]
QUIRK_MEMBERS = ("one_pool", "split", "yoga_only", "negative", "yoga0_all1", "paused", "ended")


@pytest.mark.parametrize("quirks", QUIRKS)
def test_every_liberty_wix_may_take_gives_the_same_answers(
    scenario: tuple[str, httpx.Client], quirks: dict[str, object]
) -> None:
    """Padded amounts, missing cursors, pages of one...: the decisions do not change."""
    url, admin = scenario
    admin.post("/_emulator/quirks", json=quirks).raise_for_status()
    try:
        wix = WixSettings(api_key=API_KEY, site_id=SITE_ID, base_url=url, retries=0)
        gate = BookingGate(CHECKOUT_APP, policies=shipped_policies(), wix=wix,
                           token_pattern=TOKEN_PATTERN)
        with run_server(gate) as gated:
            for member in QUIRK_MEMBERS:
                seen = tuple(
                    outcome(httpx.get(f"{gated}/booking-form",
                                      params={"bookings_serviceId": sid},
                                      headers={"Authorization": f"scenario-{member}"}))
                    for sid in (YOGA, PILATES, MASSAGE)
                )
                assert seen == TABLE[member], member
    finally:
        admin.delete("/_emulator/quirks").raise_for_status()
