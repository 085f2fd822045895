// The timeline: the audit log newest first, filtered, with live changes on top.

import { api } from "./api.js";
import { agentBadge, effect, el, fill, timeCell } from "./util.js";

const PAGE = 200;
const MAX_ROWS = 2000; // live rows push the oldest out; "Older changes" brings them back

/** The timeline view over the table `#timeline` and the form `#filters`. */
export class Timeline {
  constructor({ onAgents, onKey }) {
    this.form = document.getElementById("filters");
    this.body = document.querySelector("#timeline tbody");
    this.older = document.getElementById("older");
    this.error = document.getElementById("timeline-error");
    this.onAgents = onAgents;
    this.onKey = onKey;
    this.seen = new Set();
    this.agents = new Set();
    this.nextUntil = null;
    this.filters = {};
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.reload();
    });
    this.form.addEventListener("reset", () => setTimeout(() => this.reload(), 0));
    this.older.addEventListener("click", () => this.page(this.nextUntil));
  }

  /** The filters of the form, as query parameters of /v1/viewer/changes. */
  readFilters() {
    const data = new FormData(this.form);
    const time = (name) => {
      const text = data.get(name);
      return text ? new Date(text).getTime() / 1000 : null;
    };
    return {
      agent: data.get("agent").trim(),
      prefix: data.get("prefix").trim(),
      op: data.get("op"),
      since: data.get("since"),
      until: data.get("until"),
      after_ts: time("after"),
      before_ts: time("before"),
      own: data.get("own") ? "true" : null,
    };
  }

  /** Load the newest page for the current filters. */
  async reload() {
    this.filters = this.readFilters();
    this.seen.clear();
    this.body.replaceChildren();
    await this.page(null);
  }

  async page(until) {
    this.error.textContent = "";
    const params = { ...this.filters, limit: PAGE };
    if (until !== null) params.until = until;
    try {
      const page = await api("/v1/viewer/changes", { params });
      for (const change of page.changes) this.append(change, false);
      this.nextUntil = page.next_until;
      this.older.hidden = page.next_until === null;
    } catch (error) {
      this.error.textContent = `${error.type || "Error"}: ${error.message}`;
    }
  }

  /** The commit time of the oldest change listed (null if none is). */
  oldestTs() {
    const last = this.body.lastElementChild;
    return last ? Number(last.dataset.ts) : null;
  }

  /** Whether a live change passes the filters shown. */
  matches(change) {
    const f = this.filters;
    if (f.agent && change.agent !== f.agent) return false;
    if (f.prefix && !change.key.startsWith(f.prefix)) return false;
    if (f.op && change.op !== f.op) return false;
    if (f.since && change.revision <= Number(f.since)) return false;
    if (f.until && change.revision > Number(f.until)) return false;
    if (f.after_ts && change.timestamp < f.after_ts) return false;
    if (f.before_ts && change.timestamp > f.before_ts) return false;
    if (!f.own && change.key.startsWith("_")) return false;
    return true;
  }

  /** A change just committed (from the watch stream). */
  live(change) {
    if (this.matches(change)) this.append(change, true);
  }

  append(change, onTop) {
    const id = `${change.revision} ${change.key}`;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    if (!this.agents.has(change.agent)) {
      this.agents.add(change.agent);
      this.onAgents([...this.agents].sort());
    }
    const keyLink = el("a", { href: "#state", class: "key", onclick: () => this.onKey(change.key) },
      change.key);
    const row = el("tr", {
      class: onTop ? "fresh" : null,
      dataset: {
        revision: change.revision, key: change.key, agent: change.agent, op: change.op,
        ts: change.timestamp,
      },
    },
    el("td", { class: "num" }, change.revision),
    el("td", {}, timeCell(change.timestamp)),
    el("td", {}, agentBadge(change.agent)),
    el("td", {}, keyLink),
    el("td", {}, el("span", { class: `op op-${change.op}` }, change.op)),
    el("td", { class: "num" }, `${change.prev_version}→${change.version}`),
    el("td", {}, change.label || ""),
    el("td", { class: "effect", title: JSON.stringify(change.patch) }, effect(change)));
    if (onTop) {
      // Newest first; a revision's changes arrive in key order, so keep them after their peers.
      let before = this.body.firstElementChild;
      while (before && Number(before.dataset.revision) === change.revision) {
        before = before.nextElementSibling;
      }
      this.body.insertBefore(row, before);
      this.trim();
    } else {
      this.body.append(row);
    }
  }

  /** Keep at most MAX_ROWS rows: drop the oldest revisions, whole, and page on from there. */
  trim() {
    if (this.body.children.length <= MAX_ROWS) return;
    const cut = Number(this.body.children[MAX_ROWS - 1].dataset.revision);
    while (this.body.lastElementChild
        && Number(this.body.lastElementChild.dataset.revision) <= cut) {
      const last = this.body.lastElementChild;
      this.seen.delete(`${last.dataset.revision} ${last.dataset.key}`);
      last.remove();
    }
    this.nextUntil = cut;
    this.older.hidden = false;
  }

  /** Show the agents seen in the agent filter's suggestions. */
  static agentList(names) {
    fill(document.getElementById("agent-names"), names.map((n) => el("option", { value: n })));
  }
}
