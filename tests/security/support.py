"""What the security corpora share: a raw HTTP client, servers, fake Wix tokens, a browser's view
of a redirect, and the record of each corpus's size (printed at the end of the run)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urljoin, urlsplit

from gate.errors import UpstreamUnavailable
from gate.identity.wix_token import WixTokenResolver
from gate.tooling.testing import run_server
from gate.wix.client import WixClient
from gate.wix.models import TokenInfo

#: Corpus name -> number of cases, filled in by the tests, printed by conftest.py.
CORPORA: dict[str, int] = {}

SITE_ID = "site-under-test"
OTHER_SITE_ID = "someone-elses-site"
#: Where the browser is when it follows a redirect of the gate.
SITE = "https://studio.example"


def record(name: str, count: int, minimum: int = 0) -> None:
    """Keep ``count`` for the summary; fail if the corpus is smaller than ``minimum``."""
    CORPORA[name] = count
    assert count >= minimum, f"corpus {name!r} has {count} cases; it needs at least {minimum}"


# -- raw HTTP: paths and headers exactly as written, never normalised by a client library ----

@dataclass
class RawResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


def raw_request(
    base_url: str, method: str | bytes, target: str | bytes,
    headers: Sequence[tuple[str | bytes, str | bytes]] = (), body: bytes = b"",
) -> RawResponse:
    """One HTTP/1.1 request with the request line and headers byte for byte as given.

    ``status`` is 0 when the server closed the connection without an answer.
    """
    parts = urlsplit(base_url)
    assert parts.hostname is not None and parts.port is not None

    def raw(value: str | bytes) -> bytes:
        return value if isinstance(value, bytes) else value.encode("utf-8")

    lines = [raw(method) + b" " + raw(target) + b" HTTP/1.1",
             b"Host: " + f"{parts.hostname}:{parts.port}".encode()]
    lines += [raw(name) + b": " + raw(value) for name, value in headers]
    if body:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    lines += [b"Connection: close", b"", b""]
    with socket.create_connection((parts.hostname, parts.port), timeout=15) as sock:
        sock.sendall(b"\r\n".join(lines) + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    data = b"".join(chunks)
    if not data:
        return RawResponse(0, [], b"")
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    found = [tuple(line.split(":", 1)) for line in header_lines if ":" in line]
    return RawResponse(int(status_line.split()[1]),
                       [(k.strip(), v.strip()) for k, v in found], rest)


@contextlib.contextmanager
def serve(app: Any, **config: Any) -> Iterator[str]:
    """``app`` on a real uvicorn on 127.0.0.1 with ``config`` (e.g. ``proxy_headers=False``);
    uvicorn's own lifespan default unless ``config`` says otherwise."""
    with run_server(app, lifespan=config.pop("lifespan", "auto"), **config) as url:
        yield url


# -- Wix tokens without Wix ------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def wix_token(name: str) -> str:
    """A value shaped like a Wix access token (``OauthNG.JWS.<header>.<payload>.<sig>``)."""
    header = _b64(json.dumps({"kid": "test", "alg": "HS256"}).encode())
    payload = _b64(json.dumps({"data": json.dumps({"instance": {"name": name}})}).encode())
    return f"OauthNG.JWS.{header}.{payload}.{_b64(hashlib.sha256(name.encode()).digest())}"


@dataclass
class FakeTokenInfo:
    """Stands in for ``WixClient.token_info``: answers from ``tokens`` and records every value
    that would have left the process."""

    #: token -> ("MEMBER" | "VISITOR" | "INACTIVE" | "OTHER_SITE" | "DOWN", subject)
    tokens: dict[str, tuple[str, str]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    async def token_info(self, token: str) -> TokenInfo:
        self.asked.append(token)
        kind, subject = self.tokens.get(token, ("INACTIVE", ""))
        if kind == "DOWN":
            raise UpstreamUnavailable("POST /oauth2/token-info: ConnectError")
        if kind == "INACTIVE":
            return TokenInfo(active=False)
        site = OTHER_SITE_ID if kind == "OTHER_SITE" else SITE_ID
        subject_type = "VISITOR" if kind == "VISITOR" else "MEMBER"
        return TokenInfo.model_validate({"active": True, "subjectType": subject_type,
                                         "subjectId": subject, "siteId": site})

    def member(self, member_id: str) -> str:
        token = wix_token(f"member:{member_id}")
        self.tokens[token] = ("MEMBER", member_id)
        return token

    def visitor(self) -> str:
        token = wix_token("visitor")
        self.tokens[token] = ("VISITOR", "v-1")
        return token

    def resolver(self, **options: Any) -> WixTokenResolver:
        options.setdefault("per_client", 10**9)
        return WixTokenResolver(cast(WixClient, self), site_id=SITE_ID, **options)


# -- where a browser goes --------------------------------------------------------------------

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_EDGES = "".join(chr(i) for i in range(0x21))


def stays_on_site(location: str, page: str = SITE + "/booking-form") -> bool:
    """Whether a browser on ``page`` that follows ``location`` (a Location header, or a link)
    stays on the same site, reading it the way the WHATWG URL standard says browsers do:
    leading and trailing spaces and control characters dropped, tabs and line breaks removed
    everywhere, ``\\`` read as ``/``, and ``javascript:`` and friends never same-site."""
    text = re.sub("[\t\n\r]", "", location.strip(_EDGES))
    scheme = _SCHEME.match(text)
    if scheme:
        if scheme.group(1).lower() != "https":
            return False  # another scheme: another origin, or script
        text = text[scheme.end():]
    text = text.replace("\\", "/")
    if text.startswith("//"):
        return False  # another host
    if scheme and not text.startswith("/"):
        text = "/" + text  # "https:plans" on an https page is a path on this site
    joined = urlsplit(urljoin(page, text))
    return joined.scheme == "https" and joined.netloc == urlsplit(SITE).netloc


def clean_header(value: str) -> bool:
    """A header value a browser reads as one line of visible ASCII."""
    return all(0x20 < ord(ch) < 0x7F for ch in value)
