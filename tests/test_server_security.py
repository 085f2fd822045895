"""The security matrix: every endpoint, every parameter that names a key or a scope.

Agent ``alice`` attacks agent ``bob``'s private keys (read, write, watch, diff, export,
roll back), a key ``bob`` owns and a key ``bob`` has locked; anonymous and revoked
tokens knock on every door. Each endpoint of the API must appear in the matrix
(:func:`test_every_endpoint_is_in_the_matrix`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

import statehub
from statehub.server import create_token, list_tokens, revoke_token
from statehub.server.app import create_app
from tests.server_support import bearer, error_of

SECRET = "TOPSECRET-b0b"
"""The value of bob's private key: must never appear in a response to alice."""

PRIVATE = "agent/bob/secret"


@dataclass(frozen=True)
class Probe:
    """One request: the route it exercises (method and path template), and what to send."""

    route: tuple[str, str]
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    refused: bool = False

    def send(self, client: TestClient, headers: dict[str, str]) -> Any:
        method = self.route[0]
        extra: dict[str, Any] = {"params": self.params, "headers": {**self.headers, **headers}}
        if self.content is not None:
            extra["content"] = self.content
        elif self.json is not None:
            extra["json"] = self.json
        return client.request(method, self.path, **extra)

    def __str__(self) -> str:
        return f"{self.route[0]} {self.path} {self.params or ''}{self.json or ''}".strip()


def _keys(key: str) -> list[Probe]:
    return [dataclasses.replace(probe, refused=True) for probe in _key_probes(key)]


def _key_probes(key: str) -> list[Probe]:
    merge = {"Content-Type": "application/merge-patch+json"}
    return [
        Probe(("GET", "/v1/keys/{key}"), f"/v1/keys/{key}"),
        Probe(("GET", "/v1/keys/{key}"), f"/v1/keys/{key}", {"at": "head"}),
        Probe(("PUT", "/v1/keys/{key}"), f"/v1/keys/{key}", json="pwned"),
        Probe(("PATCH", "/v1/keys/{key}"), f"/v1/keys/{key}", content=b'{"a": 1}', headers=merge),
        Probe(("DELETE", "/v1/keys/{key}"), f"/v1/keys/{key}"),
        Probe(("GET", "/v1/entries/{key}"), f"/v1/entries/{key}"),
        Probe(
            ("POST", "/v1/dispatch/{key}"),
            f"/v1/dispatch/{key}",
            json={"action": "x", "reducer": "replace"},
        ),
        Probe(
            ("POST", "/v1/transaction"),
            "/v1/transaction",
            json={"ops": [{"op": "put", "key": key, "value": "pwned"}]},
        ),
        Probe(
            ("POST", "/v1/transaction"),
            "/v1/transaction",
            json={"ops": [{"op": "delete", "key": key}]},
        ),
        Probe(("POST", "/v1/locks/{key}"), f"/v1/locks/{key}", json={"ttl": 5}),
        Probe(("PATCH", "/v1/locks/{key}"), f"/v1/locks/{key}", json={"fence": 1}),
        Probe(("DELETE", "/v1/locks/{key}"), f"/v1/locks/{key}", headers={"Statehub-Fence": "1"}),
    ]


# Every spelling of bob's private key an attacker might try. Dot segments and encoded
# slashes are sent as is (the client does not normalize percent-encoded dots).
PRIVATE_SPELLINGS = [
    PRIVATE,
    "agent/bob/%2E%2E/bob/secret",
    "agent/alice/%2E%2E/bob/secret",
    "agent%2Fbob%2Fsecret",
    "agent/bob//secret",
    "agent/bob/./secret",
    "agent/bob/secret%00",
    "agent/BOB/../bob/secret",
]

PREFIXES = ["", "agent/", "agent/bob/", "agent/bob", "agent/b", "agent/%2E%2E/", "a"]


def _reads_by_prefix(prefix: str) -> list[Probe]:
    return [
        Probe(("GET", "/v1/scan"), "/v1/scan", {"prefix": prefix}),
        Probe(("GET", "/v1/scan"), "/v1/scan", {"prefix": prefix, "at": "1"}),
        Probe(("GET", "/v1/entries"), "/v1/entries", {"prefix": prefix}),
        Probe(("GET", "/v1/history"), "/v1/history", {"prefix": prefix}),
        Probe(("GET", "/v1/diff"), "/v1/diff", {"a": "0", "prefix": prefix}),
        Probe(("GET", "/v1/diff"), "/v1/diff", {"a": "head", "b": "0", "prefix": prefix}),
        Probe(("POST", "/v1/rollback"), "/v1/rollback", json={"to": 0, "prefix": prefix}),
        Probe(("GET", "/v1/admin/diff"), "/v1/admin/diff", {"a": "0", "prefix": prefix}),
        Probe(("GET", "/v1/admin/history"), "/v1/admin/history", {"prefix": prefix}),
    ]


OTHER_PROBES = [
    Probe(("GET", "/v1/history"), "/v1/history", {"key": PRIVATE}),
    Probe(("GET", "/v1/history"), "/v1/history", {"agent": "bob"}),
    Probe(("GET", "/v1/history"), "/v1/history"),
    Probe(("GET", "/v1/admin/export"), "/v1/admin/export"),
    Probe(("GET", "/v1/admin/export"), "/v1/admin/export", {"history": "true"}),
    Probe(("GET", "/v1/admin/tokens"), "/v1/admin/tokens"),
    Probe(("POST", "/v1/admin/compact"), "/v1/admin/compact", json={"before": "head"}),
    Probe(("GET", "/v1/locks"), "/v1/locks"),
    Probe(("GET", "/v1/checkpoints"), "/v1/checkpoints"),
    Probe(("POST", "/v1/checkpoints"), "/v1/checkpoints", json={"name": "x"}),
    Probe(("DELETE", "/v1/checkpoints/{name}"), "/v1/checkpoints/bobs"),
    Probe(("GET", "/v1/revision"), "/v1/revision"),
    Probe(("GET", "/v1/wait"), "/v1/wait", {"revision": 0}),
    Probe(("GET", "/v1/view"), "/v1/view"),
    Probe(("POST", "/v1/messages/receive"), "/v1/messages/receive"),
    Probe(("POST", "/v1/messages"), "/v1/messages", json={"to": "bob", "body": 1}),
    Probe(
        ("POST", "/v1/messages/updates"),
        "/v1/messages/updates",
        json={"to": "bob", "key": "k", "value": 1},
    ),
    Probe(("POST", "/v1/messages/{message_id}/ack"), "/v1/messages/BOBS/ack"),
    Probe(("GET", "/v1/tasks"), "/v1/tasks"),
    Probe(("POST", "/v1/tasks"), "/v1/tasks", json={"title": "t"}),
    Probe(("POST", "/v1/tasks/next"), "/v1/tasks/next"),
    Probe(("GET", "/v1/tasks/{task_id}"), "/v1/tasks/t1"),
    *(
        Probe(("POST", f"/v1/tasks/{{task_id}}/{action}"), f"/v1/tasks/t1/{action}", json=body)
        for action, body in (
            ("claim", None),
            ("progress", {"fraction": 0.5}),
            ("renew", None),
            ("complete", None),
            ("fail", {"error": "x"}),
            ("release", None),
            ("retry", None),
        )
    ),
    Probe(("GET", "/v1/watch"), "/v1/watch", {"prefix": "agent/bob/"}),
    *(
        Probe(("GET", "/v1/viewer/versions"), "/v1/viewer/versions", {"key": k}, refused=True)
        for k in PRIVATE_SPELLINGS
    ),
    *(
        Probe(("GET", "/v1/viewer/changes"), "/v1/viewer/changes", {"prefix": p, "own": "true"})
        for p in PREFIXES
    ),
    Probe(("GET", "/v1/viewer/changes"), "/v1/viewer/changes", {"key": PRIVATE}, refused=True),
    Probe(("GET", "/v1/viewer/changes"), "/v1/viewer/changes", {"agent": "bob", "own": "true"}),
    Probe(("GET", "/v1/viewer/activity"), "/v1/viewer/activity", {"own": "true"}),
    Probe(("GET", "/v1/viewer/inboxes"), "/v1/viewer/inboxes"),
    Probe(("GET", "/v1/viewer/me"), "/v1/viewer/me"),
]

PRIVACY_PROBES = [
    *(probe for key in PRIVATE_SPELLINGS for probe in _keys(key)),
    *(probe for prefix in PREFIXES for probe in _reads_by_prefix(prefix)),
    *OTHER_PROBES,
]


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[statehub.Hub]:
    folder = tmp_path_factory.mktemp("security")
    url = "memory://" if request.param == "memory" else f"sqlite:///{folder / 'hub.db'}"
    with statehub.open(url) as opened:
        yield opened


@dataclass
class World:
    """A hub where bob has a private key, an owned key and a locked key."""

    hub: statehub.Hub
    client: TestClient
    alice: dict[str, str]
    bob: dict[str, str]


@pytest.fixture(scope="module")
def world(hub: statehub.Hub) -> World:
    """One world per backend: every probe must leave bob's rows as they are anyway."""
    bob = hub.agent("bob")
    bob.put(PRIVATE, SECRET)
    bob.checkpoint("bobs")
    bob.put(PRIVATE, SECRET + "-v2")
    bob.put("global/owned", "bob's", owner=True)
    bob.lock("global/locked", ttl=300)
    bob.put("agent/bob/task-notes", {"plan": SECRET})
    hub.agent("carol").send("bob", {"for bob only": SECRET})
    return World(
        hub,
        TestClient(create_app(hub, watch_step=0.05)),
        bearer(create_token(hub, "alice")),
        bearer(create_token(hub, "bob")),
    )


def _bobs_rows(hub: statehub.Hub) -> list[tuple[str, int, Any]]:
    return [(e.key, e.version, e.value) for e in hub.agent("bob").entries("agent/bob/")]


@pytest.mark.parametrize("probe", PRIVACY_PROBES, ids=str)
def test_alice_cannot_reach_bobs_private_keys(world: World, probe: Probe) -> None:
    before = _bobs_rows(world.hub)
    head = world.hub.revision
    response = probe.send(world.client, world.alice)
    assert response.status_code < 500, response.text
    if probe.refused:
        assert response.status_code in (400, 403), response.text
    assert SECRET not in response.text
    assert "for bob only" not in response.text
    if response.status_code >= 400:
        error_of(response)
    assert _bobs_rows(world.hub) == before
    for change in world.hub.history(since=head):
        assert not change.key.startswith("agent/bob/"), change


@pytest.mark.parametrize(
    "probe",
    [
        Probe(("PUT", "/v1/keys/{key}"), "/v1/keys/global/owned", json="x"),
        Probe(
            ("PATCH", "/v1/keys/{key}"),
            "/v1/keys/global/owned",
            content=b'{"a": 1}',
            headers={"Content-Type": "application/merge-patch+json"},
        ),
        Probe(("DELETE", "/v1/keys/{key}"), "/v1/keys/global/owned"),
        Probe(
            ("POST", "/v1/dispatch/{key}"),
            "/v1/dispatch/global/owned",
            json={"action": 1, "reducer": "replace"},
        ),
        Probe(
            ("POST", "/v1/transaction"),
            "/v1/transaction",
            json={"ops": [{"op": "put", "key": "global/owned", "value": 1, "owner": True}]},
        ),
        Probe(("PUT", "/v1/keys/{key}"), "/v1/keys/global/owned", {"owner": "true"}, json="x"),
    ],
    ids=str,
)
def test_a_non_owner_cannot_write_an_owned_key(world: World, probe: Probe) -> None:
    response = probe.send(world.client, world.alice)
    assert response.status_code == 403, response.text
    assert error_of(response)["type"] == "AccessDenied"
    entry = world.hub.agent("bob").entry("global/owned")
    assert entry is not None
    assert (entry.value, entry.owner, entry.version) == ("bob's", "bob", 1)


@pytest.mark.parametrize(
    "probe",
    [
        Probe(("PUT", "/v1/keys/{key}"), "/v1/keys/global/locked", json="x"),
        Probe(
            ("PUT", "/v1/keys/{key}"),
            "/v1/keys/global/locked",
            json="x",
            headers={"Statehub-Fence": "1"},
        ),
        Probe(
            ("PATCH", "/v1/keys/{key}"),
            "/v1/keys/global/locked",
            content=b'{"a": 1}',
            headers={"Content-Type": "application/merge-patch+json"},
        ),
        Probe(("DELETE", "/v1/keys/{key}"), "/v1/keys/global/locked"),
        Probe(
            ("POST", "/v1/dispatch/{key}"),
            "/v1/dispatch/global/locked",
            json={"action": 1, "reducer": "append"},
        ),
        Probe(
            ("POST", "/v1/transaction"),
            "/v1/transaction",
            json={"ops": [{"op": "merge", "key": "global/locked", "patch": {"a": 1}}]},
        ),
        Probe(("POST", "/v1/locks/{key}"), "/v1/locks/global/locked"),
        Probe(("POST", "/v1/rollback"), "/v1/rollback", json={"to": 0, "prefix": "global/locked"}),
    ],
    ids=str,
)
def test_a_non_holder_cannot_write_a_locked_key(world: World, probe: Probe) -> None:
    world.hub.agent("bob").put("global/locked", "held", fence=world.hub.locks()[0].fence)
    response = probe.send(world.client, world.alice)
    assert response.status_code in (409, 423), response.text
    assert error_of(response)["type"] in ("LockedError", "StaleFenceError")
    assert world.hub.agent("bob").get("global/locked") == "held"


def _documented_routes() -> set[tuple[str, str]]:
    with statehub.open("memory://") as hub:
        paths = create_app(hub).openapi()["paths"]
    return {
        (method.upper(), path)
        for path, operations in paths.items()
        for method in operations
        if path != "/health"
    }


ALL_ROUTES = sorted(_documented_routes())


def test_every_endpoint_is_in_the_matrix() -> None:
    probed = {probe.route for probe in PRIVACY_PROBES}
    assert set(ALL_ROUTES) - probed == set()


def _sample(route: tuple[str, str]) -> Probe:
    method, template = route
    path = (
        template.replace("{key}", "global/x")
        .replace("{task_id}", "t1")
        .replace("{name}", "cp")
        .replace("{message_id}", "m1")
    )
    return Probe(route, path, json={"anything": 1} if method in ("PUT", "POST") else None)


@pytest.mark.parametrize("route", ALL_ROUTES, ids=" ".join)
def test_every_endpoint_needs_a_valid_token(world: World, route: tuple[str, str]) -> None:
    probe = _sample(route)
    revoked = bearer(create_token(world.hub, "mallory"))
    [info] = [t for t in list_tokens(world.hub) if t.agent == "mallory"]
    revoke_token(world.hub, info.id)
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer shub_0123456789abcdef_nope"},
        {"Authorization": "Basic Ym9iOnNlY3JldA=="},
        {"Authorization": f"bearer {create_token(world.hub, 'eve')}x"},
        revoked,
        {**revoked, "X-Statehub-Agent": "mallory"},
    ):
        response = probe.send(world.client, headers)
        assert response.status_code == 401, (route, headers, response.text)
        assert error_of(response) == {
            "type": "Unauthorized",
            "message": "a valid bearer token is required",
        }


def test_health_needs_no_token(world: World) -> None:
    assert world.client.get("/health").json() == {"status": "ok"}


def test_unknown_paths_under_v1_are_401_without_a_token(world: World) -> None:
    assert world.client.get("/v1/nothing/here").status_code == 401
    assert world.client.get("/v1/nothing/here", headers=world.alice).status_code == 404


def test_an_agent_token_cannot_act_as_another_agent(world: World) -> None:
    for probe in (_sample(("GET", "/v1/keys/{key}")), _sample(("GET", "/v1/scan"))):
        response = probe.send(world.client, {**world.alice, "X-Statehub-Agent": "bob"})
        assert response.status_code == 403
        assert error_of(response)["type"] == "AccessDenied"
