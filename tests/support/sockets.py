"""Which process holds which TCP socket on a port: read from /proc (Linux), no `ss`."""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

LISTEN = "0A"
ESTABLISHED = "01"


def socket_inodes(port: int, state: str) -> set[int]:
    """Inodes of the local TCP sockets on `port` in `state` (IPv4 and IPv6 tables)."""
    found: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port == port and fields[3] == state:
                    found.add(int(fields[9]))
    return found


def owners(inodes: set[int], pids: Iterable[int]) -> dict[int, int]:
    """{inode: pid} for the inodes among `pids`' open file descriptors."""
    owned: dict[int, int] = {}
    for pid in pids:
        fds = Path(f"/proc/{pid}/fd")
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            for fd in os.listdir(fds):
                with contextlib.suppress(FileNotFoundError):
                    target = os.readlink(fds / fd)
                    if target.startswith("socket:["):
                        inode = int(target[8:-1])
                        if inode in inodes:
                            owned[inode] = pid
    return owned


def listening(port: int, pids: Iterable[int]) -> Counter[int]:
    """How many listening sockets on `port` each of `pids` holds."""
    return Counter(owners(socket_inodes(port, LISTEN), pids).values())


def accepted(port: int, pids: Iterable[int]) -> Counter[int]:
    """How many established connections on `port` (server side) each of `pids` holds."""
    return Counter(owners(socket_inodes(port, ESTABLISHED), pids).values())
