"""Decisions remembered per snapshot stay right when rules read the path or the date."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from gate.config.assemble import assemble
from gate.data.sources.static import StaticBalanceSource
from gate.identity.base import Identity
from gate.identity.trusted_header import TrustedHeaderResolver

POLICY = """apiVersion: booking-gate/v1
rules:
  - name: closed-page
    when: 'path.startsWith("/closed")'
    action: deny
    status: 403
    message: Closed.
  - name: holiday
    when: 'today == "2026-12-25"'
    action: deny
    status: 403
    message: Closed for the holiday.
default:
  action: allow
"""
BALANCES = """services:
  yoga: [yoga-set]
members:
  m-1: [{pool: p, available: "3", benefits: [{item_set: yoga-set, price: "1"}]}]
"""


def test_path_and_date_are_part_of_what_is_remembered(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "10-rules.yaml").write_text(POLICY)
    (tmp_path / "balances.yaml").write_text(BALANCES)
    today = [dt.datetime(2026, 12, 24, 12, tzinfo=dt.UTC)]
    parts = assemble(policies=tmp_path / "policies", reload_interval=None,
                     source=StaticBalanceSource(tmp_path / "balances.yaml", clock=lambda: 0.0),
                     resolvers=[TrustedHeaderResolver(trusted_proxies=["127.0.0.1"])],
                     clock=lambda: 0.0, now=lambda: today[0])
    core = parts.core
    assert core.policies.repeatable and core.policies.reads_today
    member = Identity("m-1", "test")

    async def known() -> Identity:
        return member

    def ask(path: str) -> str:
        decision = core.decide_now(member, service_id="yoga", path=path, method="GET")
        if decision is None:  # not cached yet: the slow path fills the cache
            decision = asyncio.run(core.decide(known, service_id="yoga", path=path,
                                               method="GET"))
        return decision.rule

    assert ask("/booking-form") == "(default)"
    assert ask("/booking-form") == "(default)"  # now remembered
    assert ask("/closed-form") == "closed-page"  # another path is not the remembered one
    assert ask("/booking-form") == "(default)"
    today[0] = dt.datetime(2026, 12, 25, 9, tzinfo=dt.UTC)
    assert ask("/booking-form") == "holiday"  # a new day is not the remembered one
