"""The conformance suite, run on every backend of ``conftest.BACKENDS``.

The tests themselves live in :mod:`statehub.testing.conformance`, so that a backend
outside this repository can run exactly the same ones. Below them, a few tests of
opening hubs by URL, which the backend-neutral suite cannot express.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import statehub
from statehub.testing import conformance
from statehub.testing.conformance import *  # noqa: F403
from statehub.testing.lifecycle import *  # noqa: F403
from statehub.testing.messaging_suite import *  # noqa: F403
from statehub.testing.tasks_suite import *  # noqa: F403


def test_the_suite_exports_exactly_its_tests() -> None:
    tests = {
        name
        for name, value in vars(conformance).items()
        if name.startswith("test_") and inspect.isfunction(value)
    }
    assert sorted(conformance.__all__) == sorted(tests)
    assert len(conformance.__all__) == len(set(conformance.__all__))


# --------------------------------------------------------------------------- opening hubs


URLS = pytest.mark.parametrize(
    "url", ["memory://", "sqlite:///{tmp_path}/hub.db"], ids=["memory", "sqlite"]
)
"""Hub URLs with ``{tmp_path}`` to fill in."""


@URLS
def test_open_with_max_value_bytes_refuses_larger_values(tmp_path: Path, url: str) -> None:
    with statehub.open(url.format(tmp_path=tmp_path), max_value_bytes=10) as hub:
        agent = hub.agent("alice")
        agent.put("global/x", "12345678")
        with pytest.raises(statehub.ValueTooLarge) as info:
            agent.put("global/x", "123456789")
        assert (info.value.size, info.value.limit) == (11, 10)
        assert hub.revision == 1


@URLS
def test_max_value_bytes_can_be_given_in_the_url(tmp_path: Path, url: str) -> None:
    with statehub.open(url.format(tmp_path=tmp_path) + "?max_value_bytes=10") as hub:
        with pytest.raises(statehub.ValueTooLarge):
            hub.agent("alice").put("global/x", "123456789")
        assert hub.revision == 0


def test_open_without_a_url_uses_statehub_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/from-env.db"
    monkeypatch.setenv("STATEHUB_URL", url)
    with statehub.open() as hub:
        hub.agent("coordinator").put("global/task_status", "in_progress")
    assert (tmp_path / "from-env.db").exists()
    with statehub.open(url) as hub:
        assert hub.agent("reader").get("global/task_status") == "in_progress"


def test_open_as_a_context_manager_closes_the_hub(tmp_path: Path) -> None:
    with statehub.open(f"sqlite:///{tmp_path}/hub.db") as hub:
        hub.agent("alice").put("global/x", 1)
    with pytest.raises(statehub.HubClosed):
        hub.agent("alice").get("global/x")


def test_sqlite_hub_keeps_state_history_and_revision_across_opens(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/hub.db"
    with statehub.open(url) as hub:
        alice = hub.agent("alice")
        alice.put("global/doc", {"v": 1})
        alice.merge("global/doc", {"w": 2})
        alice.put("agent/alice/notes", "mine")
        alice.delete("agent/alice/notes")
        history = hub.history()
    with statehub.open(url) as hub:
        assert hub.revision == 4
        assert hub.history() == history
        alice = hub.agent("alice")
        assert alice.get("global/doc") == {"v": 1, "w": 2}
        assert alice.get("global/doc", at=1) == {"v": 1}
        assert alice.get("agent/alice/notes", at=3) == "mine"
        assert alice.put("global/doc", 3).modified_rev == 5
