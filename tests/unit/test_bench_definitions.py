"""The benchmark's database ceiling runs the app's own definitions, not a copy."""

from __future__ import annotations

import re

from backend.seats import BookingStatus, SeatStatus
from backend.storage.database import PostgresDatabase
from bench.pgbench import TEMPLATE, render_script


def test_the_pgbench_script_is_rendered_from_the_apps_definitions() -> None:
    script = render_script()
    assert "${" not in script.replace("${NAME}", "") and "${HELD}" in TEMPLATE.read_text()
    # Every status literal the script compares or writes is one the app defines.
    assert set(re.findall(r"status = '([a-z_]+)'", script)) == {s.value for s in SeatStatus}
    assert f"'{BookingStatus.ACTIVE.value}', md5" in script  # the booking row it inserts
    assert script.count(PostgresDatabase.NOW_MS_SQL) == 4
