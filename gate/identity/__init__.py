"""Member resolution: who is behind a checkout request."""

from gate.identity.base import (
    ANONYMOUS,
    Identity,
    MemberResolver,
    resolve_chain,
    strip_untrusted,
)
from gate.identity.signed_cookie import SignedCookieResolver
from gate.identity.trusted_header import TrustedHeaderResolver
from gate.identity.wix_token import WIX_TOKEN_PATTERN, WixTokenResolver

__all__ = [
    "ANONYMOUS",
    "WIX_TOKEN_PATTERN",
    "Identity",
    "MemberResolver",
    "SignedCookieResolver",
    "TrustedHeaderResolver",
    "WixTokenResolver",
    "resolve_chain",
    "strip_untrusted",
]
