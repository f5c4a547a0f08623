"""The layer contract (pyproject's [tool.importlinter]) holds, and it has teeth.

The second test copies the package, adds one upward import (booking -> web) and
checks that the same contract then fails and names it: a contract that cannot fail
proves nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(project / "pyproject.toml"), "--no-cache"],
        cwd=project,
        env={"PYTHONPATH": str(project), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _copy_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    shutil.copytree(
        ROOT / "backend", project / "backend", ignore=shutil.ignore_patterns("__pycache__")
    )
    return project


def test_the_code_keeps_its_layers(tmp_path: Path) -> None:
    result = _lint_imports(_copy_project(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Dependencies point inward KEPT" in result.stdout
    assert "Only storage/ talks to the database" in result.stdout
    assert "BROKEN" not in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    project = _copy_project(tmp_path)
    service = project / "backend" / "booking" / "service.py"
    service.write_text(service.read_text() + "\nfrom backend.web import schemas  # upward\n")
    result = _lint_imports(project)
    assert result.returncode != 0
    assert "Dependencies point inward BROKEN" in result.stdout
    assert "backend.booking.service -> backend.web.schemas" in result.stdout


def test_a_driver_import_outside_storage_breaks_the_contract(tmp_path: Path) -> None:
    project = _copy_project(tmp_path)
    web = project / "backend" / "web" / "health.py"
    web.write_text(web.read_text() + "\nimport asyncpg  # a driver above storage/\n")
    result = _lint_imports(project)
    assert result.returncode != 0
    assert "backend.web.health -> asyncpg" in result.stdout
