"""The command line: export, import, compact (with progress), locks, tasks, inbox, tokens."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

import statehub
from statehub.cli import exchange
from statehub.server import authenticate
from tests.test_cli import TERMINAL, data, run


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hub.db'}"


def fill(url: str, revisions: int) -> None:
    """``revisions`` commits to a few keys, with a checkpoint half way."""
    with statehub.open(url) as hub:
        agent = hub.agent("filler")
        for n in range(1, revisions + 1):
            agent.put(f"global/k{n % 5}", n)
            if n == revisions // 2:
                agent.checkpoint("half")


# -- export and import ----------------------------------------------------------------


def test_export_with_history_then_import_reproduces_the_hub(url: str, tmp_path: Path) -> None:
    fill(url, 20)
    backup = tmp_path / "backup.json"
    exported = data(run(url, "export", str(backup), "--history", "--json"))
    assert exported == {"file": str(backup), "revision": 21, "history": True}
    copy = f"sqlite:///{tmp_path / 'copy.db'}"
    assert (
        run(copy, "import", str(backup)).stdout == f"imported {backup}: the hub is at revision 21\n"
    )
    assert (
        run(copy, "history", "--json", "--all").stdout
        == run(url, "history", "--json", "--all").stdout
    )
    assert data(run(copy, "checkpoint", "list", "--json")) == data(
        run(url, "checkpoint", "list", "--json")
    )


def test_a_state_only_import_is_one_commit_by_the_agent(url: str, tmp_path: Path) -> None:
    fill(url, 7)
    state = tmp_path / "state.json"
    run(url, "export", str(state))
    copy = f"sqlite:///{tmp_path / 'copy.db'}"
    run(copy, "import", str(state), "--agent", "restorer")
    changes = data(run(copy, "history", "--json"))
    assert {(c["revision"], c["agent"], c["op"]) for c in changes} == {(1, "restorer", "import")}
    assert data(run(copy, "scan", "--json")) != []


def test_a_corrupt_file_is_refused_and_nothing_is_written(url: str, tmp_path: Path) -> None:
    fill(url, 3)
    state = tmp_path / "state.json"
    run(url, "export", str(state))
    document = orjson.loads(state.read_bytes())
    document["entries"][0]["key"] = "nowhere/x"
    state.write_bytes(orjson.dumps(document))
    copy = f"sqlite:///{tmp_path / 'copy.db'}"
    refused = run(copy, "import", str(state), code=1)
    assert refused.stderr.startswith("error: ")
    assert refused.stderr.count("\n") == 1
    with statehub.open(copy) as hub:
        assert hub.revision == 0
    run(url, "import", str(state.with_name("missing.json")), code=2)  # no such file: usage
    again = tmp_path / "again.json"
    run(url, "export", str(again))
    assert "empty hub" in run(url, "import", str(again), code=1).stderr


def test_export_and_import_show_progress_on_a_terminal_only(url: str, tmp_path: Path) -> None:
    fill(url, 5)
    shown = run(url, "export", str(tmp_path / "a.json"), env=TERMINAL)
    assert "exporting to" in shown.stderr
    assert re.search(r"(?<!\d)5/5(?!\d)", shown.stderr)  # a bar over the rows written
    piped = run(url, "export", str(tmp_path / "b.json"))
    assert piped.stderr == ""
    copy = f"sqlite:///{tmp_path / 'copy.db'}"
    checked = run(copy, "import", str(tmp_path / "a.json"), env=TERMINAL).stderr
    assert "checking" in checked
    assert re.search(r"(?<!\d)5/5(?!\d)", checked)
    quiet = run(url, "export", str(tmp_path / "c.json"), "--json", env=TERMINAL)
    assert quiet.stderr == ""


# -- compact -----------------------------------------------------------------------------


def test_compact_before_a_checkpoint_drops_older_history(url: str) -> None:
    fill(url, 40)
    result = data(run(url, "compact", "--before", "half", "--json"))
    assert result["dropped"] > 0
    assert result["oldest_revision"] >= 15
    assert run(url, "history", "--since", "1", code=1).stderr.startswith(
        "error: revision 1 was compacted away"
    )
    assert run(url, "get", "global/k0", "--at", "half").exit_code == 0


def test_compact_older_than_an_age(url: str) -> None:
    fill(url, 30)
    assert data(run(url, "compact", "--older-than", "1h", "--json"))["dropped"] == 0
    assert data(run(url, "compact", "--older-than", "0s", "--json"))["dropped"] > 0


def test_compact_needs_exactly_one_of_its_options(url: str) -> None:
    assert "one of --before and --older-than" in run(url, "compact", code=2).stderr
    run(url, "compact", "--before", "1", "--older-than", "1d", code=2)
    run(url, "compact", "--older-than", "soon", code=2)


def test_compaction_in_steps_with_a_bar_drops_what_one_call_drops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stepped, whole = (f"sqlite:///{tmp_path / name}" for name in ("stepped.db", "whole.db"))
    fill(stepped, 120)
    fill(whole, 120)
    monkeypatch.setattr(exchange, "COMPACTION_STEP", 10)
    calls: list[int | str | None] = []
    compact = statehub.Hub.compact

    def counted(hub: statehub.Hub, before: int | str | None = None, **kwargs: float) -> int:
        calls.append(before)
        return compact(hub, before, **kwargs)

    monkeypatch.setattr(statehub.Hub, "compact", counted)
    with_bar = run(stepped, "compact", "--before", "100", env=TERMINAL)
    assert "compacting" in with_bar.stderr
    assert "100/100" in with_bar.stderr
    assert calls == list(range(10, 101, 10))
    calls.clear()
    without = run(whole, "compact", "--before", "100")
    assert without.stderr == ""
    assert calls == [100]
    assert with_bar.stdout == without.stdout
    for point in ("99", "half", "head"):
        assert run(stepped, "scan", "--at", point, "--json").stdout == (
            run(whole, "scan", "--at", point, "--json").stdout
        )

    def kept(url: str) -> list[tuple[int, str]]:
        return [(c["revision"], c["key"]) for c in data(run(url, "history", "--json"))]

    assert kept(stepped) == kept(whole)
    assert len(kept(stepped)) < 120


# -- locks, tasks, inbox ------------------------------------------------------------------


def test_locks_lists_the_holder_and_fence(url: str) -> None:
    with statehub.open(url) as hub:
        lease = hub.agent("coordinator").lock("global/plan", ttl=60)
        held = data(run(url, "locks", "--json"))
        assert held == [
            {
                "key": "global/plan",
                "holder": "coordinator",
                "fence": lease.fence,
                "expires_at": held[0]["expires_at"],
                "expires_ts": lease.expires_ts,
            }
        ]
        rows = run(url, "locks").stdout.splitlines()
        assert rows[1].split("\t")[:3] == ["global/plan", "coordinator", str(lease.fence)]
        lease.release()
    assert data(run(url, "locks", "--json")) == []


def test_tasks_lists_by_status(url: str) -> None:
    with statehub.open(url) as hub:
        coordinator, researcher = hub.agent("coordinator"), hub.agent("researcher")
        first = coordinator.tasks.create("Research AI trends")
        coordinator.tasks.create("Write the report")
        researcher.tasks.claim(first.id, lease=60)
    everything = data(run(url, "tasks", "--json"))
    assert [(t["title"], t["status"]) for t in everything] == [
        ("Research AI trends", "claimed"),
        ("Write the report", "pending"),
    ]
    claimed = run(url, "tasks", "--status", "claimed").stdout.splitlines()
    assert len(claimed) == 2
    assert claimed[1].split("\t")[1:4] == ["claimed", "Research AI trends", "researcher"]
    assert data(run(url, "tasks", "--assignee", "nobody", "--json")) == []
    run(url, "tasks", "--status", "lost", code=2)


def test_inbox_peeks_at_waiting_messages_without_receiving_them(url: str) -> None:
    with statehub.open(url) as hub:
        coordinator, researcher = hub.agent("coordinator"), hub.agent("researcher")
        coordinator.send("researcher", {"task": "Research AI"})
        coordinator.send("researcher", "second")
        coordinator.send(["writer", "reviewer"], "to both")
        taken = researcher.receive(limit=1, visibility_timeout=60)
        assert [m.body for m in taken] == [{"task": "Research AI"}]
    waiting = data(run(url, "inbox", "researcher", "--json"))
    assert [(m["body"], m["deliveries"]) for m in waiting] == [
        ({"task": "Research AI"}, 1),
        ("second", 0),
    ]
    assert waiting[0]["in_flight_until"] is not None
    assert waiting[1]["in_flight_until"] is None
    rows = run(url, "inbox", "researcher").stdout.splitlines()
    assert [row.split("\t")[5][:9] for row in rows[1:]] == ["in flight", "waiting"]
    assert run(url, "inbox").stdout.splitlines() == [
        "agent\twaiting\tin flight",
        "researcher\t1\t1",
        "reviewer\t1\t0",
        "writer\t1\t0",
    ]
    with statehub.open(url) as hub:  # peeking received nothing: the second is still there
        assert [m.body for m in hub.agent("researcher").receive(limit=10)] == ["second"]
    assert data(run(url, "inbox", "nobody", "--json")) == []
    assert data(run(url, "inbox", "--json")) == {
        "researcher": {"waiting": 0, "in_flight": 2},  # both received, neither acknowledged
        "reviewer": {"waiting": 1, "in_flight": 0},
        "writer": {"waiting": 1, "in_flight": 0},
    }
    assert run(url, "inbox", "not/a name", code=1).stderr.startswith("error: invalid key")


# -- tokens ---------------------------------------------------------------------------------


def test_tokens_are_created_listed_and_revoked(url: str) -> None:
    token = run(url, "token", "create", "alice").stdout.strip()
    admin = data(run(url, "token", "create", "ops", "--admin", "--json"))
    assert admin["agent"] == "ops"
    assert admin["admin"] is True
    with statehub.open(url) as hub:
        identity = authenticate(hub, admin["token"])
        assert identity is not None
        assert identity.admin
        assert authenticate(hub, token) is not None
    listed = data(run(url, "token", "list", "--json"))
    assert sorted((t["agent"], t["admin"]) for t in listed) == [("alice", False), ("ops", True)]
    assert token not in run(url, "token", "list").stdout
    token_id = token.split("_")[1]
    assert run(url, "token", "revoke", token_id).stdout == f"revoked {token_id}\n"
    assert run(url, "token", "revoke", token_id, code=1).stderr == f"error: no token {token_id!r}\n"
    with statehub.open(url) as hub:
        assert authenticate(hub, token) is None


# -- serve, and the CLI on a served hub -----------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_serve_then_use_the_cli_on_the_served_hub(url: str, tmp_path: Path) -> None:
    token = run(url, "token", "create", "ops", "--admin").stdout.strip()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "statehub", "serve", "--url", url, "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        for line in server.stderr:  # uvicorn says so once it accepts connections
            if "Uvicorn running on" in line:
                break
        remote = f"http://127.0.0.1:{port}"
        env: dict[str, str | None] = {"STATEHUB_TOKEN": token}
        run(remote, "put", "global/doc", '{"title": "Draft"}', "--agent", "writer", env=env)
        run(remote, "checkpoint", "create", "drafted", env=env)
        run(remote, "merge", "global/doc", '{"title": "Final"}', env=env)
        assert data(run(remote, "get", "global/doc", "--json", env=env))["version"] == 2
        diff = data(run(remote, "diff", "drafted", "--json", env=env))
        assert diff["changed"]["global/doc"]["new"] == {"title": "Final"}
        assert [c["agent"] for c in data(run(remote, "history", "--json", env=env))] == [
            "writer",
            "cli",
        ]
        refused = run(remote, "get", "global/doc", env={"STATEHUB_TOKEN": "shub_bad"}, code=1)
        assert refused.stderr.startswith("error: ")
        assert refused.stderr.count("\n") == 1
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        finally:
            if server.poll() is None:
                server.kill()
    with statehub.open(url) as hub:  # the served hub is the file itself
        assert hub.agent("t").get("global/doc") == {"title": "Final"}
