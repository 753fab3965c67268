"""Named pages of the site, so that a rule can say where to go without knowing the path.

``to: login`` sends a visitor to the page named ``login``. Every policy set has ``login``,
which is ``/`` (the home page: every site has one, unlike a sign-in page at a fixed address)
until a policy file names the site's own sign-in page::

    pages:
      login: /account/login

So the shipped rules work on any site as they are, and a site (or the demo, with its own
``/demo/login``) changes where visitors sign in in one place. Each page is set in one file;
its path is checked like any redirect target.
"""

from __future__ import annotations

from collections.abc import Mapping

from gate.errors import PolicyProblem
from gate.policy.targets import redirect_target_problem
from gate.policy.validation import ParsedFile

__all__ = ["BUILT_IN_PAGES", "Pages", "collect_pages"]

#: The pages every policy set has, and where they are until a policy file says otherwise.
BUILT_IN_PAGES: Mapping[str, str] = {"login": "/"}

#: Page name -> path; None for a page whose path is wrong (already reported where it is set).
Pages = Mapping[str, str | None]


def collect_pages(parsed: list[ParsedFile], problems: list[PolicyProblem]) -> Pages:
    """The set's pages: the built-in ones, overridden or added to by the files' ``pages:``."""
    pages: dict[str, str | None] = dict(BUILT_IN_PAGES)
    set_in: dict[str, str] = {}
    for checked in parsed:
        for name, path in checked.pages.items():
            if name in set_in:
                line, col = checked.located.key_at(("pages", name))
                problems.append(PolicyProblem(
                    checked.name, line, col, f"the page `{name}` is already set in "
                    f"{set_in[name]}; set it in one file only", code="duplicate-setting"))
                continue
            set_in[name] = checked.name
            trouble = redirect_target_problem(path)
            if trouble:
                line, col = checked.located.at(("pages", name))
                problems.append(PolicyProblem(checked.name, line, col, trouble,
                                              code="redirect-target"))
            pages[name] = None if trouble else path
    return pages
