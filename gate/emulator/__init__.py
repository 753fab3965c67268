"""A stand-in for https://www.wixapis.com: the Wix endpoints the gate calls, plus test controls.

Used by the test suite and by the demo. ``create_emulator(load_seed(DEMO_SEED_PATH), ...)`` gives
a Starlette app; serve it with ``gate.testing.run_server`` or uvicorn.
"""

from __future__ import annotations

from pathlib import Path

from gate.emulator.app import WIX_ROUTES, create_emulator
from gate.emulator.seed import EmulatorSeed, SeedError, load_seed

__all__ = [
    "DEMO_SEED_PATH",
    "WIX_ROUTES",
    "EmulatorSeed",
    "SeedError",
    "create_emulator",
    "load_seed",
]

DEMO_SEED_PATH: Path = Path(__file__).with_name("demo_seed.yaml")
