"""The storage protocol's guard: a client with an agent token, speaking the protocol
by hand, can do no more than that agent could do in-process.

The remote client checks the same rules before it sends anything, so these tests
forge requests the client would never make.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

import statehub
from statehub.codec import encode_meta
from statehub.history import ChangeQuery
from statehub.mailbox import inbox_key, new_message_id
from statehub.server.app import create_app
from statehub.server.tokens import TOKEN_SCOPE, create_token, revoke_token
from statehub.txn import DELETE, LOCK, PUT, Op, Txn
from statehub.wire import query_to_wire, txn_to_wire


class Protocol:
    """Raw calls to ``/v1/backend/<call>`` with one token."""

    def __init__(self, client: TestClient, token: str | None) -> None:
        self.client = client
        self.headers = {} if token is None else {"authorization": f"Bearer {token}"}

    def call(self, name: str, arguments: dict[str, Any]) -> tuple[int, Any]:
        response = self.client.post(f"/v1/backend/{name}", json=arguments, headers=self.headers)
        return response.status_code, response.json()

    def commit(self, txn: Txn) -> tuple[int, Any]:
        return self.call("commit", {"txn": txn_to_wire(txn)})


@pytest.fixture
def hub() -> Iterator[statehub.Hub]:
    with statehub.open("memory://") as opened:
        bob = opened.agent("bob")
        bob.put("agent/bob/secret", "bob's")
        bob.put("global/shared", "everyone's")
        bob.send("bob", "a note to self")
        yield opened


@pytest.fixture
def client(hub: statehub.Hub) -> Iterator[TestClient]:
    app = create_app(hub)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def alice(client: TestClient, hub: statehub.Hub) -> Protocol:
    return Protocol(client, create_token(hub, "alice"))


@pytest.fixture
def admin(client: TestClient, hub: statehub.Hub) -> Protocol:
    return Protocol(client, create_token(hub, "operator", admin=True))


def _put(key: str, value: Any = "x", **fields: Any) -> Op:
    return Op(PUT, key, encode_meta(value), **fields)


def _denied(answer: tuple[int, Any]) -> str:
    status, body = answer
    assert status == 403, body
    assert body["error"]["type"] == "AccessDenied"
    return str(body["error"]["message"])


FORGED_COMMITS = {
    "as another agent": Txn("bob", (_put("global/x"),)),
    "another agent's private key": Txn("alice", (_put("agent/bob/secret"),)),
    "a token row": Txn("alice", (_put(TOKEN_SCOPE + "0123456789abcdef", {"agent": "alice"}),)),
    "a lock row by put": Txn("alice", (_put("_locks/global/x", {"holder": "alice"}),)),
    "a lock on a private key": Txn("alice", (Op(LOCK, "_locks/agent/bob/secret", ttl=5.0),)),
    "a message in another name": Txn(
        "alice",
        (
            _put(
                inbox_key("bob", new_message_id()),
                {"sender": "carol", "kind": "message", "body": 1, "sent_ts": 0.0},
            ),
        ),
    ),
    "an unknown reserved scope": Txn("alice", (_put("_views/alice", {}),)),
    "a write logged as an import": Txn("alice", (_put("global/x", logged_as="import"),)),
    "a checkpoint with content": Txn(
        "alice", (_put("_checkpoints/c", {"x": 1}, logged_as="checkpoint"),)
    ),
}


@pytest.mark.parametrize("txn", FORGED_COMMITS.values(), ids=FORGED_COMMITS.keys())
def test_a_forged_commit_is_refused_and_writes_nothing(
    alice: Protocol, hub: statehub.Hub, txn: Txn
) -> None:
    before = hub.revision
    _denied(alice.commit(txn))
    assert hub.revision == before


def test_another_agents_inbox_cannot_be_emptied_or_rewritten(
    alice: Protocol, hub: statehub.Hub
) -> None:
    [row] = hub.backend.scan("_inbox/bob/", None)
    before = hub.revision
    _denied(alice.commit(Txn("alice", (Op(DELETE, row.key),))))
    _denied(alice.commit(Txn("alice", (_put(row.key, {"sender": "alice"}),), {row.key: 1})))
    assert hub.revision == before


def test_a_genuine_message_to_another_agent_is_accepted(alice: Protocol, hub: statehub.Hub) -> None:
    fields = {
        "sender": "alice",
        "kind": "message",
        "body": "hi",
        "sent_ts": 0.0,
        "deliveries": 0,
        "visible_ts": None,
    }
    key = inbox_key("bob", new_message_id())
    status, _ = alice.commit(Txn("alice", (_put(key, fields),), {key: 0}))
    assert status == 200
    assert [(m.sender, m.body) for m in hub.agent("bob").receive()][-1] == ("alice", "hi")


@pytest.mark.parametrize(
    "key", ["agent/bob/secret", TOKEN_SCOPE + "0123456789abcdef", "_inbox/bob/x"]
)
def test_rows_of_others_cannot_be_loaded_or_replayed(alice: Protocol, key: str) -> None:
    _denied(alice.call("load", {"key": key}))
    _denied(alice.call("chain", {"key": key, "revision": 10}))


@pytest.mark.parametrize("key", ["agent/bob/../bob/secret", "agent%2Fbob%2Fsecret", "agent//bob"])
def test_path_tricks_are_invalid_keys(alice: Protocol, key: str) -> None:
    status, body = alice.call("load", {"key": key})
    assert (status, body["error"]["type"]) == (400, "InvalidKey")


def test_a_scan_of_everything_shows_only_what_the_agent_may_see(alice: Protocol) -> None:
    for prefix in ["", "agent/", "_"]:
        status, body = alice.call("scan", {"prefix": prefix, "visible_to": None})
        keys = [row[0] for row in body["rows"]]
        assert status == 200
        assert "agent/bob/secret" not in keys
        assert not [key for key in keys if key.startswith((TOKEN_SCOPE, "_inbox/bob/"))]
    _denied(alice.call("scan", {"prefix": "", "visible_to": "bob"}))


def test_log_reads_are_limited_to_what_the_agent_may_see(alice: Protocol) -> None:
    status, body = alice.call("changed_keys", {"prefix": "", "until": 100, "visible_to": None})
    assert status == 200
    assert body["keys"] == ["global/shared"]
    query = query_to_wire(ChangeQuery(prefix="agent/"))
    status, body = alice.call("changes", {"query": query})
    assert (status, body["changes"]) == (200, [])
    everything = query_to_wire(ChangeQuery())
    status, body = alice.call("changes", {"query": everything})
    assert [change["key"] for change in body["changes"]] == ["global/shared"]
    _denied(alice.call("changes", {"query": query_to_wire(ChangeQuery(key="agent/bob/secret"))}))
    _denied(alice.call("changes", {"query": query_to_wire(ChangeQuery(visible_to="bob"))}))


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("raw_changes", {}),
        ("compact", {"oldest": 1, "keep": []}),
        (
            "load_export",
            {
                "export": {
                    "hub": "x",
                    "revision": 0,
                    "oldest": 0,
                    "history": True,
                    "entries": [],
                    "changes": [],
                }
            },
        ),
    ],
)
def test_hub_wide_calls_need_an_admin_token(
    alice: Protocol, admin: Protocol, name: str, arguments: dict[str, Any]
) -> None:
    assert "admin token" in _denied(alice.call(name, arguments))
    status, body = admin.call(name, arguments)
    assert status != 403, body


def test_an_admin_token_may_act_as_any_agent(admin: Protocol, hub: statehub.Hub) -> None:
    status, _ = admin.commit(Txn("bob", (_put("agent/bob/secret", "rewritten"),)))
    assert status == 200
    assert hub.agent("bob").get("agent/bob/secret") == "rewritten"


CALLS = ["info", "commit", "load", "scan", "chain", "changed_keys", "changes", "head", "wait"]


@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize("token", ["none", "garbage", "revoked"])
def test_every_call_needs_a_valid_token(
    client: TestClient, hub: statehub.Hub, name: str, token: str
) -> None:
    secret = {"none": None, "garbage": "shub_0123456789abcdef_nope"}.get(token)
    if token == "revoked":
        secret = create_token(hub, "alice")
        revoke_token(hub, secret[5:21])
    status, body = Protocol(client, secret).call(name, {})
    assert (status, body["error"]["type"]) == (401, "Unauthorized")
    assert "alice" not in str(body)
