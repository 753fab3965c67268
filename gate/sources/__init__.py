"""Balance sources: where a member's credits come from."""

from gate.sources.base import BalanceSource
from gate.sources.static import StaticBalanceSource
from gate.sources.wix import WixBalanceSource

__all__ = ["BalanceSource", "StaticBalanceSource", "WixBalanceSource"]
