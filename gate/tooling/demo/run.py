"""``booking-gate demo``: the emulator and the sample site, on loopback, with no credentials."""

from __future__ import annotations

import logging
import secrets
import sys
from pathlib import Path

from gate.policy.shipped import shipped_policies
from gate.tooling.demo.site import DEMO_SERVICES, create_demo_site
from gate.tooling.emulator import DEMO_SEED_PATH, create_emulator, load_seed
from gate.tooling.testing import run_server

__all__ = ["DEMO_SITE_ID", "run_demo"]

DEMO_SITE_ID = "d3m0517e-0000-4000-8000-000000000001"
_WHO = (
    ("ana", "3 credits: books yoga (1) and pilates (2); sent to plans when she runs out"),
    ("ben", "0 credits: sent to the plans page"),
    ("cleo", "plan paused: told so, and stopped"),
    ("dev", "signed in, no plan: sent to the plans page"),
    ("eve", "2.5 credits in a live plan (an ended plan's 4 don't count): books either class"),
    ("fay", "a yoga-only plan with 4 credits: books yoga; pilates sends her to the plans"),
    ("gus", "0.5 + 0.5 credits in two plans: one plan pays for a class, so he can't book"),
)


def run_demo(host: str = "127.0.0.1", port: int = 8000, policies: Path | None = None) -> int:
    try:
        import uvicorn
    except ImportError:
        print("the demo needs uvicorn: pip install 'booking-gate[demo]'", file=sys.stderr)
        return 2
    # A fresh key per run: the demo has no credentials to leak, and none are stored anywhere.
    api_key = secrets.token_urlsafe(24)
    policy_dir = policies or shipped_policies()
    emulator = create_emulator(load_seed(DEMO_SEED_PATH), api_key=api_key, site_id=DEMO_SITE_ID)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per decision is enough
    with run_server(emulator) as emulator_url:
        app = create_demo_site(
            emulator_url=emulator_url, api_key=api_key, site_id=DEMO_SITE_ID, policies=policy_dir
        )
        base = f"http://{host}:{port}"

        print(f"booking-gate demo: open {base}/book-online", flush=True)
        print(f"  Wix emulator on {emulator_url}; policies from {policy_dir}")
        print("  Sign in as one of these, then open a class's booking form:")
        for name, what in _WHO:
            print(f"    {base}/demo/login?member={name:<5} {what}")
        for service in DEMO_SERVICES:
            print(f"  Book {service.name} ({service.credits} credit(s)): "
                  f"{base}/booking-form?bookings_serviceId={service.id}")
        print(f"  Sign out: {base}/demo/logout   (signed-out visitors are sent to sign in)")
        print("  Press Ctrl+C to stop.", flush=True)
        uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0
