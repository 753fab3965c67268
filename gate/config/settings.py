"""One configuration object for the middleware, ``booking-gate serve`` and the CLI.

Values come from the environment (``BOOKING_GATE_<NAME>``) and, optionally, a TOML file
(``booking-gate serve --config gate.toml``); the environment wins. Secrets come **only** from
the environment: a secret in the file is refused, so it can never be committed with it.
Relative paths in the file are relative to the file, not to the current directory.
"""

from __future__ import annotations

import json
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from gate.errors import ConfigError
from gate.wix.client import DEFAULT_BASE_URL

__all__ = ["ENV_PREFIX", "SECRET_FIELDS", "GateSettings"]

ENV_PREFIX = "BOOKING_GATE_"
#: Never read from a file, never shown in a repr, an error or a log line.
SECRET_FIELDS = frozenset({
    "wix_api_key", "api_secret", "status_token", "session_secret", "wix_webhook_public_key",
    "metrics_token",
    "redis_url",  # a URL may carry the Redis password
})



class GateSettings(BaseSettings):
    """Every documented option, one environment variable each (``BOOKING_GATE_`` + name)."""

    #: Off only for ``_Overridden``, which validates values that already include it.
    _read_environment: ClassVar[bool] = True

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, case_sensitive=False,
        hide_input_in_errors=True,
    )

    # -- Wix -----------------------------------------------------------------------------------
    wix_api_key: SecretStr | None = Field(default=None, description="a Wix API key with Benefit "
                                          "Programs read permission (secret)")
    wix_site_id: str | None = Field(default=None, description="the Wix site the members and "
                                    "credits belong to")
    wix_base_url: str = Field(default=DEFAULT_BASE_URL, description="where the Wix API is")
    wix_timeout: float = Field(default=5.0, gt=0, le=60, description="seconds one Wix call may "
                               "take")
    wix_retries: int = Field(default=1, ge=0, le=5, description="retries of a Wix call that "
                             "failed in a way worth retrying (connection, timeout, 429, 5xx)")
    wix_rate_limit: int = Field(default=200, ge=1, le=100_000, description="Wix calls a "
                                "minute this instance may make, everything included (Wix "
                                "allows an app instance 200)")
    wix_webhook_public_key: SecretStr | None = Field(default=None, description="the PEM public "
                                                     "key Wix signs webhooks with")
    # -- the fleet: state shared through Redis (docs/redis.md) ---------------------------------
    redis_url: SecretStr | None = Field(default=None, description="a Redis the gate's "
                                        "instances share their cache, Wix call budget, holds "
                                        "and webhooks through (redis://host:6379/0, rediss:// "
                                        "for TLS); empty: each instance alone (secret)")
    redis_timeout: float = Field(default=0.25, gt=0, le=5, description="seconds one Redis "
                                 "command may take before the instance decides on its own")
    redis_local_share: float = Field(default=0.5, gt=0, le=1, description="the share of "
                                     "wix_rate_limit one instance may spend while Redis is "
                                     "down (1/number of instances keeps the fleet within it)")
    # -- policies and decisions ----------------------------------------------------------------
    policies: Annotated[list[Path], NoDecode] = Field(default_factory=lambda: [Path("policies")],
                                 description="policy folders or files")
    reload_interval: float | None = Field(default=2.0, gt=0, description="seconds between "
                                          "checks of the policy files for edits; empty: off")
    cache_ttl: float = Field(default=30.0, gt=0, description="seconds a balance is reused")
    cache_maxsize: int = Field(default=10_000, ge=1, description="members kept in the cache")
    stale_while_revalidate: float = Field(default=30.0, ge=0, description="seconds past "
                                          "cache_ttl that credits are still used while one "
                                          "refresh runs in the background")
    stale_if_error: float = Field(default=300.0, ge=0, description="seconds past cache_ttl "
                                  "that credits are used when Wix cannot answer")
    decision_deadline: float = Field(default=3.0, gt=0, le=60, description="seconds one "
                                     "decision may take, retries included; then on_error")
    hold_seconds: float = Field(default=600.0, ge=0, description="how long an allowed "
                                "checkout submission holds its credits (the last-credit "
                                "guard); 0 turns the guard off")
    decision_log: Path | None = Field(default=None, description="a file the gate appends one "
                                      "JSON line per decision to, with the inputs the rules "
                                      "saw, for `booking-gate replay`; empty: none")
    service_costs: dict[str, Decimal] = Field(default_factory=dict, description="explicit "
                                              "credits per service id, overriding Wix's prices "
                                              '(JSON: {"id": "2"})')
    checkout_paths: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["/booking-form"],
        description="checkout path patterns (Starlette syntax), JSON or comma-separated")
    service_param: str = Field(default="bookings_serviceId", description="the query or path "
                               "parameter that names the service")
    # -- identity ------------------------------------------------------------------------------
    token_header: str | None = Field(default="authorization", description="the header a Wix "
                                     "member token is read from")
    token_cookie: str | None = Field(default=None, description="the cookie a Wix member token "
                                     "is read from")
    session_secret: SecretStr | None = Field(default=None, description="signs session cookies "
                                             "set by your own login (secret)")
    token_lookups_per_client: int | None = Field(default=None, ge=1, description="unknown "
                                                 "member tokens one client address may have "
                                                 "looked up a minute; only where the address "
                                                 "is the visitor's own (not behind a proxy)")
    token_pattern: str | None = Field(default=None, description="the shape (a regular "
                                      "expression) a member token must have to be sent to "
                                      "Wix; empty: Wix's own access-token shape")
    session_cookie: str = Field(default="gate_session", description="the signed session cookie")
    # -- the service -----------------------------------------------------------------------------
    api_secret: SecretStr | None = Field(default=None, description="the bearer secret callers "
                                         "of the decision API must send (secret)")
    status_path: str | None = Field(default=None, description="path of the status endpoint")
    webhook_path: str = Field(default="/_gate/webhooks/wix", pattern=r"^/", description="where "
                              "the middleware receives Wix webhooks, once "
                              "BOOKING_GATE_WIX_WEBHOOK_PUBLIC_KEY is set (serve: "
                              "/v1/webhooks/wix)")
    status_token: SecretStr | None = Field(default=None, description="bearer token for the "
                                           "status endpoint and reload; without it they do "
                                           "not exist (secret)")
    metrics_token: SecretStr | None = Field(default=None, description="bearer token Prometheus "
                                            "sends to `serve`'s GET /metrics; without it "
                                            "there is no /metrics (secret)")
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="host names the gate answers for, JSON or comma-separated (*.example.com "
        "for subdomains); empty: any. serve: every endpoint; the middleware: checkouts, "
        "webhooks and status")
    host: str = Field(default="127.0.0.1", description="address `serve` listens on")
    port: int = Field(default=8787, ge=1, le=65535, description="port `serve` listens on")

    @field_validator("service_costs", mode="before")
    @classmethod
    def _costs_from_json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("policies", "checkout_paths", "allowed_hosts", mode="before")
    @classmethod
    def _list_from_text(cls, value: Any) -> Any:
        # A JSON list, or plain text separated by commas: BOOKING_GATE_POLICIES=policies
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("[") else \
                [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("reload_interval", mode="before")
    @classmethod
    def _off_when_empty(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip().lower() in ("", "off") else value

    @field_validator("decision_log", mode="before")
    @classmethod
    def _no_log_when_empty(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("redis_url", mode="before")
    @classmethod
    def _alone_when_empty(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("wix_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment wins over a config file (passed as init values). No .env files:
        # a settings file that appears in the working directory must never change the gate.
        if not cls._read_environment:
            return (init_settings,)
        return env_settings, init_settings

    @classmethod
    def load(cls, config_file: str | Path | None = None, **overrides: Any) -> GateSettings:
        """Read the environment and ``config_file``; ConfigError says what is wrong, no secrets.

        ``overrides`` (e.g. command-line flags) win over both.
        """
        values: dict[str, Any] = {}
        if config_file is not None:
            values = _read_file(Path(config_file))
        try:
            settings = cls(**values)
            if not overrides:
                return settings
            # Flags win over the environment too: validate them on top of what was read.
            return _Overridden(**{**settings.model_dump(), **overrides})
        except ValidationError as exc:
            raise ConfigError(_explain(exc)) from None
        except (SettingsError, ValueError) as exc:
            # A variable pydantic-settings could not even decode (bad JSON in a list...);
            # its message names the variable, not the secret values.
            raise ConfigError(f"invalid configuration: {exc}") from None


class _Overridden(GateSettings):
    """GateSettings from given values only: the environment was already read once."""

    _read_environment: ClassVar[bool] = False


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the config file {path} is not valid TOML: {exc}") from None
    secrets = sorted(SECRET_FIELDS & data.keys())
    if secrets:
        names = ", ".join(ENV_PREFIX + s.upper() for s in secrets)
        raise ConfigError(f"{path}: secrets are read only from the environment; remove "
                          f"{', '.join(secrets)} from the file and set {names} instead")
    base = path.resolve().parent
    if isinstance(data.get("decision_log"), str) and data["decision_log"]:
        data["decision_log"] = str(base / data["decision_log"])
    if "policies" in data:
        given = data["policies"]
        paths = given if isinstance(given, list) else [given]
        data["policies"] = [str(base / p) if isinstance(p, str) else p for p in paths]
    return data


def _explain(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        name = ".".join(str(p) for p in error["loc"]) or "settings"
        variable = ENV_PREFIX + name.split(".")[0].upper()
        if error["type"] == "extra_forbidden":
            lines.append(f"unknown setting `{name}`")
        else:
            lines.append(f"{variable}: {error['msg']}")
    return "invalid configuration: " + "; ".join(lines)
