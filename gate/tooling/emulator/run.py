"""``booking-gate emulator``: the Wix emulator alone, on a port of its own."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from gate.config.wix import ENV_API_KEY, ENV_SITE_ID
from gate.tooling.emulator import DEMO_SEED_PATH, SeedError, create_emulator, load_seed

__all__ = ["run_emulator"]


def run_emulator(*, host: str, port: int, seed: Path | None = None) -> int:
    """Serve the emulator until stopped; 2, with one paragraph on stderr, if it cannot start.

    The API key and site id come from ``BOOKING_GATE_WIX_API_KEY`` and ``_SITE_ID``, or are
    made up (a fresh key, ``emulated-site``): the emulator never reads them from its seed.
    """
    try:
        import uvicorn
    except ImportError:
        print("booking-gate emulator needs uvicorn: pip install 'booking-gate[demo]'",
              file=sys.stderr)
        return 2
    try:
        data = load_seed(seed or DEMO_SEED_PATH)
    except SeedError as exc:  # a mistake in a file someone wrote: say where, not a traceback
        print(f"booking-gate emulator: {exc}", file=sys.stderr)
        return 2
    api_key = os.environ.get(ENV_API_KEY) or secrets.token_urlsafe(24)
    site_id = os.environ.get(ENV_SITE_ID) or "emulated-site"
    app = create_emulator(data, api_key=api_key, site_id=site_id)
    shown = "from " + ENV_API_KEY if os.environ.get(ENV_API_KEY) else "generated: " + api_key
    print(f"Wix emulator on http://{host}:{port}  site id {site_id}  API key {shown}")
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0
