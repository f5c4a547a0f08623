"""piccolo_conf.py only reads where the database is: importing it creates nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_piccolo_conf_creates_no_folder_file_or_secret(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "JWT_SECRET"}
    }
    env.update(DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", "import piccolo_conf; print(type(piccolo_conf.DB).__name__)"],
        cwd=tmp_path,  # no .env here
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "SQLiteEngine"
    assert not data_dir.exists()
    assert list(tmp_path.iterdir()) == [], list(tmp_path.iterdir())
