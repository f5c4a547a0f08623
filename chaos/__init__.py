"""Small Jepsen-style chaos harness for Boxoffice.

* `history`  — clients record every operation's invoke and outcome (ok, fail, info) as
  JSON lines;
* `checker`  — after the run, compares the history and every watcher's final seat map
  with a final read of the database, and says what went wrong;
* `scenarios` — fault scenarios (hot seat, lock expiry, paused and killed app workers,
  Redis and PostgreSQL faults, slow watchers) and the negative control;
* `proxy`, `services` — a loopback TCP proxy that slows or cuts Redis, and test-owned
  Redis, PostgreSQL, app and nginx processes.

`python -m chaos list` / `python -m chaos run NAME` run scenarios by hand; the tests in
`tests/chaos/` run them under pytest (`make test`: the CI selection, `make chaos`: all).
"""
