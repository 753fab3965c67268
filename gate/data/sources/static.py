"""Balances from a local YAML or JSON file, for development without a Wix site."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path

from pydantic import Field, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from gate.credits.balances import (
    PRICING_PLANS_NAMESPACE,
    BalanceSnapshot,
    Benefit,
    PoolBalance,
    ServiceInfo,
)
from gate.data.expiring import Held
from gate.errors import ConfigError
from gate.strict import StrictModel
from gate.wix.models import DecimalString, PoolStatus

__all__ = ["StaticBalanceSource"]


class _StaticBenefit(StrictModel):
    item_set: str = Field(min_length=1)
    price: DecimalString = Decimal(1)


class _StaticPool(StrictModel):
    pool: str = Field(min_length=1)
    available: DecimalString
    reserved: DecimalString = Decimal(0)
    status: PoolStatus = "ACTIVE"
    plan: str | None = None
    namespace: str = PRICING_PLANS_NAMESPACE
    #: What the pool pays for. Left out: every service with a configured cost.
    benefits: list[_StaticBenefit] | None = None


class _StaticFile(StrictModel):
    members: dict[str, list[_StaticPool]]
    #: Service id -> the item sets that hold it (as Wix's Items would say).
    services: dict[str, list[str]] = Field(default_factory=dict)


class StaticBalanceSource:
    """Serves balances read once from a file shaped ``members: {<member id>: [pools]}``.

    A member the file does not list has no pools (no plan). A service is known when the
    file's ``services:`` lists it (or the gate is given a cost for it). Edit the file and
    restart to change a balance; this source is for trying policies locally, not production.
    """

    def __init__(self, path: str | Path, *, clock: Callable[[], float]) -> None:
        self._path = Path(path)
        self._clock = clock
        self._members, self._services = _load(self._path)
        self._infos = {sid: ServiceInfo(sid, known=True, item_sets=sets)
                       for sid, sets in self._services.items()}
        self.key = f"static:{self._path.resolve()}"

    def __repr__(self) -> str:
        return f"StaticBalanceSource({str(self._path)!r})"

    async def fetch(self, member_id: str) -> BalanceSnapshot:
        return BalanceSnapshot(
            member_id=member_id,
            pools=self._members.get(member_id, ()),
            fetched_at=self._clock(),
            source=self.key,
        )

    async def fetch_many(self, member_ids: Sequence[str]) -> dict[str, BalanceSnapshot]:
        return {m: await self.fetch(m) for m in member_ids}

    async def service(self, service_id: str) -> ServiceInfo:
        return self.cached_service(service_id) or ServiceInfo(service_id, known=False)

    def cached_service(self, service_id: str) -> ServiceInfo | None:
        info = self._infos.get(service_id)
        return info if info is not None else ServiceInfo(service_id, known=False)

    def held_service(self, service_id: str) -> tuple[Held, ...]:
        return ()  # read once: ``cached_service`` gives the same (or an equal) answer for good

    def forget(self, member_id: str) -> None:
        return None

    async def aclose(self) -> None:
        return None


def _load(
    path: Path,
) -> tuple[dict[str, tuple[PoolBalance, ...]], dict[str, frozenset[str]]]:
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text) if path.suffix == ".json" else YAML(typ="safe").load(text)
        parsed = _StaticFile.model_validate(raw)
    except OSError as exc:
        raise ConfigError(f"cannot read balance file {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, YAMLError) as exc:
        raise ConfigError(f"balance file {path} is not valid YAML/JSON: {exc}") from None
    except ValidationError as exc:
        raise ConfigError(f"balance file {path} is not shaped as expected:\n{exc}") from None
    members = {
        member: tuple(
            PoolBalance(
                pool_id=p.pool,
                available=p.available,
                reserved=p.reserved,
                status=p.status,
                namespace=p.namespace,
                plan_id=p.plan,
                benefits=None if p.benefits is None else tuple(
                    Benefit(b.item_set, b.price) for b in p.benefits
                ),
            )
            for p in pools
        )
        for member, pools in parsed.members.items()
    }
    return members, {k: frozenset(v) for k, v in parsed.services.items()}
