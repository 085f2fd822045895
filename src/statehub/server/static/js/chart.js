// The activity chart: changes per agent over time, as stacked bars in inline SVG.

import { api } from "./api.js";
import { agentColour, el, fill } from "./util.js";

const W = 960;
const H = 170;
const PAD = { left: 36, right: 8, top: 10, bottom: 22 };

/** Draw the activity of the last `span` seconds into `#activity`. */
export async function drawActivity(span) {
  const host = document.getElementById("activity");
  const data = await api("/v1/viewer/activity", { params: { span, buckets: 60 } });
  const agents = Object.keys(data.agents);
  const totals = Array.from({ length: data.buckets }, (_, i) =>
    agents.reduce((sum, name) => sum + data.agents[name][i], 0));
  const peak = Math.max(1, ...totals);
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const barW = innerW / data.buckets;
  const svg = el("svg", {
    viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
    "aria-label": `changes per agent, ${data.total} in all`,
  });
  for (const fraction of [0, 0.5, 1]) {
    const y = PAD.top + innerH * (1 - fraction);
    svg.append(el("line", { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: "gridline" }));
    svg.append(el("text", { x: PAD.left - 4, y: y + 4, class: "axis", "text-anchor": "end" },
      Math.round(peak * fraction)));
  }
  for (let i = 0; i < data.buckets; i += 1) {
    let y = PAD.top + innerH;
    const start = data.start_ts + i * data.bucket_seconds;
    for (const name of agents) {
      const count = data.agents[name][i];
      if (!count) continue;
      const h = (count / peak) * innerH;
      y -= h;
      svg.append(el("rect", {
        x: PAD.left + i * barW + 1, y, width: Math.max(1, barW - 2), height: h,
        fill: agentColour(name), class: "bar", "data-agent": name,
      }, el("title", {}, `${name}: ${count} change${count === 1 ? "" : "s"} from `
        + `${new Date(start * 1000).toLocaleTimeString()}`)));
    }
  }
  for (const i of [0, Math.floor(data.buckets / 2), data.buckets]) {
    const ts = data.start_ts + i * data.bucket_seconds;
    const label = span > 86400 ? new Date(ts * 1000).toLocaleDateString()
      : new Date(ts * 1000).toLocaleTimeString();
    const anchor = i === 0 ? "start" : i === data.buckets ? "end" : "middle";
    svg.append(el("text", { x: PAD.left + i * barW, y: H - 6, class: "axis", "text-anchor": anchor },
      label));
  }
  const legend = el("div", { class: "legend" }, agents.map((name) => {
    const swatch = el("span", { class: "swatch" });
    swatch.style.setProperty("--agent", agentColour(name));
    const sum = data.agents[name].reduce((a, b) => a + b, 0);
    return el("span", { class: "legend-item", dataset: { agent: name } }, swatch, `${name} ${sum}`);
  }), data.truncated ? el("span", { class: "muted" }, "(oldest changes left out)") : null);
  fill(host, svg, agents.length ? legend : el("p", { class: "muted" }, "No changes in this span."));
}
