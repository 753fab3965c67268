"""The HTTP edge of the webhook receiver, shared by ``serve`` and the middleware."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gate.adapters.body import BodyTooLarge, read_limited
from gate.adapters.responses import PRIVATE
from gate.adapters.webhooks._receiver import WebhookReceiver

__all__ = ["receive_webhook"]


async def receive_webhook(receiver: WebhookReceiver, request: Request) -> Response:
    """Read the raw body (bounded), hand it to the receiver, answer with its status."""
    try:
        body = await read_limited(request, receiver.max_body)
    except BodyTooLarge:
        return JSONResponse({"outcome": "rejected", "reason": "too large"}, status_code=413,
                            headers=PRIVATE)
    result = await receiver.handle(body)
    return JSONResponse({"outcome": result.outcome, "reason": result.reason},
                        status_code=result.status, headers=PRIVATE)
