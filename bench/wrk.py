"""`POST /book` under wrk, with a Lua script written at run time (bench/book.py's load).

Each wrk thread books its own stride of the seats (one seat a request, never twice), takes
the users' tokens in turn, counts statuses and keeps the seat of every 2xx; `done()` prints
`WRK ...` lines this module reads, and writes the booked seats to a file.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

LUA = r"""-- Written by bench/book.py for one run; not kept.
local seats_path = "%(seats)s"
local tokens_path = "%(tokens)s"
local booked_path = "%(booked)s"
local threads = {}
local made = 0

function setup(thread)
  thread:set("tid", made)
  made = made + 1
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(args[1])
  seats = {}
  local i = 0
  for line in io.lines(seats_path) do
    if i %% nthreads == tid then seats[#seats + 1] = line end
    i = i + 1
  end
  heads = {}
  for line in io.lines(tokens_path) do
    heads[#heads + 1] = {["Content-Type"] = "application/json",
                         ["Authorization"] = "Bearer " .. line}
  end
  next_seat = 0
  next_head = tid
  statuses = {}
  booked = {}
  nbooked = 0
end

function request()
  next_seat = next_seat + 1
  next_head = next_head %% #heads + 1
  local seat = seats[(next_seat - 1) %% #seats + 1]
  return wrk.format("POST", "/book", heads[next_head], '{"seatId":"' .. seat .. '"}')
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status >= 200 and status < 300 then
    local seat = string.match(body, '"seatId":"([^"]+)"')
    if seat then
      nbooked = nbooked + 1
      booked[nbooked] = seat
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK duration_us %%d\n", summary.duration))
  io.write(string.format("WRK requests %%d\n", summary.requests))
  io.write(string.format("WRK errors %%d %%d %%d %%d\n", e.connect, e.read, e.write, e.timeout))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("WRK p%%s %%d\n", p, latency:percentile(p)))
  end
  io.write(string.format("WRK max %%d\n", latency.max))
  local out = io.open(booked_path, "w")
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      io.write(string.format("WRK status %%d %%d\n", status, n))
    end
    for _, seat in ipairs(thread:get("booked")) do out:write(seat, "\n") end
  end
  out:close()
end
"""


def wrk_book(url: str, seat_ids: Sequence[str], tokens: Sequence[str], opts: Any) -> Any:
    """Run wrk against `POST /book`; return its figures and the seats it was told are booked."""
    wrk = shutil.which("wrk")
    assert wrk is not None
    threads = 2
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        folder = Path(tmp)
        (folder / "seats.txt").write_text("\n".join(seat_ids) + "\n")
        (folder / "tokens.txt").write_text("\n".join(tokens) + "\n")
        paths = {n: str(folder / f"{n}.txt") for n in ("seats", "tokens", "booked")}
        (folder / "book.lua").write_text(LUA % paths)
        argv = [wrk, f"-t{threads}", f"-c{opts.connections}", f"-d{opts.seconds}s"]
        argv += ["--timeout", "10s", "-s", str(folder / "book.lua"), url, "--", str(threads)]
        done = subprocess.run(  # noqa: S603 (our own argv list, no shell)
            argv, capture_output=True, text=True, check=False, timeout=opts.seconds + 60
        )
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
        booked = Path(paths["booked"]).read_text().split()
    figures: dict[str, Any] = {"statuses": Counter[int]()}
    for line in done.stdout.splitlines():
        if not line.startswith("WRK "):
            continue
        _, key, *values = line.split()
        if key == "status":
            figures["statuses"][int(values[0])] += int(values[1])
        elif key == "errors":
            figures["errors"] = dict(
                zip(("connect", "read", "write", "timeout"), map(int, values), strict=True)
            )
        else:
            figures[key] = float(values[0])
    seconds = figures["duration_us"] / 1e6
    latency = {
        "p50_ms": round(figures["p50"] / 1000, 1),
        "p90_ms": round(figures["p90"] / 1000, 1),
        "p99_ms": round(figures["p99"] / 1000, 1),
        "p99.9_ms": round(figures["p99.9"] / 1000, 1),
        "max_ms": round(figures["max"] / 1000, 1),
    }
    return seconds, int(figures["requests"]), figures["statuses"], latency, booked, figures
