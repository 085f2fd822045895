"""Run every script in examples/ as a real subprocess and check what it prints."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# For each example, lines its output must contain, whole and in this order.
EXPECTED: dict[str, list[str]] = {
    "quickstart.py": [
        "put       task_status = 'pending' (v1, rev 1)",
        "get       researcher reads 'pending' (v1, by coordinator)",
        "conflict  researcher expected v1, key is at v2",
        "merge     report = {'title': 'AI Trends 2025', 'research': 'Complete', "
        "'draft': 'Written'} (v2)",
        "dispatch  log = ['Start research', 'Found 5 papers'] (v2)",
        "history",
        "  rev 1  coordinator put      global/task_status",
        "  rev 2  coordinator put      global/task_status",
        "  rev 3  researcher  merge    global/report",
        "  rev 4  writer      merge    global/report",
        "  rev 5  researcher  dispatch global/log",
        "  rev 6  researcher  dispatch global/log",
    ],
    "global_and_local_state.py": [
        "Researcher reads topics: ['AI', 'ML', 'NLP']",
        "  statehub.AccessDenied: agent 'coordinator' may not access "
        "'agent/researcher/search_queries': keys under agent/researcher/ are private to it",
        "  Coordinator sees 3 keys: ['global/research_results', 'global/research_topics', "
        "'global/task_status']",
        "Global state snapshot:",
        "  task_status: in_progress (by coordinator, v1)",
        "  research_topics: ['AI', 'ML', 'NLP'] (by coordinator, v1)",
        "  research_results: {'AI': '72% adoption', 'ML': 'Growing 30% YoY'} (by researcher, v1)",
        "Researcher local state:",
        "  Queries: ['AI trends 2025', 'ML adoption']",
        "  Tool calls: 1",
    ],
    "centralized_store.py": [
        "  ✅ coordinator wrote 'task_plan': ['step1', 'step2', 'step3'] (v1, owner: coordinator)",
        "  ⚠ researcher: Key 'task_plan' refused (AccessDenied): the key is owned by 'coordinator'",
        "  Researcher reads 'task_plan': ['step1', 'step2', 'step3']",
        "  ✅ Research output: findings here",
        "  rev 1: coordinator put global/task_plan",
        "  rev 2: researcher put global/research_output",
    ],
    "last_write_wins.py": [
        "Last-Write-Wins:",
        "  ✅ writer wrote 'summary': Initial draft",
        "  ⚠ editor overwrote writer's value for 'summary': Initial draft → Revised draft",
        "  ⚠ reviewer overwrote editor's value for 'summary': Revised draft → Final version",
        "Final: Final version (v3, by reviewer)",
        "  rev 1: v1 by writer: Initial draft",
        "  rev 2: v2 by editor: Revised draft",
        "  rev 3: v3 by reviewer: Final version",
    ],
    "versioned_state.py": [
        "Version-based conflict resolution:",
        "  agent_a reads 'document': v0",
        "  agent_b reads 'document': v0",
        "  ✅ agent_a: Wrote 'document' = Agent A's edit (v1)",
        "  ❌ agent_b: Version conflict on 'document'! Expected v0, current is v1",
        "  ✅ agent_b: Wrote 'document' = Agent B's edit (retry) (v2)",
        '  agent_b: attempt 1 read v2: "Agent B\'s edit (retry)"',
        "  ✅ agent_a: Wrote 'document' = Agent A's second edit (v3)",
        '  agent_b: attempt 2 read v3: "Agent A\'s second edit"',
        "  ✅ agent_b: update wrote 'document' = Agent A's second edit + B's note (v4) "
        "after 2 attempts, on top of agent_a's v3",
    ],
    "mergeable_state.py": [
        "  researcher merged into 'report': ['title', 'research'] (v1)",
        "  writer merged into 'report': ['draft', 'word_count'] (v2)",
        "  reviewer merged into 'report': ['reviewed', 'score'] (v3)",
        "Merged report state:",
        "  title: AI Trends 2025",
        "  research: Complete",
        "  draft: Written",
        "  word_count: 2500",
        "  reviewed: True",
        "  score: 0.92",
        "  'notes' has 60/60 fields (v60)",
    ],
    "reducer_state.py": [
        "  coordinator dispatched ADD_MESSAGE on 'messages' (v1)",
        "  researcher dispatched ADD_MESSAGE on 'messages' (v2)",
        "  coordinator dispatched ADD_TASK on 'tasks' (v1)",
        "  researcher dispatched COMPLETE_TASK on 'tasks' (v2)",
        "Messages: 2 total",
        "  coordinator: Start research",
        "  researcher: Found 5 papers",
        "Tasks: 1/1 completed",
        "  rev 1: coordinator ADD_MESSAGE on global/messages",
        "  rev 4: researcher COMPLETE_TASK on global/tasks",
        "  Messages: 2 total",
        "  Tasks: 1/1 completed",
        "  Same result as the lesson's reducers: True",
    ],
    "message_passing.py": [
        "Message-passing state:",
        "  coordinator → researcher: state['task'] = Research AI",
        "  coordinator → writer: state['task'] = Write report",
        "  researcher → writer: state['findings'] = 5 key trends",
        "  researcher → coordinator: state['status'] = complete",
        "Agent views:",
        "  coordinator: {'status': 'complete'}",
        "  researcher: {'task': 'Research AI'}",
        "  writer: {'task': 'Write report', 'findings': '5 key trends'}",
        "  rev 1: coordinator → researcher (send_update)",
        "  rev 4: researcher → coordinator (send_update)",
        "  researcher received {'deadline': 'Friday'} from coordinator (delivery 1)",
        "  writer received {'deadline': 'Friday'} from coordinator (delivery 1)",
        "  researcher's inbox afterwards: []",
        "  statehub.AccessDenied: agent 'writer' may not access 'agent/researcher/view': "
        "keys under agent/researcher/ are private to it",
        "  Queries: ['AI trends 2025', 'ML adoption']",
        "  Tool calls: 1",
    ],
    "persistence.py": [
        "  researcher saved 'step_1' (v1, rev 1)",
        "  After step 1: {'step_1': 'Research complete'}",
        "  analyst saved 'step_2' (v1, rev 2)",
        "  After step 2: {'step_1': 'Research complete', 'step_2': 'Analysis complete'}",
        "  Hub closed (system restart)",
        "  Reopened: 2 keys at revision 2",
        "  After restart: {'step_1': 'Research complete', 'step_2': 'Analysis complete'}",
        "  checkpoint_2 = revision 2",
        "  writer saved 'step_3' (v1, rev 3)",
        "  After step 3 (failed): {'step_1': 'Research complete', "
        "'step_2': 'Analysis complete', 'step_3': 'ERROR: Write failed'}",
        "  Rollback to checkpoint_2 (revision 2)...",
        "  After rollback: {'step_1': 'Research complete', 'step_2': 'Analysis complete'} (rev 4)",
        "  The failed step is still in the history: at rev 3, step_3 = 'ERROR: Write failed'",
        "  researcher: rev 1 put task/run-1/step_1",
        "  analyst: rev 2 put task/run-1/step_2",
        "  writer: rev 3 put task/run-1/step_3",
        "  coordinator: rev 4 delete task/run-1/step_3 (rollback to rev 2)",
    ],
    "task_tracker.py": [
        "=== Centralized ===",
        "✅ agent_a: wrote task-1=done (holding the lock, fence 1)",
        "❌ agent_b: blocked by agent_a",
        "✅ agent_b: wrote task-1=revised after the release (v2)",
        "❌ agent_a: blocked by agent_c",
        "=== Versioned ===",
        "✅ agent_a: wrote task-1=draft (v1)",
        "❌ agent_b: conflict (expected v0, got v1)",
        "✅ agent_b: wrote task-1=alt draft (v2)",
        "✅ agent_c: update() read, applied and wrote (v3): alt draft (reviewed)",
        "=== Reducer ===",
        "✅ agent_c: dispatched FAIL",
        "State: {'tasks': ['Research', 'Write', 'Review'], 'total': 3, 'completed': 2, "
        "'failed': 1}",
        "Tasks: 2/3 completed, 1 failed",
        "History: 21 changes, revision 21",
    ],
    "langgraph_team.py": [
        "notes (researcher and analyst ran in parallel):",
        "  plan: research and analyse AI agents",
        "  analysis: AI agents grows 30% a year",
        "  research: 3 sources on AI agents",
        "  review: approved",
        "verdict: approved",
        "checkpoints: 6, steps -1..4",
        "long-term memory: {'report': 'AI agents: AI agents grows 30% a year; "
        "3 sources on AI agents', 'approved': True}",
        "the thread is the key global/langgraph/team-run-1/=: its history holds all 6 checkpoints",
        "browse it:",
    ],
    "task_claiming.py": [
        "  coordinator created 'Research AI trends' (pending)",
        "  coordinator created 'Review the draft' (pending)",
        "  researcher claimed 'Research AI trends' with next() (fence 2, attempt 1)",
        "  writer claimed 'Write the report' with next() (fence 2, attempt 1)",
        "  writer cannot claim 'Research AI trends': claimed by researcher",
        "  researcher progress 50%: {'partial': ['agents', 'state']}",
        "  researcher completed 'Research AI trends': {'trends': 5}",
        "  writer failed 'Write the report': source unavailable",
        "  editor claimed 'Review the draft' for 0.2 s, then stopped answering",
        "  researcher claimed 'Review the draft' after the lease ran out (fence 3, attempt 2)",
        "  editor's late complete refused (StaleClaim): fence 2 is not the current claim's (3)",
        "  researcher completed 'Review the draft': {'approved': True}",
        "Tasks by status:",
        "  pending: []",
        "  claimed: []",
        "  completed: ['Research AI trends', 'Review the draft']",
        "  failed: ['Write the report']",
        "coordinator retried 'Write the report': pending",
        "  writer claimed 'Write the report' with next() (fence 5, attempt 2)",
        "  writer completed 'Write the report': {'words': 2500}",
        "Counters (the lesson's tasks reducer): total 3, completed 3, failed 1",
        "History of 'Write the report':",
        "  rev 2: coordinator create",
        "  rev 5: writer claim",
        "  rev 8: writer fail",
        "  rev 12: coordinator retry",
        "  rev 13: writer claim",
        "  rev 14: writer complete",
    ],
}

# What a run without arguments leaves in its working directory.
LEFT_IN_CWD: dict[str, set[str]] = {"quickstart.py": {"statehub-quickstart.db"}}


def run_example(name: str, *args: str, cwd: Path) -> str:
    """Run ``examples/<name>`` in a fresh interpreter; return its standard output."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{name} exited with {result.returncode}:\n{result.stderr}"
    assert result.stderr == ""
    return result.stdout


def assert_lines_in_order(output: str, expected: list[str]) -> None:
    """Every expected line is a whole line of ``output``, in the order given."""
    lines = output.splitlines()
    position = 0
    for line in expected:
        assert line in lines[position:], f"missing (or out of order): {line!r}\n---\n{output}"
        position = lines.index(line, position) + 1


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_on_a_sqlite_file(name: str, tmp_path: Path) -> None:
    database = tmp_path / "hub.db"
    output = run_example(name, str(database), cwd=tmp_path)
    assert_lines_in_order(output, EXPECTED[name])
    assert database.is_file()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_with_its_defaults(name: str, tmp_path: Path) -> None:
    output = run_example(name, cwd=tmp_path)
    assert_lines_in_order(output, EXPECTED[name])
    left = {path.name for path in tmp_path.iterdir()}
    assert left == LEFT_IN_CWD.get(name, set())


def test_quickstart_can_be_run_again(tmp_path: Path) -> None:
    first = run_example("quickstart.py", cwd=tmp_path)
    second = run_example("quickstart.py", cwd=tmp_path)
    assert first == second
    assert_lines_in_order(second, EXPECTED["quickstart.py"])


def test_every_example_is_tested() -> None:
    scripts = {path.name for path in EXAMPLES.glob("*.py")}
    assert scripts == set(EXPECTED), (
        f"untested examples: {sorted(scripts - set(EXPECTED))}; "
        f"tests for missing examples: {sorted(set(EXPECTED) - scripts)}"
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_has_docstring_and_main(name: str) -> None:
    tree = ast.parse((EXAMPLES / name).read_text(encoding="utf-8"))
    docstring = ast.get_docstring(tree)
    assert docstring, f"{name} has no module docstring"
    mains = [
        node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "main"
    ]
    assert len(mains) == 1, f"{name} has no top-level main()"
    assert [arg.arg for arg in mains[0].args.args] == ["argv"]
    assert ast.unparse(mains[0].returns or ast.Constant(None)) == "None"
    guards = [
        node
        for node in tree.body
        if isinstance(node, ast.If) and "__name__" in ast.unparse(node.test)
    ]
    assert guards, f'{name} has no `if __name__ == "__main__":` block'
