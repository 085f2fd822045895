// Tasks as a board: one column per status.

import { api } from "./api.js";
import { agentBadge, brief, el, fill, until, when } from "./util.js";

const COLUMNS = ["pending", "claimed", "completed", "failed"];

function card(task) {
  const bar = el("div", { class: "progress" }, el("span"));
  bar.firstChild.style.setProperty("width", `${Math.round(task.progress * 100)}%`);
  return el("article", { class: "task", dataset: { id: task.id, status: task.status } },
    el("h4", {}, task.title),
    el("div", { class: "muted small" }, task.id),
    task.assignee ? el("div", {}, agentBadge(task.assignee),
      task.status === "claimed" && task.lease_expires_ts ? el("span", { class: "muted small" }, ` lease ends ${until(task.lease_expires_ts)}`) : null)
      : null,
    task.status === "claimed" || task.progress > 0 ? bar : null,
    task.result !== null ? el("div", { class: "small" }, "result ", el("code", {}, brief(task.result, 60))) : null,
    task.error ? el("div", { class: "small error" }, task.error) : null,
    el("div", { class: "muted small" }, `created by ${task.created_by} · ${when(task.created_ts)}`
      + `${task.attempts ? ` · ${task.attempts} attempt${task.attempts === 1 ? "" : "s"}` : ""}`));
}

/** Reload the board. */
export async function drawTasks() {
  const { tasks } = await api("/v1/tasks");
  const board = document.getElementById("board");
  fill(board, COLUMNS.map((status) => {
    const mine = tasks.filter((t) => t.status === status);
    return el("section", { class: `column column-${status}`, dataset: { status } },
      el("h3", {}, status, el("span", { class: "count" }, mine.length)),
      mine.map(card));
  }));
}
