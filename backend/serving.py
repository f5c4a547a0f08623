"""Serving WORKERS processes: uvicorn's supervisor, each worker on its own listening socket.

uvicorn's `workers` mode binds one socket in the parent and every worker accepts from it.
A worker that wakes takes everything queued (uvloop accepts until the queue is empty), so
a burst of connections lands mostly on one worker: 200 opened at once against 2 workers
split 101-156 / 99-44 (median 113, at least 127 in 10 of 28 bursts; README Performance
item 29), and a hot seat's 200 requests then queue on one worker's CPU while the other
idles. Here each worker binds its own socket with SO_REUSEPORT and the kernel spreads new
connections over the sockets by a hash of each connection's addresses and ports.

What else changes, and what is done about it:

* Linux lets any process of the same user join a SO_REUSEPORT port, so a second server
  started on the same port by mistake would share it silently instead of failing to bind.
  `check_port_free` binds the port without SO_REUSEPORT first (which fails while anything
  listens there), and `serve` stops with a clear message if it cannot.
* Connections a worker's socket has queued but not accepted go with it when the worker
  dies (reset), where a shared socket left them to the other worker; Linux 5.14+ hands
  them to the other sockets instead with `net.ipv4.tcp_migrate_req = 1` (a host setting;
  off by default). Connections it had accepted are lost either way, as before.
* uvicorn's supervisor is kept (it restarts a dead worker, pings the live ones, forwards
  signals, replaces them on SIGHUP). It builds every worker with its module's `Process`
  and has no hook for another class, so `serve` sets that name to `ReusePortWorker` in the
  supervising process, which does nothing else (instead of copying the supervisor).
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import multiprocess

log = logging.getLogger("boxoffice.serving")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn's own bind


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port with SO_REUSEPORT (each worker's own); uvicorn listens
    on it with the configured backlog."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def check_port_free(host: str, port: int) -> None:
    """Raise OSError if anything (this server's earlier run, another program) listens on
    host:port: bound without SO_REUSEPORT, this fails where a worker's bind would not."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))


class ReusePortWorker(multiprocess.Process):
    """uvicorn's worker process, serving its own SO_REUSEPORT socket instead of the
    parent's (runs in the child)."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:
        config = self.config
        try:
            sock = listening_socket(config.host, config.port)
        except OSError as exc:
            log.error("cannot listen on %s:%s: %s", config.host, config.port, exc)
            # The supervisor stops instead of restarting a worker that cannot start.
            sys.exit(STARTUP_FAILURE)
        super().target([sock])


def serve(app: str, **options: Any) -> None:
    """uvicorn.run(app, **options) for workers > 1, each worker on its own socket. The
    caller has checked the port (`check_port_free`)."""
    app_dir = options.pop("app_dir", None)
    if app_dir is not None:
        sys.path.insert(0, app_dir)  # as uvicorn.run
    config = uvicorn.Config(app, **options)
    multiprocess.Process = ReusePortWorker  # type: ignore[misc]  # see the module's notes
    supervisor = multiprocess.Multiprocess(config, sockets=[])
    supervisor.run()
    if any(worker.exitcode == STARTUP_FAILURE for worker in supervisor.processes):
        sys.exit(STARTUP_FAILURE)  # uvicorn.run would return as if all went well
