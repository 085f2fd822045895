// The current state as a tree of keys by scope, and one key's entry and versions.

import { api } from "./api.js";
import { jsonLines } from "./jsonview.js";
import { agentBadge, brief, el, fill, timeCell, when } from "./util.js";

/** A line about an entry's value: a task record's title and status, else its JSON. */
function summary(entry) {
  const value = entry.value;
  const isTask = entry.key.split("/").length === 2 && entry.key.startsWith("task/");
  if (isTask && value && typeof value === "object" && "title" in value && "status" in value) {
    return `${value.status} · ${value.title}`;
  }
  return brief(value, 40);
}

const SCOPES = [["global", "global"], ["agent", "agents"], ["task", "tasks"]];

/** The state view: `#tree` and `#key-detail`. */
export class StateView {
  constructor() {
    this.tree = document.getElementById("tree");
    this.detail = document.getElementById("key-detail");
    this.filter = document.getElementById("tree-filter");
    this.entries = [];
    this.selected = null;
    this.filter.addEventListener("input", () => this.render());
  }

  /** Reload every entry this token may see, and the selected key. */
  async refresh() {
    const data = await api("/v1/entries");
    this.entries = data.entries;
    this.render();
    if (this.selected) await this.show(this.selected);
  }

  render() {
    const needle = this.filter.value.trim();
    const shown = this.entries.filter((e) => !needle || e.key.includes(needle));
    const open = new Set([...this.tree.querySelectorAll("details[open]")].map((d) => d.dataset.path));
    const first = open.size === 0;
    const groups = SCOPES.map(([scope, title]) => {
      const inScope = shown.filter((e) => e.key.startsWith(`${scope}/`));
      const node = this.branch(scope, inScope, 1, open, first || needle);
      node.querySelector("summary").prepend(el("b", {}, title), " ");
      return node;
    });
    fill(this.tree, groups);
  }

  branch(path, entries, depth, open, expand) {
    const children = new Map();
    const leaves = [];
    for (const entry of entries) {
      const rest = entry.key.split("/").slice(depth);
      if (rest.length === 1) leaves.push(entry);
      else {
        const name = rest[0];
        if (!children.has(name)) children.set(name, []);
        children.get(name).push(entry);
      }
    }
    const details = el("details", { dataset: { path }, open: expand || open.has(path) },
      el("summary", {}, depth === 1 ? "" : path.split("/").pop(),
        el("span", { class: "count" }, entries.length)));
    for (const [name, sub] of [...children].sort()) {
      details.append(this.branch(`${path}/${name}`, sub, depth + 1, open, expand));
    }
    for (const entry of leaves) {
      const leaf = el("button", {
        type: "button", class: `leaf${entry.key === this.selected ? " selected" : ""}`,
        dataset: { key: entry.key }, title: entry.key, onclick: () => this.show(entry.key),
      }, el("span", { class: "leaf-name" }, entry.key.split("/").pop()),
      el("span", { class: "version" }, `v${entry.version}`), agentBadge(entry.updated_by),
      el("span", { class: "muted value-brief" }, summary(entry)));
      details.append(leaf);
    }
    return details;
  }

  /** Show `key`: its entry, and its versions each with the value it left. */
  async show(key) {
    this.selected = key;
    for (const leaf of this.tree.querySelectorAll(".leaf")) {
      leaf.classList.toggle("selected", leaf.dataset.key === key);
    }
    const entry = this.entries.find((e) => e.key === key);
    let versions;
    try {
      versions = (await api("/v1/viewer/versions", { params: { key } })).versions;
    } catch (error) {
      fill(this.detail, el("h2", {}, key), el("p", { class: "error" }, error.message));
      return;
    }
    const meta = entry ? el("dl", { class: "meta" },
      el("dt", {}, "version"), el("dd", {}, entry.version),
      el("dt", {}, "modified at"), el("dd", {}, `revision ${entry.modified_rev}`),
      el("dt", {}, "created at"), el("dd", {}, `revision ${entry.created_rev}`),
      el("dt", {}, "by"), el("dd", {}, agentBadge(entry.updated_by), " ", when(entry.updated_ts)),
      entry.owner ? [el("dt", {}, "owner"), el("dd", {}, agentBadge(entry.owner))] : null,
      entry.expires_ts ? [el("dt", {}, "expires"), el("dd", {}, when(entry.expires_ts))] : null)
      : el("p", { class: "muted" }, "Not in the current state (deleted or expired).");
    const value = entry ? el("pre", { class: "json" }, jsonLines(entry.value).map((l) => l.text).join("\n")) : null;
    const rows = versions.map((v) => el("tr", { dataset: { revision: v.revision } },
      el("td", { class: "num" }, v.revision),
      el("td", { class: "num" }, v.version ? `v${v.version}` : "—"),
      el("td", {}, timeCell(v.timestamp)),
      el("td", {}, agentBadge(v.agent)),
      el("td", {}, el("span", { class: `op op-${v.op}` }, v.op)),
      el("td", {}, v.label || ""),
      el("td", {}, v.exists ? el("details", {}, el("summary", {}, brief(v.value, 50)),
        el("pre", { class: "json" }, jsonLines(v.value).map((l) => l.text).join("\n"))) : "(absent)")));
    fill(this.detail, el("h2", { class: "key" }, key), meta, value,
      el("h3", {}, "Versions"),
      el("table", { class: "grid", id: "versions" },
        el("thead", {}, el("tr", {}, ["rev", "version", "time", "agent", "op", "label", "value"]
          .map((h) => el("th", {}, h)))),
        el("tbody", {}, rows)));
  }
}
