"""A real statehub server in a child process, for tests (needs the ``server`` extra).

>>> with ServerProcess("sqlite:///team.db") as server:  # doctest: +SKIP
...     hub = statehub.open(f"{server.base_url}?hub=run-1", token=server.admin_token)
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from types import TracebackType

import httpx

from statehub.opening import open as open_hub
from statehub.server.tokens import create_token

__all__ = ["ServerProcess"]

_STARTUP_SECONDS = 30.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ServerProcess:
    """``statehub serve`` (the command itself) on a free loopback port, serving the storage of ``url``.

    ``url`` must be storage both processes reach (a file, PostgreSQL): the tokens
    are made here, before the server starts.

    Attributes:
        url: the storage URL the server serves.
        base_url: where it listens, e.g. ``http://127.0.0.1:40123``.
        admin_token: an admin token, made before the server starts.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.admin_token = self.token("operator", admin=True)
        self._process: subprocess.Popen[bytes] | None = None

    def token(self, agent: str, *, admin: bool = False) -> str:
        """A new token for ``agent``, made in the server's storage directly."""
        with open_hub(self.url) as hub:
            return create_token(hub, agent, admin=admin)

    def start(self) -> None:
        """Start the server and wait until it answers ``/health``."""
        command = [sys.executable, "-m", "statehub", "serve", "--url", self.url]
        command += ["--port", str(self.port), "--log-level", "warning"]
        self._process = subprocess.Popen(command)
        deadline = time.monotonic() + _STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the server exited with {self._process.returncode}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.02)  # polling a port that is not open yet: nothing to await
        self.stop()
        raise RuntimeError(f"the server did not answer within {_STARTUP_SECONDS} s")

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

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
