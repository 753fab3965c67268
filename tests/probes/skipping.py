"""A probe for tests/test_ci_skips.py: not collected by the suite (its name is not test_*)."""

import pytest


def test_needs_a_missing_component() -> None:
    pytest.skip("the component is not installed")
