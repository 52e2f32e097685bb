"""Loopback helpers shared by tests that start servers in subprocesses."""

from __future__ import annotations

import socket
import subprocess
import time
from typing import Any


def free_port() -> int:
    """A TCP port nothing listens on right now, on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[Any], timeout: float = 30) -> None:
    """Wait until something accepts connections on ``port``; fail early, with its stderr, if ``proc`` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.poll() is not None:
                _, err = proc.communicate()  # reads stderr to the end and closes the pipes
                if isinstance(err, bytes):
                    err = err.decode(errors="replace")
                detail = f"server exited with {proc.returncode} before listening on {port}: {err or ''}"
                raise RuntimeError(detail) from None
            time.sleep(0.1)
    proc.kill()  # the caller never gets to stop a server that never listened: do not leave it running
    stop(proc)
    raise TimeoutError(f"nothing listens on {port} after {timeout}s")


def stop(proc: subprocess.Popen[Any], timeout: float = 15) -> None:
    """Terminate ``proc`` (kill it after ``timeout`` seconds), reap it and close its pipes.

    ``terminate()`` + ``wait()`` alone leaves the ``stdout``/``stderr`` pipes open until the garbage collector finds
    them, and a killed process never waited for stays a zombie: both are ResourceWarnings, which the test suite turns
    into errors (pyproject.toml). ``communicate()`` drains and closes the pipes and waits.
    """
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
