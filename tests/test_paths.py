"""The one same-site check behind redirect targets, return paths and the demo's sign-in return."""

from __future__ import annotations

import pytest

from gate.policy.paths import is_same_site_path, site_path_trouble


@pytest.mark.parametrize(("target", "trouble"), [
    ("/plans-pricing", None),
    ("/plans pricing?x=1#top", None),  # spaces and fragments are the callers' concern
    ("//evil.example", "elsewhere"),
    ("/\\evil.example", "elsewhere"),
    ("/\t/evil.example", "elsewhere"),  # browsers drop the tab: "//evil.example"
    ("https://evil.example/plans", "elsewhere"),
    ("javascript:alert(1)", "elsewhere"),
    ("https://[evil.example/plans", "elsewhere"),
    ("plans-pricing", "relative"),
    ("", "relative"),
    ("/booking-form\n", "control"),
    ("/booking-form\x7f", "control"),
])
def test_site_path_trouble(target: str, trouble: str | None) -> None:
    assert site_path_trouble(target) == trouble
    assert is_same_site_path(target) is (trouble is None)
