"""The option a misspelt word was probably meant to be, for "did you mean ...?" hints."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["did_you_mean"]

#: Words people reach for that are not the name: the nearest spelling would be a bad guess.
_SYNONYMS = {
    "condition": "when", "if": "when", "rule": "rules",
    "url": "to", "target": "to", "redirect": "to", "redirect_to": "to", "location": "to",
    "msg": "message", "text": "message", "code": "status", "http_status": "status",
    "credits": "available", "balance": "available", "logged_in": "signed_in",
    "signedin": "signed_in", "plan_status": "status",
}


def did_you_mean(word: str, options: Iterable[str]) -> str | None:
    """The option ``word`` was probably meant to be, if one is close enough to suggest.

    The cut-off is high on purpose: a wrong guess ("owner"? did you mean "on_error") sends
    people the wrong way, while no guess lists every option instead.
    """
    options = list(options)
    synonym = _SYNONYMS.get(word.lower())
    if synonym in options:
        return synonym
    found = difflib.get_close_matches(word, options, n=1, cutoff=0.7)
    if not found:
        found = [o for o in options if o.lower() == word.lower()]
    return found[0] if found else None
