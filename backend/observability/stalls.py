"""Which code stopped the event loop: a watchdog that logs the loop thread's stack.

`LoopLag` (booking/looplag.py) measures how late the loop runs, not why. When one
callback runs for a long time (a frame written to thousands of sockets in one go, a
full garbage collection, a big synchronous parse) everything else in the process waits,
and a profile spreads that over the whole run. The watchdog names it: a task on the
loop records a heartbeat every quarter of `threshold_ms`, and a daemon thread checks it;
once the heartbeat is older than the threshold, the thread takes the loop thread's
current stack (`sys._current_frames`) and logs it, once per stall, as
`event loop stalled N ms so far in: file:line function | ...`, innermost frame first
(what a log line cut short keeps).
It found the two stalls of issue 12's on-sale (README Performance, items 17 and 19).

asyncio's own slow-callback warning needs debug mode, which slows every callback;
this costs one wake-up of a sleeping thread and one tiny task per interval. Off by
default (`LOOP_STALL_LOG_MS=0`); `make bench onsale` turns it on for its server, and its
log digest counts the stalls by where they were.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
import time
import traceback

log = logging.getLogger("boxoffice.stalls")

FRAMES = 16  # innermost frames logged per stall


class LoopWatchdog:
    def __init__(self, threshold_ms: int) -> None:
        self.threshold = threshold_ms / 1000
        self.stalls = 0  # stalls logged (for tests)
        self._beat = 0.0
        self._loop_thread: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    async def on_startup(self) -> None:
        if self.threshold <= 0:
            return
        self._loop_thread = threading.get_ident()
        self._beat = time.monotonic()
        self._stop.clear()
        self._task = asyncio.create_task(self._heartbeat(), name="loop-watchdog")
        self._thread = threading.Thread(target=self._watch, name="loop-watchdog", daemon=True)
        self._thread.start()

    async def on_shutdown(self) -> None:
        self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 1.0)
            self._thread = None

    async def _heartbeat(self) -> None:
        interval = self.threshold / 4
        while True:
            self._beat = time.monotonic()
            await asyncio.sleep(interval)

    def _watch(self) -> None:
        reported = False
        while not self._stop.wait(self.threshold / 4):
            age = time.monotonic() - self._beat
            if age <= self.threshold:
                reported = False
            elif not reported:
                reported = True
                self._report(age)

    def _report(self, age: float) -> None:
        frame = sys._current_frames().get(self._loop_thread or 0)
        if frame is None:
            return
        stack = traceback.extract_stack(frame)
        # The import machinery's own frames say only that a module is being imported
        # (a lazy import on a request's path): kept out, so the frames shown are the
        # modules being imported and the code that imported them.
        ours = [f for f in stack if not f.filename.startswith("<frozen importlib")]
        importing = "importing: " if len(ours) < len(stack) else ""
        where = importing + " | ".join(
            f"{_short(f.filename)}:{f.lineno} {f.name}" for f in ours[-FRAMES:][::-1]
        )
        self.stalls += 1
        log.warning("event loop stalled %d ms so far in: %s", age * 1000, where)


def _short(filename: str) -> str:
    """A path from the package (or site-packages) down: enough to find the line."""
    for marker in ("site-packages/", "/backend/", "/lib/python"):
        at = filename.rfind(marker)
        if at >= 0:
            return filename[at + len(marker) :] if marker != "/backend/" else filename[at + 1 :]
    return filename
