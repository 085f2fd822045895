// Diff between two revisions or checkpoints (structural, side by side), and checkpoints.

import { api } from "./api.js";
import { jsonLines, touched, within } from "./jsonview.js";
import { agentBadge, el, fill, when } from "./util.js";

/** One side of a key's diff: its lines, those the patch touched marked. */
function side(value, paths, cls, present = true) {
  if (!present) return el("pre", { class: "json side empty" }, "(absent)");
  const lines = jsonLines(value).map((line) => el("div", {
    class: paths.some((p) => within(line.path, p)) ? `line ${cls}` : "line",
    dataset: { path: line.path },
  }, line.text || " "));
  return el("pre", { class: "json side" }, lines);
}

function keyCard(key, kind, oldValue, newValue, patch) {
  const marks = kind === "changed" ? touched(patch) : { old: [""], now: [""] };
  return el("div", { class: `diff-key diff-${kind}`, dataset: { key, kind } },
    el("div", { class: "diff-head" }, el("span", { class: `tag tag-${kind}` }, kind),
      el("span", { class: "key" }, key),
      kind === "changed" ? el("span", { class: "muted" },
        `${patch.length} op${patch.length === 1 ? "" : "s"}: `
        + patch.map((p) => `${p.op} ${p.path || "/"}`).join(", ")) : null),
    el("div", { class: "sides" },
      side(oldValue, marks.old, "del", kind !== "added"),
      side(newValue, marks.now, "ins", kind !== "removed")));
}

/** Render a /v1/diff answer into `host`. */
export function renderDiff(host, diff) {
  const cards = [
    ...Object.entries(diff.changed).map(([k, c]) => keyCard(k, "changed", c.old, c.new, c.patch)),
    ...Object.entries(diff.added).map(([k, v]) => keyCard(k, "added", null, v, [])),
    ...Object.entries(diff.removed).map(([k, v]) => keyCard(k, "removed", v, null, [])),
  ].sort((x, y) => x.dataset.key.localeCompare(y.dataset.key));
  const counts = `${Object.keys(diff.changed).length} changed, ${Object.keys(diff.added).length} `
    + `added, ${Object.keys(diff.removed).length} removed`;
  fill(host,
    el("p", { class: "diff-summary" }, `revision ${diff.a} → revision ${diff.b}`
      + `${diff.prefix ? ` under ${diff.prefix}` : ""}: ${counts}`),
    el("div", { class: "sides legend-sides" }, el("b", {}, `at ${diff.a}`), el("b", {}, `at ${diff.b}`)),
    cards.length ? cards : el("p", { class: "muted" }, "No differences."));
}

/** The diff form, its result, and the checkpoints table. */
export class DiffView {
  constructor({ admin }) {
    this.admin = admin;
    this.form = document.getElementById("diff-form");
    this.host = document.getElementById("diff");
    this.error = document.getElementById("diff-error");
    this.cpForm = document.getElementById("checkpoint-form");
    this.cpError = document.getElementById("checkpoint-error");
    this.cpBody = document.querySelector("#checkpoints tbody");
    this.notes = new Map();
    this.shown = null;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.compare();
    });
    this.cpForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.create();
    });
  }

  /** Compare the form's two points. */
  async compare(a, b) {
    if (a !== undefined) this.form.elements.a.value = a;
    if (b !== undefined) this.form.elements.b.value = b;
    const data = new FormData(this.form);
    this.error.textContent = "";
    try {
      const diff = await api("/v1/diff", {
        params: { a: data.get("a").trim(), b: data.get("b").trim() || "head", prefix: data.get("prefix").trim() },
      });
      renderDiff(this.host, diff);
    } catch (error) {
      this.host.replaceChildren();
      this.error.textContent = `${error.type}: ${error.message}`;
    }
  }

  async create() {
    const name = this.cpForm.elements.name.value.trim();
    this.cpError.textContent = "";
    try {
      await api("/v1/checkpoints", { method: "POST", body: { name } });
      this.cpForm.reset();
      await this.refresh();
    } catch (error) {
      this.cpError.textContent = `${error.type}: ${error.message}`;
    }
  }

  async rollback(name, prefix, row) {
    this.cpError.textContent = "";
    try {
      const done = await api("/v1/rollback", { method: "POST", body: { to: name, prefix } });
      this.notes.set(name, done.revision === null ? "nothing to roll back"
        : `rolled back ${prefix || "every key"} at revision ${done.revision}`);
      row.querySelector(".rollback-note").textContent = this.notes.get(name);
      row.querySelector(".confirm").hidden = true;
    } catch (error) {
      this.cpError.textContent = `${error.type}: ${error.message}`;
    }
  }

  rollbackControls(cp) {
    if (!this.admin) return null;
    const prefix = el("input", { placeholder: "prefix (all keys)", size: 14, class: "rollback-prefix" });
    const confirm = el("span", { class: "confirm", hidden: true }, prefix,
      el("button", { type: "button", class: "danger confirm-rollback",
        onclick: (e) => this.rollback(cp.name, prefix.value.trim(), e.target.closest("tr")) },
      "Confirm rollback"),
      el("button", { type: "button", onclick: () => { confirm.hidden = true; } }, "Cancel"));
    const start = el("button", { type: "button", class: "rollback",
      onclick: () => { confirm.hidden = false; } }, "Roll back…");
    return [start, confirm, el("span", { class: "rollback-note muted" }, this.notes.get(cp.name))];
  }

  /** Reload the checkpoints (and the points offered by the form). */
  async refresh() {
    const { checkpoints } = await api("/v1/checkpoints");
    // Unchanged: keep the table as it is (an open rollback form, what was typed in it).
    const signature = JSON.stringify(checkpoints);
    if (signature === this.shown) return;
    this.shown = signature;
    fill(this.cpBody, checkpoints.slice().reverse().map((cp) => el("tr", { dataset: { name: cp.name } },
      el("td", {}, el("b", {}, cp.name)),
      el("td", { class: "num" }, cp.revision),
      el("td", {}, agentBadge(cp.agent)),
      el("td", {}, when(cp.timestamp)),
      el("td", { class: "actions" },
        el("button", { type: "button", onclick: () => this.compare(cp.name, "head") }, "Diff to head"),
        this.rollbackControls(cp)))));
    fill(document.getElementById("points"), el("option", { value: "head" }),
      checkpoints.map((cp) => el("option", { value: cp.name }, `revision ${cp.revision}`)));
  }
}
