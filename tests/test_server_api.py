"""The HTTP API beyond plain keys: entries, time travel, dispatch, transactions,
history, diff, checkpoints, rollback, locks, tasks, messages, admin.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import statehub
from statehub.server import create_token
from statehub.server.app import create_app
from tests.conftest import postgres_url
from tests.server_support import bearer, error_of

Headers = dict[str, str]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[statehub.Hub]:
    urls = {
        "memory": "memory://",
        "sqlite": f"sqlite:///{tmp_path / 'hub.db'}",
        "postgres": postgres_url(),
    }
    with statehub.open(urls[request.param]) as opened:
        yield opened


@pytest.fixture
def client(hub: statehub.Hub) -> TestClient:
    return TestClient(create_app(hub, max_body_bytes=4096))


@pytest.fixture
def alice(hub: statehub.Hub) -> Headers:
    return bearer(create_token(hub, "alice"))


@pytest.fixture
def bob(hub: statehub.Hub) -> Headers:
    return bearer(create_token(hub, "bob"))


@pytest.fixture
def admin(hub: statehub.Hub) -> Headers:
    return bearer(create_token(hub, "ops", admin=True))


# -- reads ----------------------------------------------------------------------------


def test_entries_carry_metadata(client: TestClient, alice: Headers) -> None:
    client.put("/v1/keys/global/doc?owner=true&label=first", headers=alice, json={"a": 1})
    entry = client.get("/v1/entries/global/doc", headers=alice)
    assert entry.status_code == 200
    body = entry.json()
    assert body["value"] == {"a": 1}
    assert body["owner"] == "alice"
    assert body["updated_by"] == "alice"
    assert body["version"] == 1
    assert entry.headers["etag"] == '"1"'
    listed = client.get("/v1/entries", headers=alice, params={"prefix": "global/"}).json()
    assert [e["key"] for e in listed["entries"]] == ["global/doc"]
    assert client.get("/v1/entries/global/none", headers=alice).status_code == 404


def test_reads_at_a_revision_or_a_checkpoint(client: TestClient, alice: Headers) -> None:
    first = client.put("/v1/keys/global/doc", headers=alice, json="v1").json()["modified_rev"]
    assert client.post("/v1/checkpoints", headers=alice, json={"name": "cp"}).status_code == 201
    client.put("/v1/keys/global/doc", headers=alice, json="v2")
    client.put("/v1/keys/global/new", headers=alice, json=1)
    assert client.get(f"/v1/keys/global/doc?at={first}", headers=alice).json() == "v1"
    assert client.get("/v1/keys/global/doc?at=cp", headers=alice).json() == "v1"
    assert client.get("/v1/keys/global/doc?at=head", headers=alice).json() == "v2"
    assert client.get("/v1/keys/global/new?at=cp", headers=alice).status_code == 404
    scan = client.get("/v1/scan", headers=alice, params={"prefix": "global/", "at": "cp"})
    assert scan.json() == {"entries": {"global/doc": "v1"}}
    unknown = client.get("/v1/keys/global/doc?at=nope", headers=alice)
    assert unknown.status_code == 404
    assert error_of(unknown)["type"] == "UnknownCheckpoint"
    future = client.get("/v1/keys/global/doc?at=999", headers=alice)
    assert future.status_code == 400


def test_compacted_revisions_are_410(client: TestClient, alice: Headers, admin: Headers) -> None:
    for n in range(5):
        head = client.put("/v1/keys/global/n", headers=alice, json=n).json()["modified_rev"]
    compacted = client.post("/v1/admin/compact", headers=admin, json={"before": head})
    assert compacted.status_code == 200
    assert compacted.json()["dropped"] > 0
    gone = client.get("/v1/history", headers=alice, params={"since": 1})
    assert gone.status_code == 410
    error = error_of(gone)
    assert error["type"] == "CompactedError"
    assert error["oldest"] == compacted.json()["oldest"]


# -- writes ---------------------------------------------------------------------------


def test_dispatch_builtin_reducers_by_name(
    hub: statehub.Hub, client: TestClient, alice: Headers, bob: Headers
) -> None:
    for who, item in ((alice, "a"), (bob, "b")):
        response = client.post(
            "/v1/dispatch/global/log", headers=who, json={"action": item, "reducer": "append"}
        )
        assert response.status_code == 200
    assert client.get("/v1/keys/global/log", headers=alice).json() == ["a", "b"]
    [change] = hub.history(key="global/log", since=hub.revision - 1)
    assert change.cause == {"reducer": "append", "action": "b"}
    unknown = client.post(
        "/v1/dispatch/global/log", headers=alice, json={"action": 1, "reducer": "os.system"}
    )
    assert unknown.status_code == 400
    assert error_of(unknown)["type"] == "UnknownReducer"
    unregistered = client.post("/v1/dispatch/global/other", headers=alice, json={"action": 1})
    assert unregistered.status_code == 400


def test_dispatch_uses_the_servers_registered_reducers(
    hub: statehub.Hub, client: TestClient, alice: Headers
) -> None:
    hub.register_reducer("global/count", lambda state, action: (state or 0) + action)
    for _ in range(3):
        client.post("/v1/dispatch/global/count", headers=alice, json={"action": 2})
    assert client.get("/v1/keys/global/count", headers=alice).json() == 6


def test_a_transaction_commits_all_or_nothing(
    hub: statehub.Hub, client: TestClient, alice: Headers
) -> None:
    client.put("/v1/keys/global/a", headers=alice, json=1)
    ops = [
        {"op": "put", "key": "global/a", "value": 2, "expect_version": 1},
        {"op": "merge", "key": "global/m", "patch": {"x": 1}},
        {"op": "dispatch", "key": "global/log", "action": "go", "reducer": "append"},
        {"op": "put", "key": "global/b", "value": "new", "expect_version": 0},
    ]
    done = client.post("/v1/transaction", headers=alice, json={"ops": ops, "label": "plan"})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["revision"] == hub.revision
    assert body["entries"]["global/a"]["version"] == 2
    assert {c.revision for c in hub.history(since=body["revision"] - 1)} == {body["revision"]}
    stale = [
        {"op": "put", "key": "global/c", "value": 1},
        {"op": "delete", "key": "global/a", "expect_version": 1},
    ]
    conflict = client.post("/v1/transaction", headers=alice, json={"ops": stale})
    assert conflict.status_code == 409
    assert error_of(conflict)["current_version"] == 2
    assert client.get("/v1/keys/global/c", headers=alice).status_code == 404
    bad = client.post("/v1/transaction", headers=alice, json={"ops": [{"op": "update"}]})
    assert bad.status_code == 400
    assert error_of(bad)["type"] == "InvalidArgument"


def test_ttl_and_label_travel_as_query_parameters(
    hub: statehub.Hub, client: TestClient, alice: Headers
) -> None:
    response = client.put("/v1/keys/global/beat?ttl=60&label=hello", headers=alice, json=1)
    assert response.json()["expires_ts"] is not None
    assert hub.history(key="global/beat")[0].label == "hello"
    bad = client.put("/v1/keys/global/beat?ttl=-1", headers=alice, json=1)
    assert bad.status_code == 400


# -- history, diff, checkpoints, rollback ---------------------------------------------


def test_history_filters(client: TestClient, alice: Headers, bob: Headers) -> None:
    client.put("/v1/keys/global/a", headers=alice, json=1)
    second = client.put("/v1/keys/global/b", headers=bob, json=2).json()["modified_rev"]
    client.put("/v1/keys/global/c", headers=alice, json=3)
    by_bob = client.get("/v1/history", headers=alice, params={"agent": "bob"}).json()
    assert [c["key"] for c in by_bob["changes"]] == ["global/b"]
    until = client.get("/v1/history", headers=alice, params={"until": second}).json()
    assert [c["key"] for c in until["changes"]] == ["global/a", "global/b"]
    prefix = client.get("/v1/history", headers=alice, params={"prefix": "global/c"}).json()
    assert [c["key"] for c in prefix["changes"]] == ["global/c"]


def test_diff_between_checkpoints(client: TestClient, alice: Headers) -> None:
    client.put("/v1/keys/global/doc", headers=alice, json={"title": "Draft"})
    client.put("/v1/keys/global/gone", headers=alice, json=1)
    client.post("/v1/checkpoints", headers=alice, json={"name": "before"})
    client.put("/v1/keys/global/doc", headers=alice, json={"title": "Final"})
    client.delete("/v1/keys/global/gone", headers=alice)
    client.put("/v1/keys/global/new", headers=alice, json=True)
    diff = client.get("/v1/diff", headers=alice, params={"a": "before", "prefix": "global/"})
    assert diff.status_code == 200
    body = diff.json()
    assert body["added"] == {"global/new": True}
    assert body["removed"] == {"global/gone": 1}
    assert body["changed"]["global/doc"]["patch"] == [
        {"op": "replace", "path": "/title", "value": "Final"}
    ]
    assert "~ global/doc" in body["lines"]


def test_checkpoints_list_and_delete(client: TestClient, alice: Headers) -> None:
    made = client.post("/v1/checkpoints", headers=alice, json={"name": "one"})
    assert made.json()["agent"] == "alice"
    again = client.post("/v1/checkpoints", headers=alice, json={"name": "one"})
    assert again.status_code == 400
    listed = client.get("/v1/checkpoints", headers=alice).json()["checkpoints"]
    assert [c["name"] for c in listed] == ["one"]
    assert client.delete("/v1/checkpoints/one", headers=alice).status_code == 200
    assert client.delete("/v1/checkpoints/one", headers=alice).status_code == 404
    bad = client.post("/v1/checkpoints", headers=alice, json={"name": "a/b"})
    assert bad.status_code == 400


def test_rollback(client: TestClient, alice: Headers) -> None:
    client.put("/v1/keys/global/doc", headers=alice, json="good")
    client.post("/v1/checkpoints", headers=alice, json={"name": "ok"})
    client.put("/v1/keys/global/doc", headers=alice, json="broken")
    client.put("/v1/keys/global/junk", headers=alice, json=1)
    done = client.post("/v1/rollback", headers=alice, json={"to": "ok", "prefix": "global/"})
    assert done.status_code == 200
    assert isinstance(done.json()["revision"], int)
    assert client.get("/v1/keys/global/doc", headers=alice).json() == "good"
    assert client.get("/v1/keys/global/junk", headers=alice).status_code == 404
    nothing = client.post("/v1/rollback", headers=alice, json={"to": "ok"})
    assert nothing.json() == {"revision": None}


# -- locks ----------------------------------------------------------------------------


def test_locks_with_fences(client: TestClient, alice: Headers, bob: Headers) -> None:
    taken = client.post("/v1/locks/global/plan", headers=alice, json={"ttl": 30})
    assert taken.status_code == 201
    lease = taken.json()
    assert lease["holder"] == "alice"
    fence = {"Statehub-Fence": str(lease["fence"])}
    written = client.put("/v1/keys/global/plan", headers={**alice, **fence}, json=["step1"])
    assert written.status_code == 201
    blocked = client.put("/v1/keys/global/plan", headers=bob, json=["mine"])
    assert blocked.status_code == 423
    error = error_of(blocked)
    assert error["holder"] == "alice"
    assert error["expires_ts"] == pytest.approx(lease["expires_ts"])
    assert "expires_at" in error
    second = client.post("/v1/locks/global/plan", headers=bob)
    assert second.status_code == 423
    listed = client.get("/v1/locks", headers=bob).json()["locks"]
    assert [(lock["key"], lock["holder"]) for lock in listed] == [("global/plan", "alice")]
    renewed = client.patch(
        "/v1/locks/global/plan", headers=alice, json={"fence": lease["fence"], "ttl": 60}
    )
    assert renewed.status_code == 200
    assert renewed.json()["expires_ts"] > lease["expires_ts"]
    released = client.delete("/v1/locks/global/plan", headers={**alice, **fence})
    assert released.json() == {"released": True}
    assert client.delete("/v1/locks/global/plan", headers={**alice, **fence}).json() == {
        "released": False
    }
    stale = client.put("/v1/keys/global/plan", headers={**alice, **fence}, json=["late"])
    assert stale.status_code == 409
    assert error_of(stale)["type"] == "StaleFenceError"
    bad_fence = client.put("/v1/keys/global/plan", headers={**alice, "Statehub-Fence": "x"}, json=1)
    assert bad_fence.status_code == 400


def test_lock_wait_blocks_until_released(client: TestClient, alice: Headers, bob: Headers) -> None:
    lease = client.post("/v1/locks/global/plan", headers=alice, json={"ttl": 30}).json()
    result: dict[str, int] = {}

    def take() -> None:
        response = client.post("/v1/locks/global/plan", headers=bob, json={"wait": 10})
        result["status"] = response.status_code

    waiter = threading.Thread(target=take)
    waiter.start()
    client.delete("/v1/locks/global/plan", headers={**alice, "Statehub-Fence": str(lease["fence"])})
    waiter.join(15)
    assert result == {"status": 201}
    too_long = client.post("/v1/locks/global/other", headers=bob, json={"wait": 3600})
    assert too_long.status_code == 400


# -- tasks ----------------------------------------------------------------------------


def test_task_lifecycle(client: TestClient, alice: Headers, bob: Headers) -> None:
    made = client.post("/v1/tasks", headers=alice, json={"title": "Research", "payload": {"q": 1}})
    assert made.status_code == 201
    task_id = made.json()["id"]
    assert client.post("/v1/tasks", headers=alice, json={"title": "x", "id": task_id}).status_code
    claimed = client.post("/v1/tasks/next", headers=bob, json={"lease": 30})
    assert claimed.status_code == 200
    task = claimed.json()
    assert (task["id"], task["status"], task["assignee"]) == (task_id, "claimed", "bob")
    assert client.post("/v1/tasks/next", headers=alice).status_code == 204
    taken = client.post(f"/v1/tasks/{task_id}/claim", headers=alice)
    assert taken.status_code == 409
    assert error_of(taken)["type"] == "TaskClaimed"
    fence = task["fence"]
    path = f"/v1/tasks/{task_id}"
    progress = client.post(f"{path}/progress", headers=bob, json={"fraction": 0.5, "fence": fence})
    assert progress.json()["progress"] == 0.5
    assert client.post(f"{path}/renew", headers=bob, json={"fence": fence}).status_code == 200
    done = client.post(f"{path}/complete", headers=bob, json={"result": "42", "fence": fence})
    assert done.json()["status"] == "completed"
    assert client.get(path, headers=alice).json()["result"] == "42"
    listed = client.get("/v1/tasks", headers=alice, params={"status": "completed"}).json()
    assert [t["id"] for t in listed["tasks"]] == [task_id]
    assert client.get("/v1/tasks/nothing", headers=alice).status_code == 404
    bad_status = client.get("/v1/tasks", headers=alice, params={"status": "lost"})
    assert bad_status.status_code == 400


def test_task_fail_retry_release(client: TestClient, alice: Headers) -> None:
    task_id = client.post("/v1/tasks", headers=alice, json={"title": "Write"}).json()["id"]
    path = f"/v1/tasks/{task_id}"
    assert client.post(f"{path}/claim", headers=alice).status_code == 200
    assert client.post(f"{path}/release", headers=alice).json()["status"] == "pending"
    client.post(f"{path}/claim", headers=alice)
    failed = client.post(f"{path}/fail", headers=alice, json={"error": "no data"})
    assert (failed.json()["status"], failed.json()["error"]) == ("failed", "no data")
    assert client.post(f"{path}/retry", headers=alice).json()["status"] == "pending"
    wrong = client.post(f"{path}/complete", headers=alice)
    assert wrong.status_code == 409
    assert error_of(wrong)["type"] == "IllegalTransition"


# -- messages -------------------------------------------------------------------------


def test_messages_send_receive_ack(client: TestClient, alice: Headers, bob: Headers) -> None:
    sent = client.post("/v1/messages", headers=alice, json={"to": "bob", "body": {"task": 1}})
    assert sent.status_code == 201
    [message] = sent.json()["messages"]
    assert (message["sender"], message["recipient"]) == ("alice", "bob")
    assert client.post("/v1/messages/receive", headers=alice).json() == {"messages": []}
    received = client.post("/v1/messages/receive", headers=bob, json={"visibility_timeout": 30})
    [got] = received.json()["messages"]
    assert got["body"] == {"task": 1}
    assert got["deliveries"] == 1
    assert client.post(f"/v1/messages/{got['id']}/ack", headers=bob).json() == {"acked": True}
    assert client.post("/v1/messages/receive", headers=bob).json() == {"messages": []}
    update = {"to": ["bob"], "key": "findings", "value": "5 trends"}
    assert client.post("/v1/messages/updates", headers=alice, json=update).status_code == 201
    assert client.get("/v1/view", headers=bob).json() == {"view": {"findings": "5 trends"}}


def test_receive_waits_for_a_message(client: TestClient, alice: Headers, bob: Headers) -> None:
    result: dict[str, object] = {}

    def receive() -> None:
        response = client.post("/v1/messages/receive", headers=bob, json={"wait": 10})
        result["bodies"] = [m["body"] for m in response.json()["messages"]]

    waiter = threading.Thread(target=receive)
    waiter.start()
    client.post("/v1/messages", headers=alice, json={"to": "bob", "body": "hello"})
    waiter.join(15)
    assert result == {"bodies": ["hello"]}


def test_wait_for_a_revision(hub: statehub.Hub, client: TestClient, alice: Headers) -> None:
    head = client.get("/v1/revision", headers=alice).json()
    assert head == {"revision": hub.revision, "oldest": 0}
    missed = client.get("/v1/wait", headers=alice, params={"revision": 99, "timeout": 0.05})
    assert missed.json() == {"reached": False, "revision": hub.revision}
    hub.agent("x").put("global/x", 1)
    reached = client.get("/v1/wait", headers=alice, params={"revision": hub.revision})
    assert reached.json()["reached"] is True


# -- limits ---------------------------------------------------------------------------


def test_a_chunked_body_over_the_limit_is_413(client: TestClient, alice: Headers) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'"'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"'

    response = client.put("/v1/keys/global/x", headers=alice, content=chunks())
    assert response.status_code == 413
    assert error_of(response)["type"] == "BodyTooLarge"
    big = client.post("/v1/tasks", headers=alice, json={"title": "x" * 5000})
    assert big.status_code == 413
    assert client.get("/v1/keys/global/x", headers=alice).status_code == 404


# -- admin ----------------------------------------------------------------------------


def test_admin_sees_every_key(client: TestClient, alice: Headers, admin: Headers) -> None:
    client.put("/v1/keys/agent/alice/notes", headers=alice, json="private")
    client.put("/v1/keys/global/doc", headers=alice, json="shared")
    assert client.get("/v1/keys/agent/alice/notes", headers=admin).json() == "private"
    scan = client.get("/v1/scan", headers=admin).json()["entries"]
    assert scan == {"agent/alice/notes": "private", "global/doc": "shared"}
    keys = [c["key"] for c in client.get("/v1/history", headers=admin).json()["changes"]]
    assert "agent/alice/notes" in keys
    diff = client.get("/v1/admin/diff", headers=admin, params={"a": 0}).json()
    assert set(diff["added"]) == {"agent/alice/notes", "global/doc"}


def test_admin_acts_as_another_agent(
    hub: statehub.Hub, client: TestClient, alice: Headers, admin: Headers
) -> None:
    as_alice = {**admin, "X-Statehub-Agent": "alice"}
    written = client.put("/v1/keys/agent/alice/notes", headers=as_alice, json="by ops")
    assert written.status_code == 201
    assert written.json()["updated_by"] == "alice"
    assert client.get("/v1/keys/agent/alice/notes", headers=alice).json() == "by ops"
    own = client.put("/v1/keys/global/x", headers=admin, json=1)
    assert own.json()["updated_by"] == "ops"
    as_bob = {**admin, "X-Statehub-Agent": "bob"}
    assert client.get("/v1/keys/agent/alice/notes", headers=as_bob).status_code == 403
    bad = client.get("/v1/keys/global/x", headers={**admin, "X-Statehub-Agent": "no one"})
    assert bad.status_code == 400


def test_agent_tokens_may_name_only_themselves(client: TestClient, alice: Headers) -> None:
    mine = client.put("/v1/keys/global/x", headers={**alice, "X-Statehub-Agent": "alice"}, json=1)
    assert mine.status_code == 201
    other = client.put("/v1/keys/global/x", headers={**alice, "X-Statehub-Agent": "bob"}, json=1)
    assert other.status_code == 403
    assert error_of(other)["type"] == "AccessDenied"


def test_admin_rolls_back_a_private_prefix(
    client: TestClient, alice: Headers, admin: Headers
) -> None:
    client.put("/v1/keys/agent/alice/notes", headers=alice, json="good")
    client.post("/v1/checkpoints", headers=alice, json={"name": "ok"})
    client.put("/v1/keys/agent/alice/notes", headers=alice, json="bad")
    body = {"to": "ok", "prefix": "agent/alice/"}
    assert client.post("/v1/rollback", headers=admin, json=body).status_code == 200
    assert client.get("/v1/keys/agent/alice/notes", headers=alice).json() == "good"


def test_admin_routes(
    hub: statehub.Hub, client: TestClient, alice: Headers, admin: Headers
) -> None:
    client.put("/v1/keys/agent/alice/notes", headers=alice, json="private")
    for path in ("/v1/admin/tokens", "/v1/admin/export", "/v1/admin/history"):
        refused = client.get(path, headers=alice)
        assert refused.status_code == 403, path
        assert error_of(refused)["type"] == "AccessDenied"
        assert client.get(path, headers=admin).status_code == 200, path
    tokens = client.get("/v1/admin/tokens", headers=admin).json()["tokens"]
    assert sorted((t["agent"], t["admin"]) for t in tokens) == [("alice", False), ("ops", True)]
    assert "hash" not in str(tokens)
    exported = client.get("/v1/admin/export", headers=admin, params={"history": True}).json()
    assert exported["revision"] == hub.revision
    assert "agent/alice/notes" in str(exported)
    compact = client.post("/v1/admin/compact", headers=alice, json={"before": 1})
    assert compact.status_code == 403


def test_conditional_get_answers_304_while_unchanged(client: TestClient, alice: Headers) -> None:
    etag = client.put("/v1/keys/global/doc", headers=alice, json="v1").headers["etag"]
    same = client.get("/v1/keys/global/doc", headers={**alice, "If-None-Match": etag})
    assert same.status_code == 304
    assert same.content == b""
    client.put("/v1/keys/global/doc", headers=alice, json="v2")
    moved = client.get("/v1/keys/global/doc", headers={**alice, "If-None-Match": etag})
    assert moved.status_code == 200
    assert moved.json() == "v2"
