"""A real statehub server in a child process, for tests (needs the ``server`` extra).

>>> with ServerProcess("sqlite:///team.db") as server:  # doctest: +SKIP
...     hub = statehub.open(f"{server.base_url}?hub=run-1", token=server.admin_token)
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from statehub.opening import open as open_hub
from statehub.server.tokens import create_token

__all__ = ["ServerProcess", "free_port"]

_STARTUP_SECONDS = 30.0


def free_port() -> int:
    """A TCP port free on the loopback interface now (the system's choice)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ServerProcess:
    """The ``statehub serve`` command itself on a free loopback port, serving ``url``.

    ``url`` must be storage both processes reach (a file, PostgreSQL): the tokens
    are made here, before the server starts.

    Args:
        url: the storage URL the server serves.
        log: a file for the server's output (stdout and stderr); ``None``: this
            process's own.
        log_level: the server's ``--log-level`` (``info`` logs every request).
        program: the command run in place of ``python -m statehub serve``; it is
            given the same options (``--url``, ``--port``, ``--log-level``).

    Attributes:
        url: the storage URL the server serves.
        port: the port it listens on.
        base_url: where it listens, e.g. ``http://127.0.0.1:40123``.
        log: the file its output goes to, or ``None``.
        admin_token: an admin token, made before the server starts.
    """

    def __init__(
        self,
        url: str,
        *,
        log: Path | None = None,
        log_level: str = "warning",
        program: Sequence[str] | None = None,
    ) -> None:
        self.url = url
        self.log = log
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._program = [sys.executable, "-m", "statehub", "serve"] if program is None else program
        self._log_level = log_level
        self.admin_token = self.token("operator", admin=True)
        self._process: subprocess.Popen[bytes] | None = None

    def token(self, agent: str, *, admin: bool = False) -> str:
        """A new token for ``agent``, made in the server's storage directly."""
        with open_hub(self.url) as hub:
            return create_token(hub, agent, admin=admin)

    def start(self) -> None:
        """Start the server and wait until it answers ``/health``."""
        command = [*self._program, "--url", self.url, "--port", str(self.port)]
        command += ["--log-level", self._log_level]
        if self.log is None:
            self._process = subprocess.Popen(command)
        else:
            with self.log.open("wb") as out:
                self._process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + _STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                code = self._process.returncode
                raise RuntimeError(f"the server exited with {code}{self._output()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.02)  # polling a port that is not open yet: nothing to await
        self.stop()
        raise RuntimeError(f"the server did not answer within {_STARTUP_SECONDS} s{self._output()}")

    def _output(self) -> str:
        """What the server wrote to its log, to explain a failed start ('' without a log)."""
        if self.log is None:
            return ""
        return f": {self.log.read_text(errors='replace')}"

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
