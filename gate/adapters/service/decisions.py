"""``POST /v1/decisions``: the decision for a back end that asks (Velo web modules, above all).

The caller proves itself with ``Authorization: Bearer <BOOKING_GATE_API_SECRET>``. Holding the
secret is what lets it name a member by id: a Velo backend knows the signed-in member from
``wix-members-backend`` and is trusted to say so. A member token instead is verified with Wix,
exactly as the middleware does. No member means a signed-out visitor.
"""

from __future__ import annotations

import hmac
import re
from typing import Any

from pydantic import Field, ValidationError, model_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from gate.adapters.body import BodyTooLarge, read_limited
from gate.adapters.hosts import AllowedHosts
from gate.adapters.responses import ON_ERROR, PRIVATE, error_kind, render
from gate.decision.core import DecisionCore
from gate.identity.base import ANONYMOUS, Identity
from gate.identity.wix_token import WixTokenResolver
from gate.policy.decision import Decision
from gate.strict import StrictModel

__all__ = ["MAX_BODY", "DecisionApi", "DecisionShortcut"]

#: The largest body the decision API reads; anything bigger is a 413 before it is parsed.
MAX_BODY = 16 * 1024
MAX_BATCH = 50
_METHOD = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}$"
_NO_STORE = PRIVATE  # the answer depends on who asks: never stored, never shared


# StrictModel: "serviceId": 42 is a mistake to report, not a number to turn into "42".
class _Asking(StrictModel):
    memberId: str | None = Field(default=None, min_length=1, max_length=200)
    memberToken: str | None = Field(default=None, min_length=1, max_length=8192)
    path: str = Field(default="/booking-form", min_length=1, max_length=2048, pattern=r"^/")
    method: str = Field(default="GET", pattern=_METHOD)

    @model_validator(mode="after")
    def _one_member(self) -> _Asking:
        if self.memberId is not None and self.memberToken is not None:
            # Two credentials that may disagree: refuse rather than pick one.
            raise ValueError("give memberId or memberToken, not both")
        return self


class DecisionBody(_Asking):
    serviceId: str = Field(min_length=1, max_length=200)


class BatchBody(_Asking):
    serviceIds: list[str] = Field(min_length=1, max_length=MAX_BATCH)


class DecisionApi:
    """The endpoints' logic; ``core`` decides, this only reads the question and the answer."""

    def __init__(
        self, core: DecisionCore, *, secret: str, tokens: WixTokenResolver | None
    ) -> None:
        self._core = core
        self._expected = f"Bearer {secret}".encode()
        self._tokens = tokens

    async def decide(self, request: Request) -> Response:
        problem, data = await self._read(request, DecisionBody)
        if problem is not None:
            return problem
        assert isinstance(data, DecisionBody)
        decision = await self._decide(data, data.serviceId)
        return _answer(_as_json(decision, data))

    async def decide_batch(self, request: Request) -> Response:
        """Several services for one member, e.g. to grey out "Book" buttons on a list page."""
        problem, data = await self._read(request, BatchBody)
        if problem is not None:
            return problem
        assert isinstance(data, BatchBody)
        decisions = {}
        for service_id in dict.fromkeys(data.serviceIds):
            # A listing page asks; it submits nothing: no credits are held for it.
            decisions[service_id] = _as_json(await self._decide(data, service_id, hold=False),
                                             data)
        return JSONResponse({"decisions": decisions}, headers=_NO_STORE)

    async def _read(
        self, request: Request, model: type[_Asking]
    ) -> tuple[Response | None, _Asking | None]:
        if not self._authorized(request):
            return _error(401, "unauthorized", "send Authorization: Bearer <the API secret>",
                          {"WWW-Authenticate": 'Bearer realm="booking-gate"'}), None
        try:
            raw = await read_limited(request, MAX_BODY)
        except BodyTooLarge:
            return _error(413, "too_large", f"the body is over {MAX_BODY} bytes"), None
        try:
            data = model.model_validate_json(raw)
        except ValidationError as exc:
            if any(e["type"] == "json_invalid" for e in exc.errors()):
                return _error(400, "bad_json", "the body is not valid JSON"), None
            fields = [{"field": ".".join(str(p) for p in e["loc"]) or "body",
                       "message": _field_message(e)} for e in exc.errors()]
            return _error(422, "invalid", "the body does not have the expected fields",
                          fields=fields), None
        if data.memberToken is not None and self._tokens is None:
            return _error(422, "invalid", "this gate does not read Wix member tokens",
                          fields=[{"field": "memberToken", "message": "send memberId"}]), None
        return None, data

    def _authorized(self, request: Request) -> bool:
        sent = request.headers.get("authorization", "").encode("latin-1", "replace")
        # Constant time, so the secret cannot be guessed a byte at a time from timings.
        return hmac.compare_digest(sent, self._expected)

    async def _decide(self, data: _Asking, service_id: str, *, hold: bool = True) -> Decision:
        async def identify() -> Identity:
            if data.memberId is not None:
                return Identity(data.memberId, "api")
            if data.memberToken is not None and self._tokens is not None:
                if not self._tokens.accepts(data.memberToken):
                    # Not shaped like a Wix token: it never leaves the process; nobody.
                    return ANONYMOUS
                return await self._tokens.identify(data.memberToken)
            return ANONYMOUS

        # Rules see the path without its query, as they do behind the middleware.
        path = data.path.partition("?")[0]
        if data.memberToken is None:
            # Who asks is known without waiting: with the credits cached, no await at all.
            known = Identity(data.memberId, "api") if data.memberId is not None else ANONYMOUS
            method = data.method.upper()
            if not hold or method not in self._core.hold_methods:
                decision = self._core.decide_now(known, service_id=service_id, path=path,
                                                 method=method)
                if decision is not None:
                    return decision
        return await self._core.decide(identify, service_id=service_id,
                                       path=path,
                                       method=data.method.upper(), hold=hold)


class DecisionShortcut:
    """ASGI middleware: ``POST /v1/decisions`` answered before Starlette's routing and its
    other middleware, the busiest endpoint of a Wix-hosted site. Only the host check of
    ``ServiceGuard`` applies; every answer of ``DecisionApi`` is private already."""

    def __init__(self, app: ASGIApp, *, api: DecisionApi, hosts: AllowedHosts | None,
                 path: str = "/v1/decisions") -> None:
        self.app = app
        self._api = api
        self._hosts = hosts
        self._path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self._path \
                or scope["method"] != "POST" or scope.get("root_path") \
                or (self._hosts is not None and not self._hosts.allows(scope)):
            await self.app(scope, receive, send)  # the guard answers a wrong host
            return
        response = await self._api.decide(Request(scope, receive))
        await response(scope, receive, send)


def _as_json(decision: Decision, data: _Asking) -> dict[str, Any]:
    outcome = decision.outcome
    location = None
    if outcome.action == "redirect":
        # The same target and return_to the middleware would send, for the page asked about.
        path, _, query = data.path.partition("?")
        scope = {"type": "http", "path": path, "query_string": query.encode("latin-1", "ignore"),
                 "root_path": "", "headers": []}
        location = render(decision, scope).headers["location"]
    return {
        "outcome": outcome.action,
        "location": location,
        "status": 303 if outcome.action == "redirect" else outcome.status,
        "rule": ON_ERROR if decision.error is not None else decision.rule,
        "reason": outcome.reason,
        "message": outcome.message,
        "policyVersion": decision.policy_version,
        "data": decision.data,
        "memberId": decision.member_id,
        "error": error_kind(decision),
    }


_NO_STORE_RAW = [(name.lower().encode("latin-1"), value.encode("latin-1"))
                 for name, value in _NO_STORE.items()]


def _answer(body: dict[str, Any]) -> Response:
    """A decision as JSON: the busiest answer of a Wix-hosted site, so its private headers are
    encoded once, not for every answer as ``JSONResponse(headers=...)`` would."""
    answer = JSONResponse(body)
    answer.raw_headers.extend(_NO_STORE_RAW)
    return answer


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None,
    fields: list[dict[str, str]] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": code, "message": message}
    if fields is not None:
        body["fields"] = fields
    return JSONResponse(body, status_code=status, headers={**_NO_STORE, **(headers or {})})


_TYPE_WORDS = re.compile(r"^Input should be a valid (\w+)")


def _field_message(error: Any) -> str:
    if error["type"] == "missing":
        return "required"
    if error["type"] == "extra_forbidden":
        return "not a field of this request"
    found = _TYPE_WORDS.match(error["msg"])
    return f"must be a {found.group(1)}" if found else str(error["msg"])
