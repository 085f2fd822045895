"""The conformance suite, messaging part: inboxes, views and agent memory.

This module follows the contract of :mod:`statehub.testing.conformance`: every
backend test takes the ``hub`` fixture (an open, fresh, empty hub on the backend
under test) and knows nothing of the backend it runs on. Run it with a star import
next to the other parts::

    from statehub.testing.conformance import *  # noqa: F403
    from statehub.testing.lifecycle import *  # noqa: F403
    from statehub.testing.messaging_suite import *  # noqa: F403

``__all__`` lists exactly the test functions, sorted (and none shares a name with
another part of the suite, which a test below checks), so the star import brings
in nothing else.

The sections: sending and receiving (:mod:`statehub.mailbox`), order, broadcast,
at-least-once delivery (visibility timeouts, acknowledgements, concurrent
receivers), waiting, privacy, updates and views (the lesson's message-passing
pattern), agent memory (:mod:`statehub.local`).

Time: nothing here sleeps to let another thread get somewhere: threads are
synchronised with :class:`threading.Event` and :class:`threading.Barrier`.
Visibility timeouts that must run out are a few tenths of a second, and the tests
wait for them by polling with a deadline of their own (:func:`_eventually`);
timeouts that must not run out are minutes long.

The asyncio API: on a fixture that is the blocking facade over an
:class:`~statehub.AsyncHub` (:mod:`statehub.testing.blocking`), ``agent.local`` is
the :class:`~statehub.AsyncLocalMemory` twin, which the facade does not wrap (it
wraps the handles it knows); :func:`_local` drives it through the same facade, so
the memory tests run against the async twin too.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

import statehub
from statehub.aio import AsyncLocalMemory
from statehub.local import DEFAULT_TOOL_CALL_WINDOW
from statehub.testing.blocking import Blocking
from statehub.testing.conformance import ALICE, BOB, CAROL, _writes_nothing

__all__ = [
    "test_a_message_is_immutable",
    "test_a_view_is_private_to_its_agent",
    "test_ack_of_a_message_for_another_agent_raises_access_denied_and_writes_nothing",
    "test_ack_with_a_bad_argument_raises_invalid_argument_and_writes_nothing",
    "test_acknowledged_message_is_never_delivered_again",
    "test_an_inbox_is_private_to_its_agent",
    "test_broadcast_is_one_commit_with_one_message_per_distinct_recipient",
    "test_concurrent_receivers_of_one_inbox_never_get_the_same_message_before_its_deadline",
    "test_concurrent_updates_and_views_apply_every_update_once_in_each_senders_order",
    "test_every_send_is_one_commit_attributed_to_the_sender",
    "test_local_memory_is_private_to_its_agent",
    "test_local_memory_remembers_recalls_and_forgets_under_the_agents_private_scope",
    "test_local_memory_with_bad_arguments_raises_and_writes_nothing",
    "test_log_tool_call_records_calls_in_order_in_one_commit_each",
    "test_messages_are_received_in_the_order_each_sender_sent_them",
    "test_messaging_suite_exports_exactly_its_tests_and_no_name_of_another_part",
    "test_receive_applies_updates_it_delivers_and_never_delivers_them_again",
    "test_receive_of_an_empty_inbox_returns_nothing_and_writes_nothing",
    "test_receive_returns_at_most_limit_messages_oldest_first",
    "test_receive_wait_returns_a_message_whose_visibility_timeout_runs_out_meanwhile",
    "test_receive_wait_returns_as_soon_as_another_thread_sends",
    "test_receive_wait_returns_nothing_once_the_wait_is_over",
    "test_receive_with_bad_arguments_raises_invalid_argument_and_writes_nothing",
    "test_send_of_a_body_that_is_not_json_raises_and_writes_nothing",
    "test_send_then_receive_then_ack_delivers_the_message_once_with_its_metadata",
    "test_send_to_an_invalid_agent_name_raises_invalid_key_and_writes_nothing",
    "test_send_update_with_a_bad_key_raises_invalid_argument_and_writes_nothing",
    "test_stale_ack_after_redelivery_returns_false_and_keeps_the_message",
    "test_tool_call_log_keeps_a_sliding_window",
    "test_unacknowledged_message_is_delivered_again_after_its_visibility_timeout",
    "test_view_applies_waiting_updates_and_consumes_them",
    "test_view_of_an_agent_without_updates_is_empty_and_writes_nothing",
    "test_views_built_from_updates_reproduce_the_lessons_output",
]

_PATIENCE = 10.0
"""The longest a test waits for a deadline to pass or a thread to get somewhere."""

_SHORT = 0.3
"""A visibility timeout that is meant to run out during the test."""

_LONG = 600.0
"""A visibility timeout that is meant not to run out during the test."""


# =========================================================================== helpers


def _eventually(condition: Callable[[], bool], what: str, *, interval: float = 0.01) -> None:
    """Poll ``condition`` until it holds; fail after :data:`_PATIENCE` seconds.

    Only for waiting for a clock (a visibility timeout to run out): threads are
    synchronised with events, never with this.
    """
    deadline = time.monotonic() + _PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not the case after {_PATIENCE} s: {what}")
        time.sleep(interval)


def _local(agent: statehub.Agent) -> statehub.LocalMemory:
    """``agent.local``; on the asyncio facade, its async twin driven through the facade."""
    local: Any = agent.local
    if isinstance(local, AsyncLocalMemory):
        return cast(statehub.LocalMemory, Blocking(local, cast(Any, agent)._loop))
    return cast(statehub.LocalMemory, local)


def _bodies(messages: list[statehub.Message]) -> list[Any]:
    return [message.body for message in messages]


def _drain(agent: statehub.Agent, *, limit: int = 10) -> list[statehub.Message]:
    """Receive and acknowledge until the inbox has nothing to deliver."""
    received: list[statehub.Message] = []
    while batch := agent.receive(limit=limit, visibility_timeout=_LONG):
        for message in batch:
            assert agent.ack(message)
        received += batch
    return received


def _redelivered(agent: statehub.Agent) -> list[statehub.Message]:
    """Receive (with a long visibility timeout) until a message comes: a deadline ran out."""
    received: list[statehub.Message] = []

    def some() -> bool:
        received.extend(agent.receive(visibility_timeout=_LONG))
        return bool(received)

    _eventually(some, f"a message to be delivered again to {agent.name}")
    return received


def _inbox_keys(changes: list[statehub.Change]) -> list[str]:
    return [change.key for change in changes if change.key.startswith("_inbox/")]


# =========================================================================== send, receive, ack


def test_send_then_receive_then_ack_delivers_the_message_once_with_its_metadata(
    hub: statehub.Hub,
) -> None:
    coordinator, researcher = hub.agent(ALICE), hub.agent(BOB)
    before = datetime.now(UTC)
    sent = coordinator.send(BOB, {"task": "Research AI"})
    after = datetime.now(UTC)
    assert (sent.sender, sent.recipient, sent.body, sent.kind) == (
        ALICE,
        BOB,
        {"task": "Research AI"},
        "message",
    )
    assert sent.deliveries == 0
    assert sent.revision == hub.revision == 1
    assert before - timedelta(seconds=1) <= sent.sent_at <= after + timedelta(seconds=1)

    [received] = researcher.receive(limit=10)
    assert (received.id, received.sender, received.recipient, received.body) == (
        sent.id,
        ALICE,
        BOB,
        {"task": "Research AI"},
    )
    assert (received.sent_at, received.kind, received.revision) == (
        sent.sent_at,
        "message",
        sent.revision,
    )
    assert received.deliveries == 1
    assert researcher.receive() == []  # in flight: not delivered again before its deadline
    assert researcher.ack(received) is True
    assert researcher.receive() == []
    assert researcher.ack(received) is True  # acknowledged already: still acknowledged


def test_a_message_is_immutable(hub: statehub.Hub) -> None:
    sent = hub.agent(ALICE).send(BOB, "hello")
    with pytest.raises(FrozenInstanceError):
        sent.body = "changed"  # type: ignore[misc]


def test_receive_of_an_empty_inbox_returns_nothing_and_writes_nothing(hub: statehub.Hub) -> None:
    hub.agent(ALICE).send(BOB, "for bob only")
    with _writes_nothing(hub):
        assert hub.agent(CAROL).receive() == []
        assert hub.agent(CAROL).receive(wait=0) == []


def test_receive_returns_at_most_limit_messages_oldest_first(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    for number in range(7):
        alice.send(BOB, number)
    first = bob.receive(limit=3, visibility_timeout=_LONG)
    second = bob.receive(limit=3, visibility_timeout=_LONG)
    third = bob.receive(limit=3, visibility_timeout=_LONG)
    assert (_bodies(first), _bodies(second), _bodies(third)) == ([0, 1, 2], [3, 4, 5], [6])
    assert bob.receive(limit=3) == []


def test_messages_are_received_in_the_order_each_sender_sent_them(hub: statehub.Hub) -> None:
    alice, bob, carol = hub.agent(ALICE), hub.agent(BOB), hub.agent(CAROL)
    sent: list[statehub.Message] = []
    for number in range(12):
        sender = alice if number % 3 else bob
        sent.append(sender.send(CAROL, {"from": sender.name, "n": number}))
    received = _drain(carol, limit=5)
    assert [message.id for message in received] == [message.id for message in sent]
    for name in (ALICE, BOB):
        mine = [message for message in received if message.sender == name]
        assert [message.body["n"] for message in mine] == sorted(m.body["n"] for m in mine)
        assert [message.id for message in mine] == sorted(message.id for message in mine)
    assert [message.revision for message in received] == list(range(1, 13))


def test_broadcast_is_one_commit_with_one_message_per_distinct_recipient(
    hub: statehub.Hub,
) -> None:
    coordinator = hub.agent(ALICE)
    sent = coordinator.send([BOB, CAROL, BOB], {"task": "Plan"})
    assert [message.recipient for message in sent] == [BOB, CAROL]
    assert len({message.id for message in sent}) == 1
    assert {message.revision for message in sent} == {hub.revision} == {1}
    changes = hub.history()
    assert [change.agent for change in changes] == [ALICE, ALICE]
    for name in (BOB, CAROL):
        [received] = hub.agent(name).receive()
        assert (received.id, received.sender, received.recipient, received.body) == (
            sent[0].id,
            ALICE,
            name,
            {"task": "Plan"},
        )
    update = coordinator.send_update((BOB, CAROL), "status", "go")
    assert [message.kind for message in update] == ["update", "update"]
    assert hub.agent(BOB).view() == hub.agent(CAROL).view() == {"status": "go"}


def test_every_send_is_one_commit_attributed_to_the_sender(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.send(BOB, "one")
    bob.send(ALICE, "two")
    alice.send_update(BOB, "k", "v")
    changes = hub.history()
    assert [(change.revision, change.agent) for change in changes] == [
        (1, ALICE),
        (2, BOB),
        (3, ALICE),
    ]
    assert [change.key.rsplit("/", 1)[0] for change in changes] == [
        f"_inbox/{BOB}",
        f"_inbox/{ALICE}",
        f"_inbox/{BOB}",
    ]
    assert [change.label for change in changes] == ["send", "send", "send_update"]


# =========================================================================== at least once


def test_unacknowledged_message_is_delivered_again_after_its_visibility_timeout(
    hub: statehub.Hub,
) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    sent = alice.send(BOB, "work")
    [first] = bob.receive(visibility_timeout=_SHORT)
    assert first.deliveries == 1
    assert bob.receive(visibility_timeout=_SHORT) == []
    [second] = _redelivered(bob)
    assert (second.id, second.body, second.deliveries) == (sent.id, "work", 2)
    assert bob.ack(second) is True
    assert bob.receive() == []


def test_stale_ack_after_redelivery_returns_false_and_keeps_the_message(
    hub: statehub.Hub,
) -> None:
    alice = hub.agent(ALICE)
    slow, fast = hub.agent(BOB), hub.agent(BOB)  # two workers draining one inbox
    alice.send(BOB, "work")
    [stale] = slow.receive(visibility_timeout=_SHORT)
    [current] = _redelivered(fast)
    with _writes_nothing(hub):
        assert slow.ack(stale) is False
    assert fast.ack(current) is True
    assert slow.ack(stale) is True  # gone now: acknowledged
    assert fast.receive() == []


def test_acknowledged_message_is_never_delivered_again(hub: statehub.Hub) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    alice.send(BOB, "acknowledged")
    kept = alice.send(BOB, "not acknowledged")
    first, second = bob.receive(visibility_timeout=_SHORT)  # one deadline for both
    assert bob.ack(first.id) is True  # by id works too
    again = _redelivered(bob)
    assert [(m.id, m.deliveries) for m in again] == [(kept.id, 2)]
    assert second.id == kept.id
    assert bob.ack(again[0]) is True
    assert bob.receive() == []


def test_concurrent_receivers_of_one_inbox_never_get_the_same_message_before_its_deadline(
    hub: statehub.Hub,
) -> None:
    sender = hub.agent(ALICE)
    total = 60
    for number in range(total):
        sender.send(BOB, number)
    workers = 4
    start = threading.Barrier(workers)

    def work() -> list[statehub.Message]:
        agent = hub.agent(BOB)
        start.wait(_PATIENCE)
        mine: list[statehub.Message] = []
        while batch := agent.receive(limit=3, visibility_timeout=_LONG):
            mine += batch
        return mine

    with ThreadPoolExecutor(workers) as pool:
        results = [
            future.result(_PATIENCE * 6) for future in [pool.submit(work) for _ in range(workers)]
        ]
    every = [message.body for result in results for message in result]
    assert sorted(every) == list(range(total))  # each once: none lost, none twice
    for result in results:
        assert _bodies(result) == sorted(_bodies(result))  # each worker: in send order
        assert {message.deliveries for message in result} <= {1}


# =========================================================================== waiting


def test_receive_wait_returns_as_soon_as_another_thread_sends(hub: statehub.Hub) -> None:
    receiving = threading.Event()

    def send() -> None:
        assert receiving.wait(_PATIENCE)
        hub.agent(ALICE).send(BOB, "wake up")

    thread = threading.Thread(target=send)
    thread.start()
    try:
        started = time.monotonic()
        receiving.set()
        received = hub.agent(BOB).receive(wait=_PATIENCE * 3)
        elapsed = time.monotonic() - started
    finally:
        thread.join(_PATIENCE)
    assert _bodies(received) == ["wake up"]
    assert elapsed < _PATIENCE * 2  # woken by the send, not by the end of the wait


def test_receive_wait_returns_nothing_once_the_wait_is_over(hub: statehub.Hub) -> None:
    hub.agent(ALICE).send(CAROL, "not for bob")
    started = time.monotonic()
    with _writes_nothing(hub):
        assert hub.agent(BOB).receive(wait=0.2) == []
    assert time.monotonic() - started >= 0.2


def test_receive_wait_returns_a_message_whose_visibility_timeout_runs_out_meanwhile(
    hub: statehub.Hub,
) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    sent = alice.send(BOB, "retry me")
    [first] = bob.receive(visibility_timeout=_SHORT)
    started = time.monotonic()
    [second] = bob.receive(wait=_PATIENCE * 3, visibility_timeout=_LONG)
    assert time.monotonic() - started < _PATIENCE * 2  # woken by the deadline
    assert (first.id, second.id, second.deliveries) == (sent.id, sent.id, 2)


# =========================================================================== privacy, errors


def test_an_inbox_is_private_to_its_agent(hub: statehub.Hub) -> None:
    alice, bob, carol = hub.agent(ALICE), hub.agent(BOB), hub.agent(CAROL)
    sent = alice.send(BOB, {"secret": 1})
    key = f"_inbox/{BOB}/{sent.id}"
    with _writes_nothing(hub):
        assert carol.receive() == []
        for agent in (alice, carol, bob):
            with pytest.raises(statehub.InvalidKey):
                agent.get(key)
            with pytest.raises(statehub.InvalidKey):
                agent.put(key, "forged")
            with pytest.raises(statehub.InvalidKey):
                agent.history(key=key)
    [received] = bob.receive()
    bob.ack(received)
    assert _inbox_keys(hub.history()) == [key, key, key]  # the operator sees it all
    for agent in (alice, bob, carol):
        assert _inbox_keys(agent.history()) == []
        assert not [k for k in agent.scan("") if k.startswith("_")]
        assert _inbox_keys(list(agent.watch("", since=0, timeout=0))) == []


def test_a_view_is_private_to_its_agent(hub: statehub.Hub) -> None:
    alice, bob, carol = hub.agent(ALICE), hub.agent(BOB), hub.agent(CAROL)
    alice.send_update(BOB, "findings", "secret")
    assert bob.view() == {"findings": "secret"}
    with _writes_nothing(hub):
        for other in (alice, carol):
            with pytest.raises(statehub.AccessDenied):
                other.get(f"agent/{BOB}/view")
            assert f"agent/{BOB}/view" not in other.scan("")
            assert [c for c in other.history() if c.key.startswith(f"agent/{BOB}/")] == []
            assert other.view() == {}
    assert [c.key for c in bob.history() if c.key.startswith("agent/")] == [f"agent/{BOB}/view"]


def test_ack_of_a_message_for_another_agent_raises_access_denied_and_writes_nothing(
    hub: statehub.Hub,
) -> None:
    alice, bob, carol = hub.agent(ALICE), hub.agent(BOB), hub.agent(CAROL)
    alice.send(BOB, "for bob")
    [received] = bob.receive(visibility_timeout=_LONG)
    with _writes_nothing(hub):
        with pytest.raises(statehub.AccessDenied) as info:
            carol.ack(received)
        assert (info.value.agent, info.value.owner) == (CAROL, BOB)
        assert carol.ack(received.id) is True  # an id acts on carol's own inbox only
    assert bob.ack(received) is True


def test_send_to_an_invalid_agent_name_raises_invalid_key_and_writes_nothing(
    hub: statehub.Hub,
) -> None:
    alice = hub.agent(ALICE)
    with _writes_nothing(hub):
        for bad in ("", "no spaces", "../bob", "_statehub", "a/b", "x" * 129):
            with pytest.raises(statehub.InvalidKey):
                alice.send(bad, "hello")
            with pytest.raises(statehub.InvalidKey):
                alice.send([BOB, bad], "hello")
            with pytest.raises(statehub.InvalidKey):
                alice.send_update(bad, "k", "v")
        with pytest.raises(statehub.InvalidKey):
            alice.send([BOB, 7], "hello")  # type: ignore[list-item]
        with pytest.raises(statehub.InvalidArgument):
            alice.send([], "hello")
        with pytest.raises(statehub.InvalidArgument):
            alice.send(7, "hello")  # type: ignore[call-overload]
    assert hub.agent(BOB).receive() == []


def test_send_of_a_body_that_is_not_json_raises_and_writes_nothing(hub: statehub.Hub) -> None:
    alice = hub.agent(ALICE)
    with _writes_nothing(hub):
        with pytest.raises(statehub.InvalidValue):
            alice.send(BOB, {"when": datetime.now(UTC)})
        with pytest.raises(statehub.InvalidValue):
            alice.send_update(BOB, "k", {1, 2})
        hub.max_value_bytes = 100
        with pytest.raises(statehub.ValueTooLarge):
            alice.send(BOB, "x" * 200)


def test_send_update_with_a_bad_key_raises_invalid_argument_and_writes_nothing(
    hub: statehub.Hub,
) -> None:
    alice = hub.agent(ALICE)
    with _writes_nothing(hub):
        for bad in ("", None, 3):
            with pytest.raises(statehub.InvalidArgument):
                alice.send_update(BOB, bad, "v")  # type: ignore[arg-type]


def test_receive_with_bad_arguments_raises_invalid_argument_and_writes_nothing(
    hub: statehub.Hub,
) -> None:
    bob = hub.agent(BOB)
    hub.agent(ALICE).send(BOB, "waiting")
    with _writes_nothing(hub):
        for kwargs in (
            {"limit": 0},
            {"limit": 1.5},
            {"limit": True},
            {"wait": -1},
            {"wait": "5"},
            {"visibility_timeout": 0},
            {"visibility_timeout": -1.0},
            {"visibility_timeout": None},
        ):
            with pytest.raises(statehub.InvalidArgument):
                bob.receive(**kwargs)
    assert _bodies(bob.receive()) == ["waiting"]


def test_ack_with_a_bad_argument_raises_invalid_argument_and_writes_nothing(
    hub: statehub.Hub,
) -> None:
    bob = hub.agent(BOB)
    hub.agent(ALICE).send(BOB, "waiting")
    with _writes_nothing(hub):
        for bad in ("not-an-id", "../x", 3, None):
            with pytest.raises(statehub.InvalidArgument):
                bob.ack(bad)  # type: ignore[arg-type]


# =========================================================================== updates and views


def test_views_built_from_updates_reproduce_the_lessons_output(hub: statehub.Hub) -> None:
    coordinator, researcher, writer = (
        hub.agent("coordinator"),
        hub.agent("researcher"),
        hub.agent("writer"),
    )
    coordinator.send_update("researcher", "task", "Research AI")
    coordinator.send_update("writer", "task", "Write report")
    researcher.send_update("writer", "findings", "5 key trends")
    researcher.send_update("coordinator", "status", "complete")
    views = {agent.name: agent.view() for agent in (coordinator, researcher, writer)}
    assert views == {
        "coordinator": {"status": "complete"},
        "researcher": {"task": "Research AI"},
        "writer": {"task": "Write report", "findings": "5 key trends"},
    }
    assert list(views["writer"]) == ["task", "findings"]  # in the order they were sent
    assert str(views["writer"]) == "{'task': 'Write report', 'findings': '5 key trends'}"


def test_view_of_an_agent_without_updates_is_empty_and_writes_nothing(hub: statehub.Hub) -> None:
    hub.agent(ALICE).send(BOB, "a plain message is not an update")
    with _writes_nothing(hub):
        assert hub.agent(BOB).view() == {}
        assert hub.agent(CAROL).view() == {}


def test_view_applies_waiting_updates_and_consumes_them(hub: statehub.Hub) -> None:
    alice, bob, carol = hub.agent(ALICE), hub.agent(BOB), hub.agent(CAROL)
    alice.send_update(BOB, "task", "draft")
    plain = carol.send(BOB, "a plain message")
    carol.send_update(BOB, "findings", ["a"])
    alice.send_update(BOB, "task", "final")
    revision = hub.revision
    assert bob.view() == {"task": "final", "findings": ["a"]}
    assert hub.revision == revision + 1  # one commit applied all three
    [change] = [c for c in hub.history(since=revision) if c.key == f"agent/{BOB}/view"]
    assert change.agent == BOB
    assert [(u["sender"], u["key"], u["value"]) for u in change.cause["action"]] == [
        (ALICE, "task", "draft"),
        (CAROL, "findings", ["a"]),
        (ALICE, "task", "final"),
    ]
    with _writes_nothing(hub):
        assert bob.view() == {"task": "final", "findings": ["a"]}
    [received] = bob.receive()  # the updates are consumed; the plain message is not
    assert (received.id, received.kind) == (plain.id, "message")
    assert bob.get(f"agent/{BOB}/view") == {"task": "final", "findings": ["a"]}


def test_receive_applies_updates_it_delivers_and_never_delivers_them_again(
    hub: statehub.Hub,
) -> None:
    alice, bob = hub.agent(ALICE), hub.agent(BOB)
    sent = alice.send_update(BOB, "findings", "5 key trends")
    alice.send(BOB, "read the findings")
    update, message = bob.receive(visibility_timeout=_SHORT)
    assert (update.id, update.kind, update.body, update.deliveries) == (
        sent.id,
        "update",
        {"key": "findings", "value": "5 key trends"},
        1,
    )
    assert message.kind == "message"
    assert bob.get(f"agent/{BOB}/view") == {"findings": "5 key trends"}  # applied already
    assert bob.ack(update) is True  # accepted, nothing left to delete
    redelivered = _redelivered(bob)
    assert [(m.kind, m.deliveries) for m in redelivered] == [("message", 2)]
    assert bob.view() == {"findings": "5 key trends"}


def test_concurrent_updates_and_views_apply_every_update_once_in_each_senders_order(
    hub: statehub.Hub,
) -> None:
    per_sender = 15
    senders = (ALICE, CAROL)
    start = threading.Barrier(len(senders) + 2)

    def send(name: str) -> None:
        agent = hub.agent(name)
        start.wait(_PATIENCE)
        for number in range(per_sender):
            agent.send_update(BOB, name, number)
            agent.send_update(BOB, f"{name}-count", number + 1)

    seen: list[dict[str, Any]] = []

    def look(receiving: bool) -> None:
        agent = hub.agent(BOB)
        start.wait(_PATIENCE)
        for _ in range(per_sender):
            if receiving:
                agent.receive(limit=3)
            else:
                seen.append(agent.view())

    with ThreadPoolExecutor(len(senders) + 2) as pool:
        futures = [pool.submit(send, name) for name in senders]
        futures += [pool.submit(look, True), pool.submit(look, False)]
        for future in futures:
            future.result(_PATIENCE * 6)
    final = hub.agent(BOB).view()
    expected = {}
    for name in senders:
        expected[name] = per_sender - 1
        expected[f"{name}-count"] = per_sender
    assert final == expected
    for view in seen:  # every view seen is a state the senders' order allows
        for name in senders:
            if name in view:
                assert view.get(f"{name}-count", 0) in (view[name], view[name] + 1), view
    changes = hub.history(key=f"agent/{BOB}/view")
    applied = [u for change in changes for u in change.cause["action"]]
    for name in senders:
        assert [u["value"] for u in applied if u["key"] == name] == list(range(per_sender))


# =========================================================================== agent memory


def test_local_memory_remembers_recalls_and_forgets_under_the_agents_private_scope(
    hub: statehub.Hub,
) -> None:
    researcher = hub.agent("researcher")
    memory = _local(researcher)
    entry = memory.remember("search_queries", ["AI trends 2025", "ML adoption"])
    assert (entry.key, entry.updated_by) == ("agent/researcher/memory/search_queries", "researcher")
    memory.remember("notes/today", {"seen": 3})
    assert memory.recall("search_queries") == ["AI trends 2025", "ML adoption"]
    assert memory.recall("missing") is None
    assert memory.recall("missing", default="none") == "none"
    assert memory.memories() == {
        "notes/today": {"seen": 3},
        "search_queries": ["AI trends 2025", "ML adoption"],
    }
    recalled = memory.recall("notes/today")
    recalled["seen"] = 99  # a copy
    assert memory.recall("notes/today") == {"seen": 3}
    assert memory.forget("notes/today") is True
    assert memory.forget("notes/today") is False
    assert memory.recall("notes/today") is None
    assert researcher.get("agent/researcher/memory/search_queries") == entry.value


def test_log_tool_call_records_calls_in_order_in_one_commit_each(hub: statehub.Hub) -> None:
    researcher = hub.agent("researcher")
    memory = _local(researcher)
    first = memory.log_tool_call("web_search", "AI trends 2025", "12 results")
    revision = hub.revision
    second = memory.log_tool_call("read_page", {"url": "https://example.com"}, ["text"])
    assert hub.revision == revision + 1
    assert (first["tool"], first["input"], first["output"]) == (
        "web_search",
        "AI trends 2025",
        "12 results",
    )
    assert datetime.fromisoformat(first["time"]).tzinfo is not None
    assert memory.tool_calls() == [first, second]
    assert memory.tool_calls(limit=1) == [second]
    assert memory.tool_calls(limit=0) == []
    [change] = hub.history(since=revision)
    assert (change.key, change.agent, change.label) == (
        "agent/researcher/tool_calls",
        "researcher",
        "read_page",
    )


def test_tool_call_log_keeps_a_sliding_window(hub: statehub.Hub) -> None:
    memory = _local(hub.agent("researcher"))
    window = DEFAULT_TOOL_CALL_WINDOW
    assert window == 100
    for number in range(window + 5):
        memory.log_tool_call("count", number, number + 1)
    calls = memory.tool_calls()
    assert [call["input"] for call in calls] == list(range(5, window + 5))
    memory.log_tool_call("count", "small", None, window=3)
    assert [call["input"] for call in memory.tool_calls()] == [window + 3, window + 4, "small"]

    def log_ten() -> None:
        for number in range(10):
            memory.log_tool_call("t", number, number, window=50)

    threads = [threading.Thread(target=log_ten) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(_PATIENCE * 3)
    assert len(memory.tool_calls()) == 33  # concurrent calls lose none; 3 + 30 <= 50


def test_local_memory_is_private_to_its_agent(hub: statehub.Hub) -> None:
    researcher, coordinator = hub.agent("researcher"), hub.agent("coordinator")
    _local(researcher).remember("plan", "secret")
    _local(researcher).log_tool_call("web_search", "q", "r")
    with _writes_nothing(hub):
        for key in ("agent/researcher/memory/plan", "agent/researcher/tool_calls"):
            with pytest.raises(statehub.AccessDenied):
                coordinator.get(key)
        assert not [k for k in coordinator.scan("") if k.startswith("agent/researcher/")]
        assert not [c for c in coordinator.history() if c.key.startswith("agent/researcher/")]
        assert _local(coordinator).recall("plan") is None
        assert _local(coordinator).tool_calls() == []
        assert _local(coordinator).memories() == {}
    with pytest.raises(statehub.AccessDenied):
        coordinator.put("agent/researcher/memory/plan", "overwritten")
    assert _local(researcher).recall("plan") == "secret"


def test_local_memory_with_bad_arguments_raises_and_writes_nothing(hub: statehub.Hub) -> None:
    memory = _local(hub.agent("researcher"))
    with _writes_nothing(hub):
        for bad_key in ("", "a//b", "../x", "bad key", 3):
            with pytest.raises(statehub.InvalidKey):
                memory.remember(bad_key, 1)  # type: ignore[arg-type]
            with pytest.raises(statehub.InvalidKey):
                memory.recall(bad_key)  # type: ignore[arg-type]
        with pytest.raises(statehub.InvalidValue):
            memory.remember("when", datetime.now(UTC))
        with pytest.raises(statehub.InvalidValue):
            memory.log_tool_call("t", {1}, None)
        for bad_window in (0, -1, 1.5, True):
            with pytest.raises(statehub.InvalidArgument):
                memory.log_tool_call("t", 1, 2, window=bad_window)  # type: ignore[arg-type]
        with pytest.raises(statehub.InvalidArgument):
            memory.log_tool_call("", 1, 2)
        with pytest.raises(statehub.InvalidArgument):
            memory.tool_calls(limit=-1)


# =========================================================================== the suite itself


def test_messaging_suite_exports_exactly_its_tests_and_no_name_of_another_part() -> None:
    tests = {
        name
        for name, value in globals().items()
        if name.startswith("test_") and inspect.isfunction(value)
    }
    assert sorted(__all__) == sorted(tests) == __all__
    import statehub.testing as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name == __name__.rsplit(".", 1)[1]:
            continue
        other = importlib.import_module(f"{package.__name__}.{info.name}")
        assert not set(__all__) & set(getattr(other, "__all__", ())), info.name
