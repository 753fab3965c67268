"""Balance sources: where a member's credits come from."""

from gate.data.sources.base import BalanceSource
from gate.data.sources.static import StaticBalanceSource
from gate.data.sources.wix import WixBalanceSource

__all__ = ["BalanceSource", "StaticBalanceSource", "WixBalanceSource"]
