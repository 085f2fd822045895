"""Watch as Server-Sent Events, against a real server process and a real HTTP client."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

import statehub
from statehub.server import create_token, revoke_token
from tests.server_support import LiveServer, bearer, error_of


@dataclass
class Event:
    """One SSE event: its id (``None`` if it carried none) and its data, decoded."""

    id: str | None
    data: dict[str, Any]


@dataclass
class Server:
    """A live server and the tokens of its agents."""

    url: str
    base_url: str
    tokens: dict[str, str]
    log: Path

    def headers(self, agent: str) -> dict[str, str]:
        return bearer(self.tokens[agent])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("watch")
    url = f"sqlite:///{folder / 'hub.db'}"
    with statehub.open(url) as hub:
        tokens = {name: create_token(hub, name) for name in ("alice", "bob")}
    with LiveServer(url, folder / "server.log") as live:
        yield Server(url, live.base_url, tokens, live.log)


def write_in_another_process(url: str, agent: str, writes: dict[str, Any]) -> int:
    """Commit ``writes`` as one transaction from a separate OS process; its revision."""
    script = (
        "import sys, orjson, statehub\n"
        "with statehub.open(sys.argv[1]) as hub:\n"
        "    with hub.agent(sys.argv[2]).transaction() as tx:\n"
        "        for key, value in orjson.loads(sys.argv[3]).items():\n"
        "            tx.put(key, value)\n"
        "    print(tx.revision)\n"
    )
    argv = [sys.executable, "-c", script, url, agent, orjson.dumps(writes).decode()]
    done = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30)
    return int(done.stdout)


def read_events(response: httpx.Response, count: int) -> list[Event]:
    """The next ``count`` change events of a stream (heartbeat comments skipped)."""
    events: list[Event] = []
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line == "":
            if "data" in fields:
                events.append(Event(fields.get("id"), orjson.loads(fields["data"])))
                if len(events) == count:
                    return events
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value
    raise AssertionError(f"the stream ended after {len(events)} events")


def head(server: Server) -> int:
    response = httpx.get(f"{server.base_url}/v1/revision", headers=server.headers("alice"))
    revision: int = response.json()["revision"]
    return revision


def watch(server: Server, agent: str, **params: Any) -> Any:
    headers = {**server.headers(agent), **params.pop("headers", {})}
    return httpx.stream(
        "GET", f"{server.base_url}/v1/watch", params=params, headers=headers, timeout=20
    )


def test_a_change_by_another_process_is_streamed(server: Server) -> None:
    since = head(server)
    with watch(server, "alice", prefix="global/", since=since) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        revision = write_in_another_process(server.url, "bob", {"global/findings": "5 trends"})
        [event] = read_events(response, 1)
    assert event.id == str(revision)
    assert event.data["key"] == "global/findings"
    assert event.data["agent"] == "bob"
    assert event.data["revision"] == revision


def test_ids_mark_whole_revisions_and_resuming_skips_nothing(server: Server) -> None:
    since = head(server)
    first = write_in_another_process(server.url, "bob", {"global/r/a": 1, "global/r/b": 2})
    second = write_in_another_process(server.url, "bob", {"global/r/c": 3})
    with watch(server, "alice", prefix="global/r/", since=since) as response:
        events = read_events(response, 2)
    assert [(e.id, e.data["key"]) for e in events] == [
        (None, "global/r/a"),
        (str(first), "global/r/b"),
    ]
    third = write_in_another_process(server.url, "bob", {"global/r/d": 4})
    resume = {"Last-Event-ID": events[-1].id or ""}
    with watch(server, "alice", prefix="global/r/", headers=resume) as response:
        rest = read_events(response, 2)
    assert [(e.id, e.data["key"]) for e in rest] == [
        (str(second), "global/r/c"),
        (str(third), "global/r/d"),
    ]


def test_a_watch_sees_only_what_its_agent_may(server: Server) -> None:
    since = head(server)
    with watch(server, "alice", prefix="agent/", since=since) as response:
        write_in_another_process(server.url, "bob", {"agent/bob/secret": "x"})
        mine = write_in_another_process(server.url, "alice", {"agent/alice/notes": "y"})
        [event] = read_events(response, 1)
    assert (event.id, event.data["key"]) == (str(mine), "agent/alice/notes")
    with watch(server, "alice", prefix="agent/bob/") as refused:
        refused.read()
        assert refused.status_code == 403
        assert error_of(refused)["type"] == "AccessDenied"
    with watch(server, "alice", headers={"Authorization": "Bearer nope"}) as anonymous:
        anonymous.read()
        assert anonymous.status_code == 401


def test_many_watchers_do_not_starve_the_server(server: Server) -> None:
    since = head(server)
    watchers = 24  # more than the watch limiter's threads, and than uvicorn's usual needs

    def follow(_: int) -> str:
        with watch(server, "alice", prefix="global/many", since=since) as response:
            [event] = read_events(response, 1)
            return str(event.data["key"])

    with ThreadPoolExecutor(watchers) as pool:
        futures = [pool.submit(follow, n) for n in range(watchers)]
        quick = httpx.get(
            f"{server.base_url}/v1/keys/global/findings", headers=server.headers("alice"), timeout=5
        )
        assert quick.status_code in (200, 404)
        write_in_another_process(server.url, "bob", {"global/many": 1})
        assert [future.result(timeout=30) for future in futures] == ["global/many"] * watchers
    after = httpx.get(f"{server.base_url}/health", timeout=5)
    assert after.status_code == 200


def test_the_access_log_never_carries_a_token(server: Server) -> None:
    httpx.get(f"{server.base_url}/v1/scan", headers=server.headers("alice"))
    log = server.log.read_text()
    assert "GET /v1/scan" in log
    for token in server.tokens.values():
        assert token not in log
        assert token.split("_")[2] not in log


def read_until_idle(response: httpx.Response) -> list[dict[str, Any]]:
    """The data of every change event sent before the stream's first idle heartbeat."""
    seen: list[dict[str, Any]] = []
    for line in response.iter_lines():
        if line.startswith("data: "):
            seen.append(orjson.loads(line.removeprefix("data: ")))
        elif line == ": idle":
            return seen
    raise AssertionError("the stream ended")


@pytest.mark.parametrize("prefix", ["", "agent/", "agent/b"])
def test_watching_everything_from_the_start_hides_other_agents_keys(
    server: Server, prefix: str
) -> None:
    write_in_another_process(server.url, "bob", {"agent/bob/diary": "TOPSECRET"})
    mine = write_in_another_process(server.url, "alice", {"agent/alice/diary": "mine"})
    with watch(server, "alice", prefix=prefix, since=0) as response:
        seen = read_until_idle(response)
    assert all(not change["key"].startswith("agent/bob/") for change in seen)
    assert all(not change["key"].startswith("_") for change in seen)
    assert "TOPSECRET" not in orjson.dumps(seen).decode()
    if prefix != "agent/b":
        assert mine in [change["revision"] for change in seen]


def test_streams_end_and_free_their_threads_when_clients_go(tmp_path: Path) -> None:
    import threading

    import uvicorn

    from statehub.server.app import create_app

    with statehub.open(f"sqlite:///{tmp_path / 'hub.db'}") as hub:
        token = create_token(hub, "alice")
        app = create_app(hub, watch_step=0.1, watch_threads=4)
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
        server = uvicorn.Server(config)
        runner = threading.Thread(target=server.run)
        runner.start()
        try:
            while not server.started:  # uvicorn offers no event to await
                runner.join(0.01)
            port = server.servers[0].sockets[0].getsockname()[1]
            url = f"http://127.0.0.1:{port}/v1/watch"
            entered = threading.Barrier(13)
            open_streams: list[int] = []

            def open_and_leave(_: int) -> None:
                with httpx.stream("GET", url, headers=bearer(token), timeout=10) as response:
                    lines = response.iter_lines()  # kept: dropping it would close the stream
                    next(lines)  # the stream is up
                    entered.wait(10)
                    entered.wait(10)  # the main thread has counted: now go away

            with ThreadPoolExecutor(12) as pool:
                left = pool.map(open_and_leave, range(12))
                entered.wait(10)
                open_streams.append(app.state.watch_streams)
                entered.wait(10)
                list(left)
            deadline = time.monotonic() + 10
            while app.state.watch_streams and time.monotonic() < deadline:
                runner.join(0.05)  # the server notices each departure at its next write
            assert open_streams == [12]
            assert app.state.watch_streams == 0
            assert app.state.watch_limiter.borrowed_tokens == 0
        finally:
            server.should_exit = True
            runner.join(10)


def test_a_stream_ends_when_its_token_is_revoked(server: Server) -> None:
    with statehub.open(server.url) as hub:
        token = create_token(hub, "carol")
    since = head(server)
    stream = httpx.stream(
        "GET",
        f"{server.base_url}/v1/watch",
        params={"prefix": "global/", "since": since},
        headers=bearer(token),
        timeout=20,
    )
    with stream as response:
        assert response.status_code == 200
        with statehub.open(server.url) as hub:
            revoke_token(hub, token[5:21])
        write_in_another_process(server.url, "bob", {"global/after-revocation": 1})
        lines = list(response.iter_lines())  # the server ends the stream
    assert ": token revoked" in lines
    assert not [line for line in lines if "after-revocation" in line]
