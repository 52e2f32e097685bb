"""Loopback helpers shared by tests that start servers in subprocesses."""

from __future__ import annotations

import socket
import subprocess
import time


def free_port() -> int:
    """A TCP port nothing listens on right now, on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Wait until something accepts connections on ``port``; fail early, with its stderr, if ``proc`` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}: {err}") from None
            time.sleep(0.1)
    proc.kill()  # the caller never gets to stop a server that never listened: do not leave it running
    proc.wait(timeout=10)
    raise TimeoutError(f"nothing listens on {port} after {timeout}s")
