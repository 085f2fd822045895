"""The web viewer: its own routes (in process), then the page in a real browser.

The browser tests drive Debian's Chromium with Playwright against a real server
process on a SQLite file, with changes made by other OS processes; they wait on page
conditions, never on sleeps. ``STATEHUB_SCREENSHOTS=1`` makes them refresh ``docs/img/``.
"""

from __future__ import annotations

import fnmatch
import os
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect, sync_playwright

import statehub
from statehub.server import create_token, revoke_token
from statehub.server.app import create_app
from statehub.server.viewer import mount_viewer, router
from tests.server_support import bearer

CHROMIUM = "/usr/bin/chromium"
IMAGES = Path(__file__).resolve().parent.parent / "docs" / "img"
"""Where the screenshots go with ``STATEHUB_SCREENSHOTS=1`` (else to a temporary folder)."""
TIMEOUT_MS = 15_000
expect.set_options(timeout=TIMEOUT_MS)

# -- the viewer's routes, in process ---------------------------------------------------


@dataclass
class Api:
    """A test client of an app with the viewer, and tokens by agent name."""

    client: TestClient
    hub: statehub.Hub
    tokens: dict[str, str]

    def get(self, who: str, path: str, **params: Any) -> Any:
        return self.client.get(path, params=params, headers=bearer(self.tokens[who]))


@pytest.fixture
def api() -> Iterator[Api]:
    with statehub.open("memory://") as hub:
        app = create_app(hub)
        mount_viewer(app)
        mount_viewer(app)  # a second mount does nothing
        tokens = {name: create_token(hub, name) for name in ("alice", "bob")}
        tokens["ops"] = create_token(hub, "ops", admin=True)
        with TestClient(app) as client:
            yield Api(client, hub, tokens)


def test_page_is_served_with_a_policy_that_forbids_other_origins(api: Api) -> None:
    page = api.client.get("/")
    assert page.status_code == 200
    assert '<script type="module" src="/static/viewer.js">' in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "connect-src 'self'" in policy
    for name in ("viewer.js", "viewer.css", "js/sse.js", "js/api.js", "js/diff.js"):
        assert api.client.get(f"/static/{name}").status_code == 200, name
    assert "http://" not in page.text
    assert "https://" not in page.text


def test_every_static_file_is_shipped_in_the_package() -> None:
    root = Path(__file__).resolve().parent.parent
    config = tomllib.loads((root / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["statehub"]
    package = root / "src" / "statehub"
    files = [p for p in (package / "server" / "static").rglob("*") if p.is_file()]
    assert len(files) >= 3
    for path in files:
        name = path.relative_to(package).as_posix()
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name


def test_viewer_routes_need_a_token(api: Api) -> None:
    assert api.client.get("/v1/viewer/me").status_code == 401
    assert api.client.get("/v1/viewer/changes").status_code == 401


def test_me_names_the_agent_and_whether_the_token_is_admin(api: Api) -> None:
    alice = api.get("alice", "/v1/viewer/me").json()
    ops = api.get("ops", "/v1/viewer/me").json()
    assert (alice["agent"], alice["admin"], alice["hub_wide"]) == ("alice", False, False)
    assert (ops["agent"], ops["admin"], ops["hub_wide"]) == ("ops", True, True)
    as_bob = api.client.get(
        "/v1/viewer/me", headers={**bearer(api.tokens["ops"]), "X-Statehub-Agent": "bob"}
    ).json()
    assert (as_bob["agent"], as_bob["admin"], as_bob["hub_wide"]) == ("bob", True, False)
    assert alice["revision"] == api.hub.revision


def test_changes_come_newest_first_in_whole_revision_pages(api: Api) -> None:
    alice = api.hub.agent("alice")
    with alice.transaction() as tx:
        tx.put("global/a", 1)
        tx.put("global/b", 1)
    pair = tx.revision
    assert pair is not None
    for n in range(3):
        alice.put("global/c", n)
    page = api.get("alice", "/v1/viewer/changes", prefix="global/", limit=4).json()
    # 3 changes of global/c, then both changes of the transaction: a page never ends
    # half-way through a revision.
    assert [c["revision"] for c in page["changes"]] == [pair + 3, pair + 2, pair + 1, pair, pair]
    assert page["next_until"] == pair - 1
    older = api.get("alice", "/v1/viewer/changes", prefix="global/", until=pair - 1).json()
    assert older["changes"] == []
    assert older["next_until"] is None


def test_changes_filter_by_op_agent_and_time(api: Api) -> None:
    alice, bob = api.hub.agent("alice"), api.hub.agent("bob")
    alice.put("global/doc", {"a": 1})
    bob.merge("global/doc", {"b": 2})
    middle = time.time()
    alice.delete("global/doc")
    merges = api.get("ops", "/v1/viewer/changes", op="merge").json()["changes"]
    assert [(c["agent"], c["op"]) for c in merges] == [("bob", "merge")]
    by_alice = api.get("ops", "/v1/viewer/changes", agent="alice").json()["changes"]
    assert [c["op"] for c in by_alice] == ["delete", "put"]
    late = api.get("ops", "/v1/viewer/changes", after_ts=middle).json()["changes"]
    assert [c["op"] for c in late] == ["delete"]
    early = api.get("ops", "/v1/viewer/changes", before_ts=middle).json()["changes"]
    assert [c["op"] for c in early] == ["merge", "put"]
    bad = api.get("ops", "/v1/viewer/changes", since=5, until=2)
    assert bad.status_code == 400
    assert "since/until" in bad.json()["error"]["message"]


def test_changes_hide_statehub_rows_unless_asked(api: Api) -> None:
    api.hub.agent("alice").send("bob", "hello")
    hidden = api.get("ops", "/v1/viewer/changes").json()["changes"]
    shown = api.get("ops", "/v1/viewer/changes", own="true").json()["changes"]
    assert not any(c["key"].startswith("_") for c in hidden)
    assert any(c["key"].startswith("_inbox/bob/") for c in shown)


def test_agent_token_sees_no_other_agents_private_keys(api: Api) -> None:
    api.hub.agent("bob").put("agent/bob/secret", "s3cret")
    api.hub.agent("alice").put("agent/alice/notes", "mine")
    changes = api.get("alice", "/v1/viewer/changes").json()["changes"]
    assert [c["key"] for c in changes] == ["agent/alice/notes"]
    assert api.get("alice", "/v1/viewer/versions", key="agent/bob/secret").status_code == 403
    assert api.get("alice", "/v1/viewer/changes", key="agent/bob/secret").status_code == 403
    activity = api.get("alice", "/v1/viewer/activity").json()
    assert set(activity["agents"]) == {"alice"}
    admin = api.get("ops", "/v1/viewer/versions", key="agent/bob/secret").json()
    assert [v["value"] for v in admin["versions"]] == ["s3cret"]


def test_versions_give_each_change_with_the_value_it_left(api: Api) -> None:
    alice = api.hub.agent("alice")
    alice.put("global/doc", {"title": "Draft"})
    api.hub.agent("bob").merge("global/doc", {"body": "text"})
    alice.delete("global/doc")
    versions = api.get("alice", "/v1/viewer/versions", key="global/doc").json()["versions"]
    assert [(v["version"], v["op"], v["agent"], v["exists"]) for v in versions] == [
        (0, "delete", "alice", False),
        (2, "merge", "bob", True),
        (1, "put", "alice", True),
    ]
    assert versions[1]["value"] == {"title": "Draft", "body": "text"}


def test_activity_counts_changes_per_agent(api: Api) -> None:
    for n in range(3):
        api.hub.agent("alice").put("global/x", n)
    api.hub.agent("bob").put("global/y", 1)
    activity = api.get("ops", "/v1/viewer/activity", span=600, buckets=10).json()
    assert {name: sum(counts) for name, counts in activity["agents"].items()} == {
        "alice": 3,
        "bob": 1,
    }
    assert activity["total"] == 4
    assert len(activity["agents"]["alice"]) == 10
    assert activity["agents"]["alice"][-1] == 3  # all just now: the last bucket


def test_inbox_sizes_are_everyones_for_admins_and_ones_own_for_agents(api: Api) -> None:
    alice = api.hub.agent("alice")
    alice.send("bob", "one")
    alice.send("bob", "two")
    alice.send("carol", "three")
    api.hub.agent("bob").receive(limit=1)
    admin = api.get("ops", "/v1/viewer/inboxes").json()["inboxes"]
    assert admin == {
        "bob": {"waiting": 1, "in_flight": 1},
        "carol": {"waiting": 1, "in_flight": 0},
    }
    assert api.get("alice", "/v1/viewer/inboxes").json()["inboxes"] == {
        "alice": {"waiting": 0, "in_flight": 0}
    }
    assert api.get("bob", "/v1/viewer/inboxes").json()["inboxes"] == {
        "bob": {"waiting": 1, "in_flight": 1}
    }


# -- the page in a real browser, against a real server process ---------------------------

_SERVE = """
import sys, uvicorn, statehub
from statehub.server.app import create_app
from statehub.server.hubs import opener_for
from statehub.server.viewer import mount_viewer
with statehub.open(sys.argv[1]) as hub:
    app = create_app(hub, watch_step=0.2, opener=opener_for(sys.argv[1]))
    mount_viewer(app)
    uvicorn.run(app, fd=int(sys.argv[2]), log_level="warning", timeout_graceful_shutdown=2)
"""


class ViewerServer:
    """The API with the viewer mounted, served by uvicorn in a child process.

    The listening socket is this process's: it is open before any child starts and
    stays open while a child is stopped and another started, so no client ever waits
    for a port to open (connections wait in the socket's backlog) and a restarted
    server listens where the last one did.
    """

    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start serving (requests made meanwhile wait in the backlog)."""
        fd = self._listener.fileno()
        with self.log.open("ab") as out:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _SERVE, self.url, str(fd)],
                pass_fds=(fd,),
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def stop(self, *, crash: bool = False) -> None:
        """Stop serving: SIGTERM (open watch streams are cut after 2 s), or SIGKILL."""
        if self._process is not None:
            if crash:
                self._process.kill()
            else:
                self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def close(self) -> None:
        """Stop serving and close the listening socket."""
        self.stop()
        self._listener.close()


@dataclass
class Site:
    """A live server, the storage it serves, and tokens by agent name."""

    server: ViewerServer
    url: str
    tokens: dict[str, str]


def _seed(hub: statehub.Hub) -> None:
    """A small team's state: keys in every scope, checkpoints, tasks, a lock, messages."""
    coordinator, researcher, writer = (
        hub.agent(name) for name in ("coordinator", "researcher", "writer")
    )
    coordinator.put("global/task_status", "planning")
    writer.put("global/doc", {"title": "Draft", "sections": ["intro"]})
    writer.put("global/scratch", "to be removed")
    researcher.put("agent/researcher/notes", {"secret": "only mine"})
    coordinator.put("agent/coordinator/plan", ["research", "write", "review"])
    coordinator.checkpoint("before-write")
    writer.merge("global/doc", {"title": "Final", "sections": ["intro", "results"]})
    writer.delete("global/scratch")
    researcher.put("global/findings", ["5 key trends"], label="research")
    coordinator.checkpoint("after-write")
    coordinator.put("global/task_status", "in_progress")
    research = coordinator.tasks.create("Research AI trends", payload={"topic": "AI"})
    coordinator.tasks.create("Write the report")
    coordinator.tasks.create("Review the report")
    failed = coordinator.tasks.create("Fetch the 2019 survey")
    claimed = researcher.tasks.claim(research.id, lease=300)
    researcher.tasks.progress(claimed, 0.6, result={"partial": ["trend 1", "trend 2"]})
    lost = writer.tasks.claim(failed.id)
    writer.tasks.fail(lost, error="source offline")
    done = writer.tasks.claim(coordinator.tasks.create("Outline").id)
    writer.tasks.complete(done, result={"sections": 3})
    coordinator.lock("global/report", ttl=600)
    coordinator.send("researcher", {"type": "assignment", "task": research.id})
    writer.send("researcher", "draft ready")
    coordinator.send("writer", "go")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("viewer")
    url = f"sqlite:///{folder / 'team.db'}"
    with statehub.open(url) as hub:
        tokens = {name: create_token(hub, name) for name in ("coordinator", "researcher")}
        tokens["operator"] = create_token(hub, "operator", admin=True)
        _seed(hub)
    with statehub.open(f"{url}?hub=run-2") as other:
        other.agent("coordinator").put("global/only-in-run-2", {"run": 2})
    server = ViewerServer(url, folder / "server.log")
    server.start()
    try:
        yield Site(server, url, tokens)
    finally:
        server.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: ``docs/img`` when refreshing them, else a temporary folder."""
    if os.environ.get("STATEHUB_SCREENSHOTS") == "1":
        return IMAGES
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    context = browser.new_context(
        base_url=site.server.base_url, viewport={"width": 1400, "height": 900}
    )
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    context.close()


def sign_in(page: Page, token: str, tab: str = "timeline") -> None:
    """Open the viewer, sign in with ``token``, and wait until the watch stream is live."""
    page.goto(f"/#{tab}")
    page.fill("#token", token)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#live")).to_have_attribute("data-state", "live")


def put_from_another_process(url: str, agent: str, key: str, value: Any) -> int:
    """``statehub put`` as ``agent`` (a separate OS process on the same file); its revision."""
    argv = [sys.executable, "-m", "statehub", "--url", url, "--agent", agent, "--json", "put"]
    argv += ["--label", "from-process", key, orjson.dumps(value).decode()]
    done = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30)
    revision: int = orjson.loads(done.stdout)["modified_rev"]
    return revision


def row(page: Page, key: str, **data: str | int) -> Any:
    """The timeline rows of ``key`` with the given data attributes."""
    selector = f'#timeline tbody tr[data-key="{key}"]' + "".join(
        f'[data-{name}="{value}"]' for name, value in data.items()
    )
    return page.locator(selector)


def test_a_bad_token_is_refused_and_nothing_is_loaded_from_elsewhere(
    page: Page, site: Site
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/")
    page.fill("#token", "shub_0000000000000000_wrong")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("not valid")
    expect(page.locator("#tabs")).to_be_hidden()
    assert requested
    assert all(url.startswith(site.server.base_url) for url in requested), requested


def test_a_change_by_an_agent_process_appears_live_in_the_timeline(
    page: Page, site: Site, shots: Path
) -> None:
    sign_in(page, site.tokens["operator"])
    expect(row(page, "global/findings", agent="researcher")).to_have_count(1)
    revision = put_from_another_process(
        site.url, "writer", "global/review", {"verdict": "approved", "score": 0.92}
    )
    live = row(page, "global/review", agent="writer", revision=revision)
    expect(live).to_have_count(1)
    expect(live).to_contain_text("from-process")
    expect(page.locator("#head")).to_have_text(f"revision {revision}")
    # Newest first: the new change is the first row.
    expect(page.locator("#timeline tbody tr").first).to_have_attribute("data-key", "global/review")
    # The chart counts it too: the writer made 8 changes before.
    expect(page.locator("#activity .legend-item[data-agent=writer]")).to_have_text("writer 9")
    page.screenshot(path=shots / "timeline.png")


def test_the_timeline_filters_by_agent_and_op(page: Page, site: Site) -> None:
    sign_in(page, site.tokens["operator"])
    page.fill("#filters input[name=agent]", "writer")
    page.select_option("#filters select[name=op]", "merge")
    page.click("#filters button[type=submit]")
    rows = page.locator("#timeline tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-key", "global/doc")
    # A live change that does not match stays out; one that does comes in.
    put_from_another_process(site.url, "coordinator", "global/ignored", 1)
    revision = put_from_another_process(site.url, "writer", "global/ignored", 2)
    expect(page.locator("#head")).to_have_text(f"revision {revision}")
    expect(rows).to_have_count(1)


def test_live_timeline_resumes_after_the_server_crashes_and_restarts(
    page: Page, site: Site
) -> None:
    sign_in(page, site.tokens["operator"])
    site.server.stop(crash=True)
    expect(page.locator("#live")).not_to_have_attribute("data-state", "live")
    # Committed while no server runs: the page must catch up by Last-Event-ID.
    missed = put_from_another_process(site.url, "researcher", "global/while-down", True)
    site.server.start()
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    expect(row(page, "global/while-down", revision=missed)).to_have_count(1)


def test_a_diff_between_two_checkpoints_shows_each_key_side_by_side(
    page: Page, site: Site, shots: Path
) -> None:
    sign_in(page, site.tokens["operator"], "diff")
    expect(page.locator('#checkpoints tr[data-name="after-write"]')).to_be_visible()
    page.fill("#diff-form input[name=a]", "before-write")
    page.fill("#diff-form input[name=b]", "after-write")
    page.fill("#diff-form input[name=prefix]", "global/")
    page.click("#diff-form button[type=submit]")
    summary = page.locator(".diff-summary")
    expect(summary).to_contain_text("1 changed, 1 added, 1 removed")
    doc = page.locator('.diff-key[data-key="global/doc"][data-kind=changed]')
    expect(doc.locator(".side").first).to_contain_text('"title": "Draft"')
    expect(doc.locator(".side").last).to_contain_text('"title": "Final"')
    # Structural: exactly the members that changed are marked, on their side.
    expect(doc.locator(".line.del")).to_have_text(['  "title": "Draft",'])
    expect(doc.locator(".line.ins")).to_have_text(['  "title": "Final",', '    "results"'])
    added = page.locator('.diff-key[data-key="global/findings"][data-kind=added]')
    expect(added.locator(".line.ins")).to_contain_text(['"5 key trends"'])
    expect(page.locator('.diff-key[data-key="global/scratch"][data-kind=removed]')).to_contain_text(
        "to be removed"
    )
    page.screenshot(path=shots / "diff.png")


def test_an_agent_token_cannot_see_another_agents_private_keys(page: Page, site: Site) -> None:
    sign_in(page, site.tokens["coordinator"], "state")
    tree = page.locator("#tree")
    expect(tree.locator('.leaf[data-key="agent/coordinator/plan"]')).to_be_visible()
    expect(tree.locator('.leaf[data-key="global/doc"]')).to_be_visible()
    expect(tree.locator('.leaf[data-key^="agent/researcher/"]')).to_have_count(0)
    # Live too: the researcher's private write, then a public one; the stream is in
    # revision order, so once the public one shows, the private one was withheld.
    put_from_another_process(site.url, "researcher", "agent/researcher/diary", "secret")
    public = put_from_another_process(site.url, "researcher", "global/public", "hello")
    page.click("#tabs a[data-tab=timeline]")
    expect(row(page, "global/public", revision=public)).to_have_count(1)
    expect(page.locator('#timeline tbody tr[data-key^="agent/researcher/"]')).to_have_count(0)
    # The API says no when the page is asked for it directly, and the admin's controls
    # are not offered.
    status = page.evaluate(
        """async () => (await fetch("/v1/viewer/versions?key=agent/researcher/notes", {
            headers: {Authorization: "Bearer " + sessionStorage.getItem("statehub.token")},
        })).status"""
    )
    assert status == 403
    page.click("#tabs a[data-tab=diff]")
    expect(page.locator('#checkpoints tr[data-name="before-write"]')).to_be_visible()
    expect(page.locator("#checkpoints button.rollback")).to_have_count(0)
    page.click("#tabs a[data-tab=coordination]")
    expect(page.locator("#inboxes tbody tr")).to_have_count(1)
    expect(page.locator("#inboxes tbody tr").first).to_have_attribute("data-agent", "coordinator")


def test_an_admin_sees_as_one_agent_sees(page: Page, site: Site) -> None:
    sign_in(page, site.tokens["operator"], "state")
    tree = page.locator("#tree")
    expect(tree.locator('.leaf[data-key="agent/coordinator/plan"]')).to_be_visible()
    page.fill("#act-as input[name=agent]", "researcher")
    page.press("#act-as input[name=agent]", "Enter")
    expect(page.locator("#whoami .agent")).to_have_text("researcher")
    expect(tree.locator('.leaf[data-key="agent/researcher/notes"]')).to_be_visible()
    expect(tree.locator('.leaf[data-key^="agent/coordinator/"]')).to_have_count(0)
    page.click("#tabs a[data-tab=coordination]")
    expect(page.locator("#inboxes tbody tr")).to_have_count(1)
    expect(page.locator("#inboxes tbody tr").first).to_have_attribute("data-agent", "researcher")
    page.fill("#act-as input[name=agent]", "")
    page.press("#act-as input[name=agent]", "Enter")
    expect(page.locator("#inboxes tbody tr")).to_have_count(2)


def test_the_page_shows_the_hub_its_address_names(page: Page, site: Site) -> None:
    page.goto("/?hub=run-2#state")
    page.fill("#token", site.tokens["operator"])
    page.click("#login-form button[type=submit]")
    tree = page.locator("#tree")
    expect(tree.locator('.leaf[data-key="global/only-in-run-2"]')).to_be_visible()
    expect(tree.locator('.leaf[data-key="global/doc"]')).to_have_count(0)
    expect(page.locator("#hub-form input[name=hub]")).to_have_value("run-2")
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    # Live from that hub too; a change in the server's own hub does not show.
    put_from_another_process(site.url, "writer", "global/not-in-run-2", 1)
    revision = put_from_another_process(f"{site.url}?hub=run-2", "writer", "global/second", 2)
    page.click("#tabs a[data-tab=timeline]")
    expect(row(page, "global/second", revision=revision)).to_have_count(1)
    expect(row(page, "global/not-in-run-2")).to_have_count(0)


def test_the_state_tree_shows_scopes_and_a_keys_versions(
    page: Page, site: Site, shots: Path
) -> None:
    sign_in(page, site.tokens["operator"], "state")
    tree = page.locator("#tree")
    expect(tree.locator("summary b")).to_have_text(["global", "agents", "tasks"])
    expect(tree.locator('.leaf[data-key="agent/researcher/notes"]')).to_be_visible()
    tree.locator('.leaf[data-key="global/doc"]').click()
    versions = page.locator("#versions tbody tr")
    expect(versions).to_have_count(2)
    expect(versions.first).to_contain_text("merge")
    expect(versions.last).to_contain_text("put")
    expect(page.locator("#key-detail pre.json").first).to_contain_text('"Final"')
    page.screenshot(path=shots / "state.png")


def test_tasks_board_locks_and_inboxes(page: Page, site: Site, shots: Path) -> None:
    sign_in(page, site.tokens["operator"], "tasks")
    board = page.locator("#board")
    expect(board.locator(".column-claimed .task")).to_contain_text(["Research AI trends"])
    expect(board.locator(".column-claimed .task .agent")).to_have_text(["researcher"])
    expect(board.locator(".column-failed .task")).to_contain_text(["source offline"])
    expect(board.locator(".column-completed .task")).to_have_count(1)
    expect(board.locator(".column-pending .task")).to_have_count(2)
    page.screenshot(path=shots / "tasks.png")
    page.click("#tabs a[data-tab=coordination]")
    lock = page.locator('#locks tr[data-key="global/report"]')
    expect(lock.locator(".agent")).to_have_text("coordinator")
    expect(lock.locator(".expiry")).to_contain_text("in ")
    expect(page.locator('#inboxes tr[data-agent="researcher"] .waiting')).to_have_text("2")


def test_an_admin_creates_a_checkpoint_and_rolls_back(page: Page, site: Site) -> None:
    sign_in(page, site.tokens["operator"], "diff")
    page.fill("#checkpoint-form input[name=name]", "from-the-viewer")
    page.click("#checkpoint-form button[type=submit]")
    checkpoint = page.locator('#checkpoints tr[data-name="from-the-viewer"]')
    expect(checkpoint).to_be_visible()
    target = page.locator('#checkpoints tr[data-name="before-write"]')
    target.locator("button.rollback").click()
    target.locator("input.rollback-prefix").fill("global/doc")
    target.locator("button.confirm-rollback").click()
    expect(target.locator(".rollback-note")).to_contain_text("rolled back global/doc at revision")
    with statehub.open(site.url) as hub:
        assert hub.agent("operator").get("global/doc") == {
            "title": "Draft",
            "sections": ["intro"],
        }
        assert hub.history(key="global/doc")[-1].agent == "operator"


def test_a_revoked_token_signs_the_page_out(page: Page, site: Site) -> None:
    with statehub.open(site.url) as hub:
        token = create_token(hub, "reviewer")
    sign_in(page, token)
    with statehub.open(site.url) as hub:
        assert revoke_token(hub, token.split("_")[1])
    # The next change makes the page reload what it shows: refused, so it signs out.
    put_from_another_process(site.url, "writer", "global/after-revoke", 1)
    expect(page.locator("#login-error")).to_contain_text("no longer valid")
    expect(page.locator("#tabs")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('statehub.token')") is None


def test_signing_out_and_in_as_another_agent_starts_afresh(page: Page, site: Site) -> None:
    sign_in(page, site.tokens["operator"])
    expect(row(page, "agent/researcher/notes")).to_have_count(1)
    page.click("#logout")
    expect(page.locator("#login")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('statehub.token')") is None
    sign_in(page, site.tokens["coordinator"])
    expect(page.locator("#whoami .agent")).to_have_text("coordinator")
    revision = put_from_another_process(site.url, "coordinator", "global/again", 1)
    expect(row(page, "global/again", revision=revision)).to_have_count(1)
    expect(row(page, "agent/researcher/notes")).to_have_count(0)


def test_docs_list_every_viewer_route() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "viewer.md").read_text()
    for route in router.routes:
        assert isinstance(route, APIRoute)
        for method in route.methods or ():
            assert f"| {method} {route.path} |" in text, route.path


def test_the_sse_parser_handles_any_chunking(page: Page, site: Site) -> None:
    page.goto("/")
    events = page.evaluate(
        """async () => {
            const { SseParser } = await import("/static/js/sse.js");
            const text = ": hello\\r\\nevent: change\\r\\ndata: {\\"a\\":\\r\\ndata: 1}\\r\\n\\r\\n"
              + "event: change\\ndata: x\\nid: 7\\n\\nid: 8\\n\\n: idle\\n\\ndata:y\\r\\r";
            const results = [];
            for (const size of [1, 2, 3, 5, text.length]) {
              const seen = [];
              const parser = new SseParser((e) => seen.push([e.type, e.data, e.lastEventId]));
              for (let i = 0; i < text.length; i += size) parser.feed(text.slice(i, i + size));
              results.push({ seen, last: parser.lastEventId });
            }
            return results;
        }"""
    )
    for result in events:
        assert result["seen"] == [
            ["change", '{"a":\n1}', ""],
            ["change", "x", "7"],
            ["message", "y", "8"],
        ]
        assert result["last"] == "8"
