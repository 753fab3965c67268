"""A demo-seeded emulator per test module, reset before every test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from gate.tooling.emulator import DEMO_SEED_PATH, create_emulator, load_seed
from gate.tooling.testing import run_server
from tests.emulator.support import API_KEY, SITE_ID


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    app = create_emulator(load_seed(DEMO_SEED_PATH), api_key=API_KEY, site_id=SITE_ID)
    with run_server(app) as url:
        yield url


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    # trust_env=False: no proxy from the environment may ever see this traffic.
    with httpx.Client(base_url=server, timeout=10, trust_env=False) as http:
        http.post("/_emulator/reset").raise_for_status()
        yield http
