// Locks with their holders and expiry, and the size of each inbox.

import { api } from "./api.js";
import { agentBadge, el, fill, until } from "./util.js";

/** Reload the locks and the inboxes. */
export async function drawCoordination() {
  const [{ locks }, { inboxes }] = await Promise.all([
    api("/v1/locks"), api("/v1/viewer/inboxes"),
  ]);
  fill(document.querySelector("#locks tbody"), locks.length ? locks.map((lock) => el("tr",
    { dataset: { key: lock.key } },
    el("td", { class: "key" }, lock.key),
    el("td", {}, agentBadge(lock.holder)),
    el("td", { class: "num" }, lock.fence),
    el("td", {}, el("span", { class: "expiry", dataset: { ts: lock.expires_ts } }, until(lock.expires_ts)))))
    : el("tr", {}, el("td", { colspan: 4, class: "muted" }, "No lock is held.")));
  const peak = Math.max(1, ...Object.values(inboxes).map((s) => s.waiting + s.in_flight));
  const names = Object.keys(inboxes);
  fill(document.querySelector("#inboxes tbody"), names.length ? names.map((name) => {
    const size = inboxes[name];
    const bar = el("div", { class: "meter" }, el("span"));
    bar.firstChild.style.setProperty("width", `${((size.waiting + size.in_flight) / peak) * 100}%`);
    return el("tr", { dataset: { agent: name } }, el("td", {}, agentBadge(name)),
      el("td", { class: "num waiting" }, size.waiting), el("td", { class: "num" }, size.in_flight),
      el("td", { class: "meter-cell" }, bar));
  }) : el("tr", {}, el("td", { colspan: 4, class: "muted" }, "Every inbox is empty.")));
}

/** Refresh the "expires in" texts of the locks shown. */
export function tickExpiries() {
  for (const span of document.querySelectorAll("#locks .expiry")) {
    span.textContent = until(Number(span.dataset.ts));
  }
}
