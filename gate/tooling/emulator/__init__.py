"""A stand-in for https://www.wixapis.com: the Wix endpoints the gate calls, plus test controls.

Used by the test suite and by the demo. ``create_emulator(load_seed(DEMO_SEED_PATH), ...)`` gives
a Starlette app; serve it with ``gate.tooling.testing.run_server`` or uvicorn.
``SCENARIO_SEED_PATH`` is a second seed with one member per credit situation, for
table-driven tests of a client.

Admin endpoints under ``/_emulator`` set the data, add latency, arm faults (429 bursts, 5xx,
timeouts, truncated, huge, endless and dripped bodies), count calls and send signed Wix
webhooks; ``README.md`` beside this file lists them, and says how a test gets a refused
connection (a loopback port nobody listens on).
"""

from __future__ import annotations

from pathlib import Path

from gate.tooling.emulator.app import WIX_ROUTES, create_emulator
from gate.tooling.emulator.quirks import Quirks
from gate.tooling.emulator.seed import BOOKINGS_APP_ID, EmulatorSeed
from gate.tooling.emulator.seed_file import SeedError, load_seed

__all__ = [
    "BOOKINGS_APP_ID",
    "DEMO_SEED_PATH",
    "SCENARIO_SEED_PATH",
    "TOKEN_PATTERN",
    "WIX_ROUTES",
    "EmulatorSeed",
    "Quirks",
    "SeedError",
    "create_emulator",
    "load_seed",
]

DEMO_SEED_PATH: Path = Path(__file__).with_name("demo_seed.yaml")
SCENARIO_SEED_PATH: Path = Path(__file__).with_name("scenario_seed.yaml")
#: The shape of the emulator's tokens (``secrets.token_urlsafe`` and the seeds' fixed tokens,
#: like ``scenario-zero``), for ``token_pattern=`` of a gate in front of the emulator: by default
#: a gate sends Wix only values shaped like real Wix tokens (``OauthNG.JWS.…``).
TOKEN_PATTERN = r"[A-Za-z0-9._-]{1,512}"
