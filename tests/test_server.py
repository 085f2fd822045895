"""The HTTP server: bearer tokens, the key API, errors, privacy, and the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

import statehub
from statehub.server import Identity, authenticate, create_token, list_tokens, revoke_token
from statehub.server.app import create_app


@pytest.fixture(params=["memory", "sqlite"])
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[statehub.Hub]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'hub.db'}"
    with statehub.open(url) as opened:
        yield opened


@pytest.fixture
def client(hub: statehub.Hub) -> TestClient:
    return TestClient(create_app(hub, max_body_bytes=4096))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def alice(hub: statehub.Hub) -> dict[str, str]:
    return bearer(create_token(hub, "alice"))


@pytest.fixture
def bob(hub: statehub.Hub) -> dict[str, str]:
    return bearer(create_token(hub, "bob"))


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert isinstance(body["error"]["type"], str)
    assert isinstance(body["error"]["message"], str)
    assert "Traceback" not in response.text
    error: dict[str, Any] = body["error"]
    return error


# -- tokens ---------------------------------------------------------------------------


def test_tokens_map_to_their_agent_and_can_be_revoked(hub: statehub.Hub) -> None:
    token = create_token(hub, "alice")
    assert token.startswith("shub_")
    assert authenticate(hub, token) == Identity("alice")
    assert authenticate(hub, token + "x") is None
    assert authenticate(hub, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert authenticate(hub, "shub_nothing") is None
    assert authenticate(hub, "") is None
    [info] = list_tokens(hub)
    assert info.agent == "alice"
    assert token.startswith(f"shub_{info.id}_")
    assert revoke_token(hub, info.id)
    assert authenticate(hub, token) is None
    assert not revoke_token(hub, info.id)
    assert list_tokens(hub) == []
    with pytest.raises(statehub.InvalidArgument):
        revoke_token(hub, "../global")
    with pytest.raises(statehub.InvalidKey):
        create_token(hub, "not a name")


def test_tokens_are_stored_hashed(hub: statehub.Hub, tmp_path: Path) -> None:
    token = create_token(hub, "alice")
    secret = token.split("_", 2)[2]
    logged = orjson.dumps([change.patch for change in hub.history()]).decode()
    assert "alice" in logged
    assert token not in logged
    assert secret not in logged
    path = tmp_path / "export.json"
    hub.export(path, history=True)
    assert "_tokens/" in path.read_text()
    assert secret not in path.read_text()
    assert [change.op for change in hub.history()] == ["token-create"]
    assert hub.history()[0].agent == "operator"


def test_agents_cannot_reach_token_rows(hub: statehub.Hub, client: TestClient) -> None:
    token = create_token(hub, "alice")
    agent = hub.agent("alice")
    assert agent.scan() == {}
    assert agent.history() == []
    response = client.get("/v1/keys/_tokens/x", headers=bearer(token))
    assert response.status_code == 400
    assert error_of(response)["type"] == "InvalidKey"


# -- authentication -------------------------------------------------------------------


def test_health_needs_no_token(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer shub_0123456789abcdef_nope"},
        {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
        {"Authorization": "Bearer not-a-token"},
    ],
)
def test_requests_without_a_valid_token_get_401(
    client: TestClient, headers: dict[str, str]
) -> None:
    for response in (
        client.get("/v1/keys/global/x", headers=headers),
        client.put("/v1/keys/global/x", headers=headers, json=1),
        client.get("/v1/scan", headers=headers),
        client.get("/v1/history", headers=headers),
    ):
        assert response.status_code == 401
        assert error_of(response) == {
            "type": "Unauthorized",
            "message": "a valid bearer token is required",
        }


def test_a_revoked_token_gets_401(hub: statehub.Hub, client: TestClient) -> None:
    token = create_token(hub, "alice")
    assert client.put("/v1/keys/global/x", headers=bearer(token), json=1).status_code == 201
    [info] = list_tokens(hub)
    revoke_token(hub, info.id)
    assert client.get("/v1/keys/global/x", headers=bearer(token)).status_code == 401


def test_the_agent_is_the_tokens_never_the_bodys(
    hub: statehub.Hub, client: TestClient, alice: dict[str, str]
) -> None:
    body = {"agent": "bob", "updated_by": "bob"}
    response = client.put("/v1/keys/global/x?agent=bob", headers=alice, json=body)
    assert response.status_code == 201
    assert response.json()["updated_by"] == "alice"
    assert hub.history(key="global/x")[0].agent == "alice"


# -- keys -----------------------------------------------------------------------------


def test_put_get_round_trip_with_etag(client: TestClient, alice: dict[str, str]) -> None:
    value = {"title": "Draft", "tags": ["a", "b"], "n": 1.5, "ok": True, "none": None}
    created = client.put("/v1/keys/global/doc", headers=alice, json=value)
    assert created.status_code == 201
    assert created.headers["etag"] == '"1"'
    assert created.json()["version"] == 1
    assert created.json()["value"] == value
    response = client.get("/v1/keys/global/doc", headers=alice)
    assert response.status_code == 200
    assert response.json() == value
    assert response.headers["etag"] == '"1"'
    updated = client.put("/v1/keys/global/doc", headers=alice, json="final")
    assert updated.status_code == 200
    assert updated.headers["etag"] == '"2"'
    assert client.get("/v1/keys/global/doc", headers=alice).json() == "final"


def test_get_of_an_absent_key_is_404(client: TestClient, alice: dict[str, str]) -> None:
    response = client.get("/v1/keys/global/missing", headers=alice)
    assert response.status_code == 404
    assert error_of(response)["type"] == "NotFound"


def test_if_match_conflict_is_412_naming_the_current_version(
    client: TestClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    client.put("/v1/keys/global/doc", headers=alice, json="v1")
    client.put("/v1/keys/global/doc", headers=bob, json="v2")
    stale = client.put("/v1/keys/global/doc", headers={**alice, "If-Match": '"1"'}, json="mine")
    assert stale.status_code == 412
    error = error_of(stale)
    assert error["type"] == "ConflictError"
    assert error["current_version"] == 2
    assert "found version 2" in error["message"]
    fresh = client.put("/v1/keys/global/doc", headers={**alice, "If-Match": '"2"'}, json="mine")
    assert fresh.status_code == 200
    assert fresh.headers["etag"] == '"3"'
    bad = client.put("/v1/keys/global/doc", headers={**alice, "If-Match": "soon"}, json=1)
    assert bad.status_code == 400
    assert error_of(bad)["type"] == "InvalidArgument"


def test_if_none_match_star_creates_only(client: TestClient, alice: dict[str, str]) -> None:
    headers = {**alice, "If-None-Match": "*"}
    assert client.put("/v1/keys/global/once", headers=headers, json=1).status_code == 201
    again = client.put("/v1/keys/global/once", headers=headers, json=2)
    assert again.status_code == 412
    assert error_of(again)["current_version"] == 1
    assert client.get("/v1/keys/global/once", headers=alice).json() == 1


def test_merge_patch(client: TestClient, alice: dict[str, str], bob: dict[str, str]) -> None:
    merge = "application/merge-patch+json"
    client.put("/v1/keys/global/report", headers=alice, json={"draft": "x", "old": 1})
    response = client.patch(
        "/v1/keys/global/report",
        headers={**bob, "Content-Type": merge},
        content=b'{"review": "ok", "old": null}',
    )
    assert response.status_code == 200
    assert response.json()["value"] == {"draft": "x", "review": "ok"}
    assert response.headers["etag"] == '"2"'
    wrong_type = client.patch("/v1/keys/global/report", headers=bob, json={"a": 1})
    assert wrong_type.status_code == 415
    assert error_of(wrong_type)["type"] == "UnsupportedMediaType"
    stale = client.patch(
        "/v1/keys/global/report",
        headers={**bob, "Content-Type": merge, "If-Match": '"1"'},
        content=b'{"a": 1}',
    )
    assert stale.status_code == 412


def test_delete(client: TestClient, alice: dict[str, str]) -> None:
    client.put("/v1/keys/global/tmp", headers=alice, json=[1])
    stale = client.delete("/v1/keys/global/tmp", headers={**alice, "If-Match": '"7"'})
    assert stale.status_code == 412
    response = client.delete("/v1/keys/global/tmp", headers=alice)
    assert response.status_code == 200
    assert response.json()["deleted"]["value"] == [1]
    assert client.get("/v1/keys/global/tmp", headers=alice).status_code == 404
    assert client.delete("/v1/keys/global/tmp", headers=alice).status_code == 404


def test_scan_and_history(client: TestClient, alice: dict[str, str]) -> None:
    client.put("/v1/keys/global/a", headers=alice, json=1)
    client.put("/v1/keys/global/b", headers=alice, json=2)
    client.put("/v1/keys/task/t1/state", headers=alice, json="open")
    scan = client.get("/v1/scan", headers=alice, params={"prefix": "global/"})
    assert scan.json() == {"entries": {"global/a": 1, "global/b": 2}}
    history = client.get("/v1/history", headers=alice).json()["changes"]
    assert [(c["key"], c["agent"], c["op"]) for c in history] == [
        ("global/a", "alice", "put"),
        ("global/b", "alice", "put"),
        ("task/t1/state", "alice", "put"),
    ]
    revision = history[0]["revision"]
    later = client.get("/v1/history", headers=alice, params={"since": revision, "limit": 1})
    assert [c["key"] for c in later.json()["changes"]] == ["global/b"]
    by_key = client.get("/v1/history", headers=alice, params={"key": "global/a"})
    assert [c["version"] for c in by_key.json()["changes"]] == [1]
    bad = client.get("/v1/history", headers=alice, params={"since": "yesterday"})
    assert bad.status_code == 400
    assert error_of(bad)["type"] == "InvalidArgument"


# -- privacy and rules ----------------------------------------------------------------


def test_private_keys_stay_private(
    client: TestClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    assert client.put("/v1/keys/agent/bob/notes", headers=bob, json="secret").status_code == 201
    assert client.put("/v1/keys/agent/alice/notes", headers=alice, json="mine").status_code == 201
    for response in (
        client.get("/v1/keys/agent/bob/notes", headers=alice),
        client.put("/v1/keys/agent/bob/notes", headers=alice, json="x"),
        client.delete("/v1/keys/agent/bob/notes", headers=alice),
        client.get("/v1/scan", headers=alice, params={"prefix": "agent/bob/"}),
    ):
        assert response.status_code == 403
        assert error_of(response)["type"] == "AccessDenied"
    scan = client.get("/v1/scan", headers=alice).json()["entries"]
    assert scan == {"agent/alice/notes": "mine"}
    history = client.get("/v1/history", headers=alice).json()["changes"]
    assert [c["key"] for c in history] == ["agent/alice/notes"]
    everything = client.get("/v1/history", headers=alice, params={"prefix": "agent/"})
    assert "secret" not in everything.text
    assert client.get("/v1/keys/agent/bob/notes", headers=bob).json() == "secret"


@pytest.mark.parametrize(
    "path",
    ["/v1/keys/agent/b/%2E%2E/b/x", "/v1/keys/agent/bob/%2E%2E/bob/x", "/v1/keys/global//x"],
)
def test_dot_segments_and_bad_keys_are_400(
    client: TestClient, alice: dict[str, str], path: str
) -> None:
    for response in (
        client.get(path, headers=alice),
        client.put(path, headers=alice, json=1),
    ):
        assert response.status_code == 400, response.text
        assert error_of(response)["type"] == "InvalidKey"


def test_bad_bodies(client: TestClient, alice: dict[str, str]) -> None:
    not_json = client.put("/v1/keys/global/x", headers=alice, content=b"{nope")
    assert not_json.status_code == 400
    assert error_of(not_json)["type"] == "InvalidValue"
    too_big = client.put("/v1/keys/global/x", headers=alice, json="x" * 5000)
    assert too_big.status_code == 413
    assert error_of(too_big)["type"] == "BodyTooLarge"


def test_value_over_the_hub_limit_is_413(tmp_path: Path) -> None:
    with statehub.open("memory://", max_value_bytes=100) as hub:
        client = TestClient(create_app(hub))
        response = client.put(
            "/v1/keys/global/x", headers=bearer(create_token(hub, "a")), json="x" * 200
        )
        assert response.status_code == 413
        assert error_of(response)["type"] == "ValueTooLarge"


def test_owner_and_lock_rules(hub: statehub.Hub, client: TestClient, alice: dict[str, str]) -> None:
    hub.agent("bob").put("global/owned", "bob's", owner=True)
    owned = client.put("/v1/keys/global/owned", headers=alice, json="alice's")
    assert owned.status_code == 403
    assert error_of(owned)["type"] == "AccessDenied"
    with hub.agent("bob").lock("global/plan", ttl=30):
        locked = client.put("/v1/keys/global/plan", headers=alice, json=["x"])
        assert locked.status_code == 423
        assert error_of(locked)["type"] == "LockedError"
        assert "bob" in error_of(locked)["message"]
    assert client.put("/v1/keys/global/plan", headers=alice, json=["x"]).status_code == 201


def test_unknown_routes_are_json_errors(client: TestClient, alice: dict[str, str]) -> None:
    response = client.get("/v2/nothing", headers=alice)
    assert response.status_code == 404
    assert error_of(response)["type"] == "HTTPError"


def test_internal_errors_hide_their_details(
    hub: statehub.Hub, alice: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: statehub.Agent, key: str) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(statehub.Agent, "entry", broken)
    client = TestClient(create_app(hub), raise_server_exceptions=False)
    response = client.get("/v1/keys/global/x", headers=alice)
    assert response.status_code == 500
    assert error_of(response) == {"type": "InternalError", "message": "internal error"}
    assert "secret detail" not in response.text


def test_a_closed_hub_is_503(hub: statehub.Hub, alice: dict[str, str]) -> None:
    client = TestClient(create_app(hub))
    hub.close()
    response = client.get("/v1/keys/global/x", headers=alice)
    assert response.status_code == 503
    assert error_of(response)["type"] == "HubClosed"


# -- the command line -----------------------------------------------------------------


def test_token_cli_create_list_revoke(tmp_path: Path) -> None:
    from statehub.cli import main

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    created = runner.invoke(main, ["token", "create", "--url", url, "alice"])
    assert created.exit_code == 0, created.output
    token = created.output.strip()
    assert token.startswith("shub_")
    with statehub.open(url) as hub:
        client = TestClient(create_app(hub))
        response = client.put("/v1/keys/global/x", headers=bearer(token), json=1)
        assert response.status_code == 201
        assert response.json()["updated_by"] == "alice"
    listed = runner.invoke(main, ["token", "list", "--url", url])
    assert listed.exit_code == 0
    token_id = token.split("_")[1]
    assert token_id in listed.output
    assert "alice" in listed.output
    assert token not in listed.output
    revoked = runner.invoke(main, ["token", "revoke", "--url", url, token_id])
    assert revoked.exit_code == 0
    with statehub.open(url) as hub:
        assert authenticate(hub, token) is None
    again = runner.invoke(main, ["token", "revoke", "--url", url, token_id])
    assert again.exit_code == 1
    bad = runner.invoke(main, ["token", "create", "--url", url, "no such/name"])
    assert bad.exit_code == 1
    assert "error:" in bad.output


def test_serve_is_a_command() -> None:
    from statehub.cli import main

    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--port" in result.output
