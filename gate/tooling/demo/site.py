"""A small sample booking site with Wix's URLs, mounted behind the gate, for the demo and tests.

It is deliberately plain: the interesting part is that ``/booking-form`` never renders for a
member who cannot pay, and that confirming a booking really spends a credit at the (emulated)
Wix API, through the same client code the gate uses in production.
"""

from __future__ import annotations

import contextlib
import html
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from gate.adapters.middleware import BookingGate, PolicySource
from gate.config.wix import WixSettings
from gate.credits.balances import credits_for
from gate.policy.decision import Decision
from gate.policy.paths import is_same_site_path
from gate.policy.policyset import PolicySet
from gate.tooling.emulator import TOKEN_PATTERN as EMULATOR_TOKENS

__all__ = ["DEMO_PAGES", "DEMO_SERVICES", "TOKEN_COOKIE", "DemoService", "create_demo_site"]

TOKEN_COOKIE = "wix_member_token"
#: The demo's own pages (``login: /demo/login``), added to the policies the demo runs.
DEMO_PAGES = Path(__file__).with_name("demo-pages.yaml")


@dataclass(frozen=True, slots=True)
class DemoService:
    id: str
    name: str
    credits: Decimal


DEMO_SERVICES = (
    DemoService("7c1f4a52-3e8b-4d6a-9b21-5f0e8d2c4a10", "Morning Yoga", Decimal(1)),
    DemoService("b2d84e17-6a3c-4f9e-8d05-1c7e9a3b6f42", "Reformer Pilates", Decimal(2)),
)


def _page(name: str, title: str, body: str, status: int = 200) -> HTMLResponse:
    markup = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)} · Demo Studio</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;"
        "padding:0 1rem}nav a{margin-right:1rem}</style></head><body>"
        "<nav><a href='/book-online'>Book online</a><a href='/plans-pricing'>Plans</a>"
        "<a href='/demo/login'>Sign in</a><a href='/demo/logout'>Sign out</a></nav>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(markup, status_code=status, headers={"X-Demo-Page": name})


def _same_site(target: str | None, fallback: str) -> str:
    return target if target and is_same_site_path(target) else fallback


class DemoSite:
    """The site's pages. Talks to the emulator's admin API only to sign members in."""

    def __init__(
        self, *, emulator_url: str, http: httpx.AsyncClient, app_headers: dict[str, str]
    ) -> None:
        self._emulator = emulator_url.rstrip("/")
        self._http = http
        self._app_headers = app_headers
        self.gate: BookingGate | None = None  # set once the gate wraps this site

    async def services(self, request: Request) -> Response:
        items = "".join(
            f"<li><a href='/booking-form?bookings_serviceId={s.id}'>{html.escape(s.name)}</a>"
            f" — {s.credits} credit{'s' if s.credits != 1 else ''}</li>"
            for s in DEMO_SERVICES
        )
        return _page("services", "Book online", f"<ul>{items}</ul>")

    async def plans(self, request: Request) -> Response:
        reason = request.query_params.get("reason", "")
        notes = {
            "no-credits": "You have used all your credits. Pick a plan to keep booking.",
            "not-enough-credits": "This class costs more credits than you have left.",
            "no-plan": "You need a plan to book classes.",
            "not-in-plan": "Your plan does not include this class. Pick a plan that does.",
        }
        note = f"<p><strong>{html.escape(notes[reason])}</strong></p>" if reason in notes else ""
        return _page("plans", "Plans & pricing", note + "<ul><li>5-class pack</li>"
                     "<li>10-class pack</li></ul>")

    async def checkout(self, request: Request) -> Response:
        decision: Decision = request.state.booking_gate  # set by the gate (SCOPE_KEY)
        service = _service(request.query_params.get("bookings_serviceId", ""))
        if service is None:
            return _page("checkout", "Unknown service", "<p>That service does not exist.</p>",
                         status=404)
        if request.method == "POST":
            return await self._confirm(decision, service)
        booked = "<p><strong>Booked! One more?</strong></p>" if "booked" in request.query_params \
            else ""
        body = (
            f"{booked}<p>{html.escape(service.name)} costs {service.credits} credit(s).</p>"
            f"<form method='post' action='/booking-form?bookings_serviceId={service.id}'>"
            "<button type='submit'>Confirm booking</button></form>"
            f"<p><small>Allowed by rule {html.escape(decision.rule)}, policy "
            f"{decision.policy_version}</small></p>"
        )
        return _page("checkout", f"Book {service.name}", body)

    async def _confirm(self, decision: Decision, service: DemoService) -> Response:
        member = decision.member_id
        if member is None:  # only reachable if a policy lets signed-out visitors through
            return _page("checkout", "Sign in first", "<p>Please sign in.</p>", status=403)
        spent = await self._spend(member, service.id)
        if self.gate is not None:
            await self.gate.invalidate(member)
        if not spent:
            return _page("checkout", "Not enough credits", "<p>No pool had enough credits.</p>",
                         status=409)
        return RedirectResponse(
            f"/booking-form?bookings_serviceId={service.id}&booked=1", status_code=303,
            headers={"X-Demo-Page": "checkout"},
        )

    async def _spend(self, member_id: str, service_id: str) -> bool:
        """Redeem one session at Wix from the pool the gate says would pay, at its price."""
        assert self.gate is not None
        core = self.gate.core
        credits = credits_for(await core.source.fetch(member_id), await core.prices.get(service_id))
        if credits.paying_pool is None:
            return False
        response = await self._http.post(
            f"{self._emulator}/benefit-programs/v1/balances/{credits.paying_pool}/change",
            json={
                "idempotencyKey": f"demo-{uuid.uuid4()}",
                "type": "ADJUST",
                "adjustOptions": {"value": str(-credits.cost),
                                  "beneficiary": {"memberId": member_id}},
                "transactionDetails": {"itemCount": 1, "reason": "Demo booking"},
            },
            headers=self._app_headers,
        )
        return response.status_code == 200

    async def login(self, request: Request) -> Response:
        name = request.query_params.get("member")
        back = _same_site(request.query_params.get("return_to"), "/book-online")
        if not name:
            listing = await self._http.get(f"{self._emulator}/_emulator/members")
            members = listing.json().get("members", [])
            links = "".join(
                f"<li><a href='/demo/login?member={html.escape(m['name'])}&amp;return_to="
                f"{html.escape(back)}'>{html.escape(m['name'])}</a></li>"
                for m in members
            )
            reason = request.query_params.get("reason")
            note = "<p><strong>Please sign in to book.</strong></p>" if reason else ""
            return _page("login", "Sign in", note + f"<ul>{links}</ul>")
        minted = await self._http.post(f"{self._emulator}/_emulator/tokens", json={"member": name})
        if minted.status_code != 200:
            return _page("login", "Unknown member", f"<p>No demo member {html.escape(name)}.</p>",
                         status=404)
        response = RedirectResponse(back, status_code=303, headers={"X-Demo-Page": "login"})
        response.set_cookie(TOKEN_COOKIE, minted.json()["access_token"], httponly=True,
                            samesite="lax")
        return response

    async def logout(self, request: Request) -> Response:
        response = RedirectResponse("/book-online", status_code=303,
                                    headers={"X-Demo-Page": "logout"})
        response.delete_cookie(TOKEN_COOKIE)
        return response


def _service(service_id: str) -> DemoService | None:
    return next((s for s in DEMO_SERVICES if s.id == service_id), None)


def _with_demo_pages(policies: PolicySource) -> PolicySource:
    """The policy files to run, and the demo's own pages beside them.

    A loaded PolicySet is taken as it is: its pages were settled when it was compiled.
    """
    if isinstance(policies, PolicySet):
        return policies
    paths = [policies] if isinstance(policies, str | Path) else list(policies)
    return [*paths, DEMO_PAGES]


def create_demo_site(
    *,
    emulator_url: str,
    api_key: str,
    site_id: str,
    policies: PolicySource,
    **gate_options: object,
) -> BookingGate:
    """The sample site wrapped in a BookingGate that reads balances from ``emulator_url``.

    One HTTP client serves the site and the gate; the site's lifespan closes it. The demo's
    pages (``DEMO_PAGES``) are added to ``policies``, so `to: login` reaches /demo/login.
    """
    http = httpx.AsyncClient(timeout=5.0)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await http.aclose()

    site = DemoSite(emulator_url=emulator_url, http=http,
                    app_headers={"Authorization": api_key, "wix-site-id": site_id})
    app = Starlette(routes=[
        Route("/", site.services),
        Route("/book-online", site.services),
        Route("/booking-form", site.checkout, methods=["GET", "POST"]),
        Route("/plans-pricing", site.plans),
        Route("/demo/login", site.login),
        Route("/demo/logout", site.logout),
    ], lifespan=lifespan)
    gate = BookingGate(
        app,
        policies=_with_demo_pages(policies),
        wix=WixSettings(api_key=api_key, site_id=site_id, base_url=emulator_url),
        token_cookie=TOKEN_COOKIE,
        http_client=http,
        **{"token_pattern": EMULATOR_TOKENS, **gate_options},  # type: ignore[arg-type]
    )
    site.gate = gate
    return gate
