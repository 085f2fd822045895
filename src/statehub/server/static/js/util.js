// Small DOM and formatting helpers shared by every view.

/** Build an element: el("td", {class: "x", title: "y"}, child, "text", ...). */
export function el(tag, attrs = {}, ...children) {
  const node = tag === "svg" || SVG_TAGS.has(tag)
    ? document.createElementNS("http://www.w3.org/2000/svg", tag)
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const SVG_TAGS = new Set(["g", "rect", "line", "text", "title", "path", "circle"]);

/** Replace every child of `node` with `children`. */
export function fill(node, ...children) {
  node.replaceChildren();
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}

/** A colour per agent name: the same name always gets the same hue (FNV-1a hash). */
export function agentColour(name) {
  if (name === "_statehub") return "hsl(0 0% 55%)";
  let hash = 0x811c9dc5;
  for (const ch of name) {
    hash ^= ch.codePointAt(0);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  const hue = hash % 360;
  // Yellows, greens and cyans look light at any lightness: darker, so white text reads.
  const light = (hue >= 45 && hue <= 200 ? 28 : 40) + ((hash >>> 9) % 3) * 4;
  return `hsl(${hue} 65% ${light}%)`;
}

/** An agent's name as a coloured badge. */
export function agentBadge(name) {
  const badge = el("span", { class: "agent", title: name }, name);
  badge.style.setProperty("--agent", agentColour(name));
  return badge;
}

/** A time as HH:MM:SS.mmm (local), with the full date in a tooltip. */
export function timeCell(ts) {
  const date = new Date(ts * 1000);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  const text = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
    + `.${pad(date.getMilliseconds(), 3)}`;
  return el("time", { datetime: date.toISOString(), title: date.toString() }, text);
}

/** A time as a short local date and time. */
export function when(ts) {
  return new Date(ts * 1000).toLocaleString();
}

/** How long until `ts` (seconds since the epoch), e.g. "in 12 s" or "expired". */
export function until(ts) {
  const left = ts - Date.now() / 1000;
  if (left <= 0) return "expired";
  if (left < 120) return `in ${left.toFixed(0)} s`;
  if (left < 7200) return `in ${(left / 60).toFixed(0)} min`;
  return `in ${(left / 3600).toFixed(1)} h`;
}

/** JSON on one line, cut to `max` characters. */
export function brief(value, max = 80) {
  const text = value === undefined ? "" : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A change's effect (its RFC 6902 patch) in a few words. */
export function effect(change) {
  if (change.op === "delete" || change.op === "expire") return "";
  const ops = change.patch || [];
  if (ops.length === 1 && ops[0].path === "") return brief(ops[0].value, 60);
  return ops.map((p) => `${p.op} ${p.path}${"value" in p ? ` ${brief(p.value, 30)}` : ""}`)
    .join(", ").slice(0, 90);
}

/** Call `fn` at most once per `ms`, after the last call (trailing debounce). */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** The scope a key belongs to: global, agent, task (or statehub's own). */
export function scopeOf(key) {
  return key.split("/", 1)[0];
}
