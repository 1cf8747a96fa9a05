"""Framing between the parent and the fork-server: length-prefixed messages on raw pipe fds.

Parent -> server: pickled request dicts (the parent is trusted).
Server -> parent: a JSON header frame, then the child's raw result bytes as one more frame.
The child's bytes are JSON written by untrusted code's process, so the parent only ever
`json.loads` them, never unpickles them.
"""
from __future__ import annotations

import os
import select
import struct
import time

LENGTH = struct.Struct("!I")
MAX_FRAME = 1 << 30
GRACE_S = 0.5           # the child's own alarm fires at timeout_s; the SIGKILL comes this much later
GRACE_FRACTION = 0.1


def kill_deadline(timeout_s: float) -> float:
    """Seconds after the fork at which the server SIGKILLs a child's process group."""
    return timeout_s + GRACE_S + GRACE_FRACTION * timeout_s


class ProtocolError(RuntimeError):
    """The other side closed the pipe or sent a malformed frame."""


def frame(payload: bytes) -> bytes:
    return LENGTH.pack(len(payload)) + payload


def read_exact(fd: int, n: int) -> bytes:
    """Read exactly `n` bytes from a blocking fd; ProtocolError on EOF."""
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise ProtocolError("pipe closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> bytes:
    (n,) = LENGTH.unpack(read_exact(fd, LENGTH.size))
    if n > MAX_FRAME:
        raise ProtocolError(f"frame of {n} bytes is over the {MAX_FRAME} byte limit")
    return read_exact(fd, n)


def write_all(fd: int, data: bytes, timeout_s: float | None = None) -> None:
    """Write all of `data` to `fd`; with a timeout, wait for writability at most that long.

    With a timeout the fd should be non-blocking. Raises TimeoutError when the reader does not
    drain the pipe in time.
    """
    view = memoryview(data)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while view:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [fd], [], left)[1]:
                raise TimeoutError(f"pipe not drained within {timeout_s}s")
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            continue
        view = view[n:]


class FrameBuffer:
    """Collects bytes from a non-blocking reader and yields the complete frames."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out = []
        while len(self._buf) >= LENGTH.size:
            (n,) = LENGTH.unpack_from(self._buf)
            if len(self._buf) < LENGTH.size + n:
                break
            out.append(bytes(self._buf[LENGTH.size:LENGTH.size + n]))
            del self._buf[:LENGTH.size + n]
        return out
