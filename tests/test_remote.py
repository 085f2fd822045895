"""The remote client against a real server process: what the conformance suite cannot say.

The suite itself runs on ``remote`` and ``remote-async`` hubs (see conftest.py);
these tests cover opening by URL and token, agent tokens, and client-side reducers
racing in several processes.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import httpx
import pytest

import statehub
from statehub.testing.server import ServerProcess
from tests.conftest import remote_url, shared_server

_CTX = multiprocessing.get_context("spawn")


def test_a_server_url_needs_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STATEHUB_TOKEN", raising=False)
    with pytest.raises(statehub.InvalidArgument, match="STATEHUB_TOKEN"):
        statehub.open(remote_url())


def test_the_token_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATEHUB_TOKEN", shared_server().admin_token)
    with statehub.open(remote_url()) as hub:
        assert hub.agent("alice").put("global/x", 1).version == 1


def test_a_bad_token_is_refused_at_open() -> None:
    with pytest.raises(statehub.Unauthenticated, match="refused the token"):
        statehub.open(remote_url(), token="shub_0123456789abcdef_not-a-token")


def test_without_a_hub_name_the_servers_own_hub_is_used() -> None:
    server = shared_server()
    with statehub.open(server.base_url, token=server.admin_token) as hub:
        assert hub.name == "default"
    with statehub.open(f"{server.base_url}?hub=team", token=server.admin_token) as hub:
        assert hub.name == "team"


def test_an_agent_token_acts_as_its_agent_only() -> None:
    url = remote_url()
    server = shared_server()
    with statehub.open(url, token=server.admin_token) as admin_hub:
        admin_hub.agent("bob").put("agent/bob/notes", "private")
        admin_hub.agent("bob").put("global/plan", "shared")
    with statehub.open(url, token=server.token("alice")) as hub:
        alice = hub.agent("alice")
        assert alice.put("global/status", "ok").updated_by == "alice"
        with pytest.raises(statehub.AccessDenied, match="acts as 'alice'"):
            hub.agent("bob").put("global/status", "forged")
        # Hub-wide reads show what alice may see, and nothing of bob's private keys.
        assert {change.key for change in hub.history()} == {"global/plan", "global/status"}
        assert "agent/bob/notes" not in str(hub.diff(0, "head").render())
        with pytest.raises(statehub.AccessDenied, match="admin token"):
            hub.export(Path("/dev/null"), history=True)


def test_an_unreachable_server_is_backend_unavailable(tmp_path: Path) -> None:
    server = ServerProcess(f"sqlite:///{tmp_path / 'server.db'}")
    with server:
        hub = statehub.open(server.base_url, token=server.admin_token, busy_timeout=0.5)
        hub.agent("alice").put("global/x", 1)
    with pytest.raises(statehub.BackendUnavailable):
        hub.agent("alice").get("global/x")
    hub.close()


def _append_here(state: Any, action: Any) -> list[Any]:
    """A reducer of this module: it cannot run on the server, so the client runs it."""
    return [*(state or []), action]


def _dispatch_worker(index: int, url: str, token: str, times: int) -> None:
    with statehub.open(url, token=token) as hub:
        agent = hub.agent(f"p{index}")
        for n in range(times):
            agent.dispatch("global/log", [index, n], reducer=_append_here)


def test_client_side_reducers_in_several_processes_lose_nothing() -> None:
    url, token, times = remote_url(), shared_server().admin_token, 25
    processes = [
        _CTX.Process(target=_dispatch_worker, args=(i, url, token, times)) for i in range(3)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [process.exitcode for process in processes] == [0, 0, 0]
    with statehub.open(url, token=token) as hub:
        log = hub.agent("reader").get("global/log")
        assert sorted(map(tuple, log)) == [(i, n) for i in range(3) for n in range(times)]
        for i in range(3):  # each process's own entries stay in its order
            assert [n for j, n in log if j == i] == list(range(times))
        changes = hub.history(key="global/log")
        assert len(changes) == 3 * times
        assert {change.cause["reducer"] for change in changes} == {"_append_here"}


def test_the_rest_api_serves_the_same_hubs_by_name() -> None:
    server = shared_server()
    url = remote_url()
    name = url.rsplit("hub=", 1)[1]
    with statehub.open(url, token=server.admin_token) as hub:
        hub.agent("alice").put("global/doc", {"title": "Draft"})
    headers = {"authorization": f"Bearer {server.admin_token}"}
    named = httpx.get(f"{server.base_url}/v1/keys/global/doc?hub={name}", headers=headers)
    assert (named.status_code, named.json()) == (200, {"title": "Draft"})
    home = httpx.get(f"{server.base_url}/v1/keys/global/doc", headers=headers)
    assert home.status_code == 404
