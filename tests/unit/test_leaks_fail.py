"""The suite's warning filters: a leaked socket, file or event loop fails the run.

pyproject's filterwarnings make ResourceWarning, and the PytestUnraisableExceptionWarning
it becomes inside __del__, errors: a leak freed at once fails the test that leaked it;
one caught in a reference cycle (an event loop) fails the session when pytest's final
garbage collection finds it, even though every test passed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

LEAKS = {
    "socket": "import socket\n\ndef test_leak():\n    socket.socket()\n",
    "file": f"def test_leak():\n    open({str(ROOT / 'pyproject.toml')!r})\n",
    "event loop": "import asyncio\n\ndef test_leak():\n    asyncio.new_event_loop()\n",
}


@pytest.mark.parametrize("leak", LEAKS)
def test_a_leak_fails_the_run(leak: str, tmp_path: Path) -> None:
    (tmp_path / "test_leak.py").write_text(LEAKS[leak])
    # The project's pytest configuration, with only the plugins it configures (loading
    # every installed plugin costs seconds).
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml")),
            *("--rootdir", str(tmp_path), "-p", "no:cacheprovider", "-q", "test_leak.py"),
            *("-p", "asyncio", "-p", "timeout"),
        ],
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, output
    assert f"unclosed {'<socket' if leak == 'socket' else leak}" in output, output


def test_the_filters_do_not_ignore_leaks() -> None:
    import tomllib

    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    filters = options["ini_options"]["filterwarnings"]
    assert filters[0] == "error"
    assert not [f for f in filters if "ResourceWarning" in f or "Unraisable" in f], filters
