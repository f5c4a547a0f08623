"""Chaos scenarios print their checker verdicts at the end of the run."""

from __future__ import annotations

import pytest

VERDICTS: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if VERDICTS:
        terminalreporter.section("chaos verdicts")
        for line in VERDICTS:
            terminalreporter.write_line(line)
