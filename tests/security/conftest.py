"""Each corpus records its size; the sizes are printed at the end of the run."""

from __future__ import annotations

import pytest

from tests.security.support import CORPORA


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not CORPORA:
        return
    terminalreporter.section("security corpora")
    for name, count in sorted(CORPORA.items()):
        terminalreporter.write_line(f"{name}: {count} cases")
