"""Settings read from the environment: the Wix credentials, which never live in files."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from gate.errors import ConfigError
from gate.wix.client import DEFAULT_BASE_URL

__all__ = ["ENV_API_KEY", "ENV_BASE_URL", "ENV_SESSION_SECRET", "ENV_SITE_ID", "WixSettings"]

ENV_API_KEY = "BOOKING_GATE_WIX_API_KEY"
ENV_SITE_ID = "BOOKING_GATE_WIX_SITE_ID"
ENV_BASE_URL = "BOOKING_GATE_WIX_BASE_URL"
ENV_SESSION_SECRET = "BOOKING_GATE_SESSION_SECRET"


@dataclass(frozen=True, kw_only=True)
class WixSettings:
    """How to reach Wix. ``api_key`` is hidden from ``repr`` so it cannot leak into logs."""

    api_key: str | None = field(default=None, repr=False)
    site_id: str | None = None
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 5.0
    retries: int = 1

    def __post_init__(self) -> None:
        for name in ("api_key", "site_id"):
            value = getattr(self, name)
            if value is None:
                continue
            # Secrets mounted from files often end in a newline; strip it rather than fail
            # every request, but refuse anything else that cannot be a header value.
            object.__setattr__(self, name, value.strip() or None)
            if any(ord(ch) < 32 or ord(ch) > 126 for ch in value.strip()):
                raise ConfigError(f"{name} contains characters that cannot be sent in a header "
                                  "(line breaks, tabs or non-ASCII text)")
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"the Wix base URL must start with http:// or https://: "
                              f"{self.base_url!r}")
        if self.timeout <= 0:
            raise ConfigError("the Wix timeout must be a positive number of seconds")
        if self.retries < 0:
            raise ConfigError("retries cannot be negative")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> WixSettings:
        """Read BOOKING_GATE_WIX_API_KEY, _SITE_ID and _BASE_URL; keyword overrides win."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {
            "api_key": env.get(ENV_API_KEY) or None,
            "site_id": env.get(ENV_SITE_ID) or None,
            "base_url": env.get(ENV_BASE_URL) or DEFAULT_BASE_URL,
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def require_credentials(self, *, for_source: bool = True) -> None:
        """Refuse to start without what Wix needs.

        Reading credits needs the API key and the site id. Checking member tokens needs the
        site id even with another balance source: without it, a token from any Wix site
        would be taken as a member of this one.
        """
        pairs = [(ENV_SITE_ID, self.site_id)]
        if for_source:
            pairs.insert(0, (ENV_API_KEY, self.api_key))
        missing = [name for name, value in pairs if not value]
        if missing:
            what = "reading balances from Wix" if for_source else "checking Wix member tokens"
            raise ConfigError(
                f"{what} needs " + " and ".join(missing) + " in the environment"
                " (the site id is in your site's dashboard URL; create an API key with Benefit"
                " Programs read permission in your Wix account)"
            )
