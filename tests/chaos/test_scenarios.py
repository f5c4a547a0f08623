"""Fault scenarios under load, each judged by the history checker.

`make test` runs the CI selection (the negative control, the hot seat, lock expiry, Redis
restart, app kill -9); `make chaos` sets BOXOFFICE_CHAOS=full and runs every scenario.
Each run leaves its history, final read, verdict and app logs in
tests/artifacts/chaos/<scenario>/.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from chaos.runner import failed_expectations, run_scenario
from chaos.scenarios import CI_SELECTION, SCENARIOS
from tests.support.services import require_services

FULL = os.environ.get("BOXOFFICE_CHAOS", "").lower() == "full"
SELECTED = list(SCENARIOS) if FULL else CI_SELECTION
RESULTS = Path(__file__).resolve().parents[1] / "artifacts" / "chaos"

pytestmark = [pytest.mark.chaos, pytest.mark.services, pytest.mark.live]


@pytest.mark.parametrize("name", SELECTED)
def test_scenario(name: str, record_property: Any) -> None:
    require_services()
    scenario = SCENARIOS[name]
    folder = RESULTS / name
    shutil.rmtree(folder, ignore_errors=True)
    result = run_scenario(scenario, folder)
    record_property("chaos verdict", result.line())  # printed at the end (tests/conftest.py)
    missed = failed_expectations(result)
    detail = f"{result.line()}\nunmet: {missed}\nfiles: {folder}\n"
    if scenario.expect_valid:
        assert result.verdict.valid, detail + result.verdict.to_json()[:4000]
    else:
        assert not result.verdict.valid, (
            "negative control: the checker missed the broken guard\n" + detail
        )
        assert result.verdict.duplicates, detail
    assert not missed, detail
