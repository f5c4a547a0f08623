"""The operation history: one JSON object per line, Jepsen's shape.

Every operation is written twice: once when a client invokes it and once when its
outcome is known:

    {"id": 7, "process": "c3", "type": "invoke", "f": "book", "value": {...}, "t": 0.412}
    {"id": 7, "process": "c3", "type": "ok",     "f": "book", "value": {...}, "t": 0.530}

`type` of the outcome is `ok` (the server acknowledged it: it happened), `fail` (a
definite refusal: it did not happen) or `info` (unknown: a timeout, a dropped connection,
a 5xx — it may or may not have happened; the checker decides from the final read).
The file is written as the run goes, so a crashed run still leaves its history.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INVOKE = "invoke"
OK = "ok"
FAIL = "fail"
INFO = "info"
OUTCOMES = (OK, FAIL, INFO)


@dataclass
class Op:
    """One operation with its outcome (the two history lines joined)."""

    id: int
    process: str
    f: str
    value: dict[str, Any]
    type: str = INFO  # the outcome; an op never completed counts as unknown
    result: dict[str, Any] = field(default_factory=dict)
    invoked_at: float = 0.0
    completed_at: float | None = None

    @property
    def user(self) -> str:
        return str(self.value.get("user", ""))

    @property
    def seats(self) -> list[str]:
        return [str(s) for s in self.value.get("seats", [])]


class History:
    """Append-only recorder; safe to use from several tasks and threads."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._lines: list[dict[str, Any]] = []
        self._file = path.open("w", encoding="utf-8") if path is not None else None

    def _write(self, line: dict[str, Any]) -> None:
        with self._lock:
            self._lines.append(line)
            if self._file is not None:
                self._file.write(json.dumps(line, sort_keys=True) + "\n")
                self._file.flush()

    def invoke(self, process: str, f: str, value: dict[str, Any]) -> int:
        op_id = next(self._ids)
        self._write(
            {
                "id": op_id,
                "process": process,
                "type": INVOKE,
                "f": f,
                "value": value,
                "t": round(time.monotonic() - self._start, 4),
            }
        )
        return op_id

    def complete(
        self, op_id: int, process: str, f: str, outcome: str, value: dict[str, Any]
    ) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
        self._write(
            {
                "id": op_id,
                "process": process,
                "type": outcome,
                "f": f,
                "value": value,
                "t": round(time.monotonic() - self._start, 4),
            }
        )

    def lines(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._lines)

    def ops(self) -> list[Op]:
        return join(self.lines())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, 1):
            raw = raw.strip()
            if not raw:
                continue
            try:
                yield json.loads(raw)
            except json.JSONDecodeError as exc:
                # A run killed mid-write leaves at most one torn last line.
                raise ValueError(f"{path}:{number}: not a JSON line: {exc}") from None


def join(lines: Iterable[dict[str, Any]]) -> list[Op]:
    """Pair each invoke with its outcome; an invoke without one stays `info`."""
    ops: dict[int, Op] = {}
    for line in lines:
        op_id = int(line["id"])
        if line["type"] == INVOKE:
            if op_id in ops:
                raise ValueError(f"operation {op_id} invoked twice")
            ops[op_id] = Op(
                id=op_id,
                process=str(line["process"]),
                f=str(line["f"]),
                value=dict(line["value"]),
                invoked_at=float(line.get("t", 0.0)),
            )
            continue
        op = ops.get(op_id)
        if op is None:
            raise ValueError(f"operation {op_id} completed without an invoke")
        if op.completed_at is not None:
            raise ValueError(f"operation {op_id} completed twice")
        op.type = str(line["type"])
        op.result = dict(line.get("value") or {})
        op.completed_at = float(line.get("t", 0.0))
    return sorted(ops.values(), key=lambda op: op.id)
