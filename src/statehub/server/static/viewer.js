// The statehub web viewer: sign in with a token, then timeline, state, diff,
// checkpoints, tasks, locks and inboxes, kept live by the hub's watch stream.

import {
  actAs, api, authHeaders, onUnauthorized, setActAs, setToken, token, withQuery,
} from "./js/api.js";
import { drawActivity } from "./js/chart.js";
import { drawCoordination, tickExpiries } from "./js/coordination.js";
import { DiffView } from "./js/diff.js";
import { watch } from "./js/sse.js";
import { StateView } from "./js/state.js";
import { drawTasks } from "./js/tasks.js";
import { Timeline } from "./js/timeline.js";
import { agentBadge, debounce, el, fill } from "./js/util.js";

const TABS = ["timeline", "state", "diff", "tasks", "coordination"];
const $ = (id) => document.getElementById(id);

function showLogin(message = "") {
  $("login").hidden = false;
  $("login-error").textContent = message;
  $("token").focus();
}

const FLASH_KEY = "statehub.flash";

/** Forget the token and start afresh (a reload: no view, stream or listener survives). */
function signOut(message = "") {
  if (window.statehubViewer) window.statehubViewer.stream.stop();
  setToken(null);
  if (message) sessionStorage.setItem(FLASH_KEY, message);
  location.reload();
}

function setLive(state) {
  const live = $("live");
  live.dataset.state = state;
  live.textContent = { live: "live", connecting: "reconnecting…", off: "offline" }[state];
}

async function start() {
  let me;
  try {
    me = await api("/v1/viewer/me");
  } catch (error) {
    if (actAs() && error.status !== 401) {
      setActAs(null); // an agent name the server refused: back to the token's own view
      start();
      return;
    }
    signOut(error.status === 401 ? "This token is not valid (or was revoked)." : error.message);
    return;
  }
  $("login").hidden = true;
  $("tabs").hidden = false;
  $("logout").hidden = false;
  $("hub-form").hidden = false;
  $("hub-form").elements.hub.value = me.hub;
  fill($("whoami"), agentBadge(me.agent), me.admin ? el("span", { class: "tag tag-admin" }, "admin") : null);
  $("own-label").hidden = !me.hub_wide;
  $("act-as").hidden = !me.admin;
  $("act-as").elements.agent.value = actAs() || "";
  document.body.dataset.admin = String(me.admin);

  const views = {
    timeline: new Timeline({ onAgents: Timeline.agentList, onKey: (key) => { pendingKey = key; } }),
    state: new StateView(),
    diff: new DiffView({ admin: me.admin }),
  };
  let pendingKey = null;
  let head = me.revision;
  const showHead = () => { $("head").textContent = `revision ${head}`; };
  showHead();

  // The chart's span: a choice, or ("fit") back to the oldest change listed (at least 10 s).
  const span = () => {
    const choice = $("activity-span").value;
    if (choice !== "fit") return Number(choice);
    const oldest = views.timeline.oldestTs();
    const since = oldest === null ? 60 : Date.now() / 1000 - oldest;
    return Math.max(10, Math.ceil(since * 1.05));
  };
  const chart = () => drawActivity(span());
  const loaders = {
    timeline: async () => {
      await views.timeline.reload();
      await chart();
    },
    state: async () => {
      await views.state.refresh();
      if (pendingKey) {
        const key = pendingKey;
        pendingKey = null;
        await views.state.show(key);
      }
    },
    diff: () => views.diff.refresh(),
    tasks: drawTasks,
    coordination: drawCoordination,
  };
  let current = null;
  const report = (error) => { console.error(error); };
  function route() {
    const tab = TABS.includes(location.hash.slice(1)) ? location.hash.slice(1) : "timeline";
    for (const name of TABS) $(`view-${name}`).hidden = name !== tab;
    for (const link of document.querySelectorAll("#tabs a")) {
      link.classList.toggle("active", link.dataset.tab === tab);
    }
    current = tab;
    loaders[tab]().catch(report);
  }
  window.addEventListener("hashchange", route);
  $("activity-span").addEventListener("change", () => chart().catch(report));

  // What a new change makes stale, besides the timeline row it adds.
  const refreshCurrent = debounce(() => {
    if (current !== "timeline") loaders[current]().catch(report);
  }, 250);
  const refreshChart = debounce(() => {
    if (current === "timeline") chart().catch(report);
  }, 1000);

  const stream = watch(withQuery("/v1/watch", { since: me.revision }), {
    headers: () => authHeaders(),
    onState: setLive,
    onFatal: (response) => {
      if (response.status === 401) signOut("The token is no longer valid.");
      else setLive("off");
    },
    onEvent: (event) => {
      if (event.type !== "change") return;
      const change = JSON.parse(event.data);
      head = Math.max(head, change.revision);
      showHead();
      views.timeline.live(change);
      refreshChart();
      refreshCurrent();
    },
  });
  setInterval(tickExpiries, 1000);
  window.statehubViewer = { me, views, stream };
  route();
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  setToken($("token").value.trim());
  $("token").value = "";
  start();
});
$("logout").addEventListener("click", () => signOut());
$("hub-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const url = new URL(location.href);
  url.searchParams.set("hub", event.target.elements.hub.value.trim());
  location.assign(url); // the same token: tokens are the server's, for all its hubs
});
$("act-as").addEventListener("submit", (event) => {
  event.preventDefault();
  setActAs(event.target.elements.agent.value.trim() || null);
  location.reload(); // every view, and the watch stream, as that agent
});
onUnauthorized(() => signOut("The token is no longer valid."));

if (token()) {
  start();
} else {
  showLogin(sessionStorage.getItem(FLASH_KEY) || "");
  sessionStorage.removeItem(FLASH_KEY);
}
