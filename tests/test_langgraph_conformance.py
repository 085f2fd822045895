"""LangGraph's own checkpointer conformance suite, on every statehub backend (and server).

Every capability must be detected *and* passed: the report's level says FULL even
when the extended capabilities are merely not detected, so each one is checked.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES

import statehub
from statehub.integrations.langgraph import StatehubSaver
from tests.conftest import postgres_url, remote_url, shared_server

HUBS: dict[str, Callable[[Path], statehub.Hub]] = {
    "memory": lambda tmp: statehub.open("memory://"),
    "sqlite": lambda tmp: statehub.open(f"sqlite:///{tmp}/hub.db"),
    "postgres": lambda tmp: statehub.open(postgres_url()),
    # a statehub server process, through the remote backend
    "remote": lambda tmp: statehub.open(remote_url(), token=shared_server().admin_token),
}


@pytest.mark.parametrize("backend", sorted(HUBS))
def test_langgraph_conformance_every_capability_detected_and_passed(
    backend: str, tmp_path: Path
) -> None:
    hubs: list[statehub.Hub] = []

    async def factory() -> AsyncIterator[StatehubSaver]:
        hub = HUBS[backend](tmp_path)
        hubs.append(hub)
        with StatehubSaver(hub) as saver:
            yield saver

    registered = checkpointer_test(name=f"StatehubSaver[{backend}]")(factory)
    try:
        report = asyncio.run(validate(registered))
    finally:
        for hub in hubs:
            hub.close()
    results = report.to_dict()["results"]
    assert set(results) == {capability.value for capability in ALL_CAPABILITIES}
    failures = {
        name: result
        for name, result in results.items()
        if not (result["detected"] and result["passed"])
    }
    assert not failures, failures
