"""Balances from a local YAML or JSON file, for development without a Wix site."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from gate.balances import BalanceSnapshot, PoolBalance
from gate.errors import ConfigError
from gate.wix.models import DecimalString, PoolStatus

__all__ = ["StaticBalanceSource"]


class _StaticPool(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pool: str = Field(min_length=1)
    available: DecimalString
    reserved: DecimalString = Decimal(0)
    status: PoolStatus = "ACTIVE"
    plan: str | None = None
    namespace: str | None = None


class _StaticFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    members: dict[str, list[_StaticPool]]


class StaticBalanceSource:
    """Serves balances read once from a file shaped ``members: {<member id>: [pools]}``.

    A member the file does not list has no pools (no plan). Edit the file and restart to
    change a balance; this source is for trying policies locally, not for production.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Callable[[], float],
        counted_statuses: Collection[str] = ("ACTIVE",),
    ) -> None:
        self._path = Path(path)
        self._clock = clock
        self._counted = frozenset(counted_statuses)
        self._members = _load(self._path)
        self.key = f"static:{self._path.resolve()}"

    def __repr__(self) -> str:
        return f"StaticBalanceSource({str(self._path)!r})"

    async def fetch(self, member_id: str) -> BalanceSnapshot:
        return BalanceSnapshot(
            member_id=member_id,
            pools=self._members.get(member_id, ()),
            fetched_at=self._clock(),
            source=self.key,
            counted_statuses=self._counted,
        )

    async def aclose(self) -> None:
        return None


def _load(path: Path) -> dict[str, tuple[PoolBalance, ...]]:
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
    return {
        member: tuple(
            PoolBalance(
                pool_id=p.pool,
                available=p.available,
                reserved=p.reserved,
                status=p.status,
                namespace=p.namespace,
                plan_id=p.plan,
            )
            for p in pools
        )
        for member, pools in parsed.members.items()
    }
