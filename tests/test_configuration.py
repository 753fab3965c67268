"""One configuration object: the generated reference, and ``BookingGate(app, settings=...)``."""

from __future__ import annotations

from pathlib import Path

import httpx
from pydantic import SecretStr

from gate import BookingGate, CheckoutRoute
from gate.config.reference import render
from gate.config.settings import GateSettings
from gate.data.sources.static import StaticBalanceSource
from gate.identity.trusted_header import TrustedHeaderResolver
from gate.policy.shipped import shipped_policies
from gate.tooling.testing import run_server
from tests.conftest import CHECKOUT_APP

ROOT = Path(__file__).resolve().parents[1]


def test_the_reference_is_generated_from_the_settings() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert text == render(), "run: python -m gate.config.reference > docs/configuration.md"
    for name in GateSettings.model_fields:  # every option, once
        assert text.count(f"`BOOKING_GATE_{name.upper()}`") == 1, name


def _static(tmp_path: Path) -> StaticBalanceSource:
    balances = tmp_path / "balances.yaml"
    balances.write_text("services:\n  svc: [set-a]\nmembers:\n"
                        "  m-1: [{pool: p, available: '0', benefits: [{item_set: set-a, "
                        "price: '1'}]}]\n")
    return StaticBalanceSource(balances, clock=lambda: 0.0)


def test_settings_configure_the_middleware_and_keywords_win(tmp_path: Path) -> None:
    settings = GateSettings(
        policies=[shipped_policies()], checkout_paths=["/reserve"], reload_interval=None,
        status_path="/_ops/status", status_token=SecretStr("0ps-t0ken-7f3a-9c21-b8e4"),
    )
    options = {"source": _static(tmp_path),
               "resolvers": [TrustedHeaderResolver(trusted_proxies=["127.0.0.1"])]}
    gate = BookingGate(CHECKOUT_APP, settings=settings, **options)
    assert gate.problem is None
    with run_server(gate) as url:
        # The settings' checkout path is gated; Wix's default one is not.
        gated = httpx.get(url + "/reserve?bookings_serviceId=svc",
                          headers={"X-Member-Id": "m-1"}, follow_redirects=False)
        assert gated.status_code == 303 and gated.headers["x-gate-rule"] == "no-credits"
        assert "x-gate-rule" not in httpx.get(url + "/booking-form?bookings_serviceId=svc",
                                              headers={"X-Member-Id": "m-1"}).headers
        assert httpx.get(url + "/_ops/status", headers={
            "Authorization": "Bearer 0ps-t0ken-7f3a-9c21-b8e4"}).status_code == 200
    # A keyword given beside the settings wins over them.
    other = BookingGate(CHECKOUT_APP, settings=settings, checkouts=[CheckoutRoute("/book")],
                        **options)
    with run_server(other) as url:
        assert httpx.get(url + "/book?bookings_serviceId=svc", headers={"X-Member-Id": "m-1"},
                         follow_redirects=False).status_code == 303
        assert "x-gate-rule" not in httpx.get(url + "/reserve?bookings_serviceId=svc",
                                              headers={"X-Member-Id": "m-1"}).headers
