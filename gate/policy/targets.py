"""What is wrong with a redirect target, in the words staff read, or nothing.

One check for every address a policy sends visitors to: a rule's ``to:`` and each page of
``pages:``.
"""

from __future__ import annotations

from collections.abc import Iterable

from gate.policy.paths import site_path_trouble
from gate.policy.suggest import did_you_mean

__all__ = ["redirect_target_problem"]


def redirect_target_problem(target: str, pages: Iterable[str] = ()) -> str | None:
    """What is wrong with a policy's redirect target, in the words staff read, or None.

    On top of the same-site check (gate.policy.paths), a target is an address written by hand: no
    spaces, and no fragment, which would swallow the ``?reason=`` the gate appends. ``pages``
    are the page names a ``to:`` could have used instead, for the hint.
    """
    shown = target if len(target) <= 60 else target[:57] + "..."
    trouble = site_path_trouble(target)
    if trouble == "elsewhere":
        return (f"`{shown}` points to another site; redirects must stay on this site. Write "
                "a path that starts with /, like /plans-pricing")
    if trouble == "relative":
        # A word without a / is most often a page name, mistyped or not declared yet.
        guess = did_you_mean(target, pages)
        named = ", ".join(sorted(pages))
        also = f", or be the name of a page from `pages:` ({named})" if named else ""
        hint = f"; did you mean `{guess}`?" if guess else ""
        return f"`{shown}` must start with /, like /plans-pricing{also}{hint}"
    if trouble == "control" or any(ch.isspace() for ch in target):
        return f"`{shown}` contains spaces or control characters; remove them"
    if "#" in target:
        return f"`{shown}` has a fragment (#…); remove it"
    path, _, query = target.partition("?")
    lowered = path.lower()
    if "//" in path or "%2f" in lowered or "%5c" in lowered or "\\" in path or any(
            segment in (".", "..") for segment in path.split("/")):
        # Browsers keep these on the site, but a server that tidies the path and redirects
        # again could turn "/.//evil.example" into "//evil.example".
        return (f"`{shown}` has empty or dot segments (// . ..) or an encoded slash; write the "
                "page's plain path, like /plans-pricing")
    names = {pair.partition("=")[0] for pair in query.split("&")}
    taken = sorted(names & {"return_to", "reason"})
    if taken:
        # The gate adds these itself; a second copy could send the visitor somewhere else.
        return (f"`{shown}` sets {', '.join(taken)} in its query; the gate adds "
                f"{' and '.join(taken)} itself (use `reason:` and `return_to: true`)")
    return None
