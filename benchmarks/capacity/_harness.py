"""What the capacity benchmarks share: a free port, waiting for a server, the stack of ``scripts/stack.sh``, and a
process's CPU from ``/proc``. Used by ``run.py``, ``pipeline.py`` and ``benchmarks/bench_request_cpu.py``.

Standard library only: ``run.py`` monkey-patches with gevent before it imports anything else (``time.sleep`` is then
gevent's, so waiting here does not block its load generator).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STACK_SH = ROOT / "scripts" / "stack.sh"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    check: Callable[[], object],
    what: str,
    *,
    label: str,
    timeout: float = 60,
    errors: tuple[type[BaseException], ...] = (Exception,),
) -> None:
    """Call ``check`` every 0.3 s until it returns something true; ``errors`` it raises mean "not up yet".

    Raises:
        SystemExit: naming ``what`` when ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except errors:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{label}: {what} not ready after {timeout}s")


def stack(
    *args: str, env: Mapping[str, str] | None = None, prefix: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """Run ``scripts/stack.sh ARGS`` (``prefix`` e.g. ``taskset -c 1``), output captured, never raising."""
    return subprocess.run(
        [*prefix, str(STACK_SH), *args], capture_output=True, text=True, env=None if env is None else dict(env),
        check=False,
    )


def stack_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The running stack's ``NAME=value`` lines (``scripts/stack.sh env``)."""
    text = stack("env", env=env).stdout
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))


def ensure_stack(label: str, env: Mapping[str, str] | None = None) -> tuple[dict[str, str], bool]:
    """The stack's env, starting the stack first if it is not running; True when this call started it (and so the
    caller stops it)."""
    running = stack("status", env=env).returncode == 0
    if not running:
        print(f"{label}: starting the stack (scripts/stack.sh up)", flush=True)
        done = stack("up", env=env)
        if done.returncode != 0:
            raise SystemExit(f"{label}: scripts/stack.sh up failed:\n{done.stderr[-3000:]}")
    return stack_env(env), not running


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU of every thread of ``pid`` (``/proc/<pid>/stat`` fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
