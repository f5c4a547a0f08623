"""backend/serving.py's sockets: each worker's own SO_REUSEPORT socket, the plain check
that keeps a second server off the port, and a worker that cannot bind stopping."""

from __future__ import annotations

import socket

import pytest
import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import multiprocess

from backend.serving import ReusePortWorker, check_port_free, listening_socket


def test_workers_sockets_share_a_port_and_the_check_then_refuses_it() -> None:
    first = listening_socket("127.0.0.1", 0)
    port = first.getsockname()[1]
    second = listening_socket("127.0.0.1", port)
    try:
        assert first.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        first.listen()
        second.listen()  # two workers, one port
        with pytest.raises(OSError):
            check_port_free("127.0.0.1", port)
    finally:
        first.close()
        second.close()
    check_port_free("127.0.0.1", port)  # free again once they are closed


def test_a_worker_that_cannot_bind_stops_with_uvicorns_startup_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not restarted over and over by the supervisor: uvicorn's Multiprocess stops when a
    worker exits with STARTUP_FAILURE."""

    def serves(self: object, sockets: object = None) -> None:
        raise AssertionError(f"a server was started on {sockets}")

    monkeypatch.setattr(multiprocess.Process, "target", serves)
    with socket.socket() as plain:
        plain.bind(("127.0.0.1", 0))
        plain.listen()
        config = uvicorn.Config("backend.app:create_served_app", port=plain.getsockname()[1])
        worker = ReusePortWorker(config, [])
        with pytest.raises(SystemExit) as stopped:
            worker.target()  # in this process: it fails before any server starts
        assert stopped.value.code == STARTUP_FAILURE
