"""Same-site paths: the one check that a path stays on this site and cannot become another one.

Three places hand a path to a browser: a policy's redirect target (checked at load), the gate's
``return_to`` and ``root_path`` prefix (checked per request) and the demo site's sign-in return.
All of them ask ``site_path_trouble``; only how they report the answer differs.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

__all__ = ["SitePathTrouble", "is_same_site_path", "site_path_trouble"]

#: ``elsewhere``: a browser would go to another site; ``relative``: not a path from the site
#: root; ``control``: holds a control character.
SitePathTrouble = Literal["elsewhere", "relative", "control"]

# Browsers read "//host" as another site, and treat "\" as "/", so "/\host" is one too.
_OTHER_HOST = ("//", "/\\")


def site_path_trouble(target: str) -> SitePathTrouble | None:
    """What keeps ``target`` from being a path on this site, or None when it is one.

    A same-site path starts with one ``/`` and holds no control character: browsers drop tabs
    and line breaks from a URL, so ``"/\\t/host"`` would turn into ``"//host"``.
    """
    if target.startswith(_OTHER_HOST):
        return "elsewhere"
    try:
        parts = urlsplit(target)
    except ValueError:  # "https://[broken": only a host part can be this malformed
        return "elsewhere"
    if parts.scheme or parts.netloc:
        return "elsewhere"
    if not target.startswith("/"):
        return "relative"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return "control"
    return None


def is_same_site_path(target: str) -> bool:
    """True when ``target`` is a path on this site that no browser reads as another site."""
    return site_path_trouble(target) is None
