"""The JSON documents: the API's match its response models, the CLI's are the API's plus times.

The shapes are written once (:mod:`statehub.documents`); the response models of
:mod:`statehub.server.wire` document them for ``/openapi.json`` and restate the
fields of the dataclasses, so these tests hold the two together.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from typing import Any

import pytest
from pydantic import BaseModel

import statehub
from statehub.cli import documents as cli
from statehub.documents import (
    change_json,
    checkpoint_json,
    diff_json,
    entry_json,
    lock_json,
    message_json,
    task_json,
)
from statehub.model import Change
from statehub.server import wire
from statehub.tasks import Task


@pytest.fixture
def hub() -> Iterator[statehub.Hub]:
    with statehub.open("memory://") as opened:
        yield opened


def _members(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def test_each_api_document_has_exactly_its_response_models_members(hub: statehub.Hub) -> None:
    alice = hub.agent("alice")
    entry = alice.put("global/doc", {"title": "Draft"}, ttl=600)
    made = alice.checkpoint("draft")
    alice.merge("global/doc", {"title": "Final"})
    lease = alice.lock("global/plan", ttl=60)
    message = alice.send("bob", {"hello": 1})
    task = alice.tasks.create("Write", payload={"n": 1})
    documents: list[tuple[dict[str, Any], type[BaseModel]]] = [
        (entry_json(entry), wire.EntryModel),
        (change_json(hub.history()[-1]), wire.ChangeModel),
        (checkpoint_json(made), wire.CheckpointModel),
        (diff_json(hub.diff("draft")), wire.DiffModel),
        (lock_json(hub.locks()[0]), wire.LeaseModel),
        (message_json(message), wire.MessageModel),
        (task_json(task), wire.TaskModel),
    ]
    for document, model in documents:
        assert list(document) == _members(model), model.__name__
        model.model_validate(document)  # and the values have the documented types
    lease.release()


@pytest.mark.parametrize(("kind", "model"), [(Task, wire.TaskModel), (Change, wire.ChangeModel)])
def test_the_response_models_restate_the_dataclasses_fields(
    kind: type, model: type[BaseModel]
) -> None:
    assert [field.name for field in fields(kind)] == _members(model)


def test_the_cli_documents_are_the_apis_plus_iso_times(hub: statehub.Hub) -> None:
    alice = hub.agent("alice")
    entry = alice.put("global/doc", 1, ttl=600)
    made = alice.checkpoint("one")
    change = hub.history()[-1]
    assert cli.entry_document(entry) == {
        **entry_json(entry),
        "updated_at": cli.iso(entry.updated_ts),
        "expires_at": cli.iso(entry.expires_ts),
    }
    assert cli.change_document(change) == {**change_json(change), "time": cli.iso(change.timestamp)}
    assert cli.checkpoint_document(made) == {
        **checkpoint_json(made),
        "time": cli.iso(made.timestamp),
    }
    assert cli.diff_document(hub.diff(0)) == diff_json(hub.diff(0))
    assert cli.entry_document(entry)["expires_at"].endswith("+00:00")
