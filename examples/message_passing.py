"""Message-passing state, made real with statehub.

Mirrors the lesson's "Pattern 2: Message-Passing State" (``MessagePassingState``):
state is never shared directly; agents send state updates as messages, and each
agent keeps its own view. Here:

1. ``send_update(to, key, value)`` puts an update into the recipient's durable
   inbox, in one commit attributed to the sender; ``view()`` is the recipient's own
   view (the private key ``agent/<name>/view``), built from the updates it
   received, in the order they were sent. The lesson's output, line for line.
2. Plain messages: ``send``, then ``receive`` and ``ack``. A message stays in the
   inbox until acknowledged (it survives restarts); one received but not
   acknowledged within its visibility timeout is delivered again.
3. Views and inboxes are private: another agent cannot read them, and statehub's
   audit log says who sent what.
4. Agent memory (the lesson's ``AgentLocalState``): ``agent.local``.

Run:  python examples/message_passing.py [FILE]    (default: an in-memory hub)
"""

from __future__ import annotations

import sys

import statehub

AGENTS = ("coordinator", "researcher", "writer")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    with statehub.open(args[0] if args else "memory://") as hub:
        coordinator, researcher, writer = (hub.agent(name) for name in AGENTS)
        print("Message-passing state:\n")
        start = hub.revision

        def send_update(sender: statehub.Agent, to: str, key: str, value: str) -> None:
            sent = sender.send_update(to, key, value)
            print(f"  {sent.sender} → {sent.recipient}: state['{key}'] = {value}")

        # Coordinator shares task info
        send_update(coordinator, "researcher", "task", "Research AI")
        send_update(coordinator, "writer", "task", "Write report")

        # Researcher shares findings
        send_update(researcher, "writer", "findings", "5 key trends")
        send_update(researcher, "coordinator", "status", "complete")
        sent = hub.revision

        print("\nAgent views:")
        for agent in (coordinator, researcher, writer):
            print(f"  {agent.name}: {agent.view()}")

        print("\nEach send is one commit by its sender:")
        for change in hub.history(since=start, until=sent):
            recipient = change.key.split("/")[1]
            print(f"  rev {change.revision}: {change.agent} → {recipient} ({change.label})")

        print("\nMessages wait in the inbox until acknowledged:")
        coordinator.send(["researcher", "writer"], {"deadline": "Friday"})
        for agent in (researcher, writer):
            for message in agent.receive(limit=10, wait=5):
                print(
                    f"  {agent.name} received {message.body} from {message.sender} "
                    f"(delivery {message.deliveries})"
                )
                agent.ack(message)
        print(f"  researcher's inbox afterwards: {researcher.receive()}")

        print("\nViews are private:")
        try:
            writer.get("agent/researcher/view")
        except statehub.AccessDenied as exc:
            print(f"  statehub.AccessDenied: {exc}")

        print("\nResearcher local state:")
        researcher.local.remember("search_queries", ["AI trends 2025", "ML adoption"])
        researcher.local.log_tool_call("web_search", "AI trends 2025", "12 results")
        print(f"  Queries: {researcher.local.recall('search_queries')}")
        print(f"  Tool calls: {len(researcher.local.tool_calls())}")


if __name__ == "__main__":
    main()
