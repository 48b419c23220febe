// The wall board (contacts.wall): draws the KPI tiles, the rows per MRD and the alert groups from what the
// socket pushes (overview.snapshot, alerts.groups), and says so, in a banner no one can miss, as soon as
// nothing has arrived for `stale_after_ms` (the server pings every 2 s). It runs for days: it reconnects
// with backoff, re-reads /wall/data whenever the socket (re)opens, and keeps nothing that grows.
import { el } from "./dom.js";

const config = JSON.parse(document.getElementById("wall-config").textContent);
const first = JSON.parse(document.getElementById("wall-board").textContent);

const RETRY_MAX_MS = 10000;
let socket = null;
let retries = 0;
let heldUntil = 0; // the test hook's cut: no reconnect before then
let lastMessage = Date.now();
let shownVersion = 0;
let stopped = false;

const zoneParts = new Intl.DateTimeFormat("en-GB", {
  timeZone: config.time_zone || undefined, hourCycle: "h23", hour: "2-digit", minute: "2-digit", second: "2-digit",
});

function clock(date) {
  const p = Object.fromEntries(zoneParts.formatToParts(date).map(({ type, value }) => [type, value]));
  return `${p.hour}:${p.minute}:${p.second}`;
}

const ROW_KEYS = ["waiting", "longest_wait", "service_level", "handled", "discarded", "free_slots"];

function cellOf(figure) {
  return el("td", { dataset: { level: figure.level }, text: figure.text });
}

// The figures of one snapshot, in one pass: tiles in place, the rows rebuilt (a handful of MRDs).
function showKpis(kpis, version, generatedAt) {
  if (version <= shownVersion) return;
  shownVersion = version;
  for (const tile of document.querySelectorAll("#tiles .tile")) {
    const figure = kpis.total.figures[tile.dataset.key];
    if (!figure) continue;
    tile.dataset.level = figure.level;
    tile.querySelector(".tile-value").textContent = figure.text;
  }
  document.getElementById("queue-rows").replaceChildren(
    ...kpis.rows.map((row) => {
      const name = row.name ? [" ", el("span", { class: "name", text: row.name })] : [];
      return el("tr", { dataset: { mrd: row.mrd } }, el("th", { scope: "row" }, row.label, ...name),
        ...ROW_KEYS.map((key) => cellOf(row.figures[key])));
    }),
  );
  const generated = document.getElementById("generated");
  generated.dateTime = generatedAt;
  generated.textContent = clock(new Date(generatedAt));
}

function showGroups(alerts) {
  document.getElementById("alert-total").textContent = alerts.unacknowledged;
  const note = (group) => ({ acknowledged: " · acknowledged", "new since acknowledged": ` · ${group.unacknowledged} new since acknowledged` })[group.status];
  const items = alerts.groups.filter((group) => group.status !== "resolved").map((group) =>
    el("li", { dataset: { group: group.group, kind: group.kind, status: group.status } },
      el("b", { text: `${group.count} ×` }), ` ${group.name}`,
      ...(group.scope ? [" ", el("span", { class: "scope", text: group.scope })] : []),
      ...(note(group) ? [el("span", { class: "scope", text: note(group) })] : []),
      el("span", { class: "fix", text: group.fix })));
  if (!items.length) items.push(el("li", { class: "none", text: "No open alerts.", dataset: { empty: "" } }));
  document.getElementById("groups").replaceChildren(...items);
}

function showBoard(board) {
  showKpis(board.kpis, board.version, board.generated_at);
  showGroups(board.alerts);
}

async function reread() {
  try {
    const response = await fetch(config.data, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (response.status === 403) return revoked();
    if (response.ok) showBoard(await response.json());
  } catch {
    // the socket's reconnect says when the server is back
  }
}

function messagesOf(data) {
  return (Array.isArray(data) ? data : [data]).flatMap((frame) => (frame.type === "frame" ? frame.messages : [frame]));
}

function onMessage(message) {
  lastMessage = Date.now();
  for (const item of messagesOf(JSON.parse(message.data))) {
    if (item.type === "overview.snapshot") showKpis(item.overview.kpis, item.overview.version, item.overview.generated_at);
    else if (item.type === "alerts.groups") showGroups(item);
  }
  freshness();
}

function connect() {
  if (stopped) return;
  const wait = heldUntil - Date.now();
  if (wait > 0) {
    setTimeout(connect, wait);
    return;
  }
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  socket = new WebSocket(scheme + location.host + config.socket);
  socket.onopen = () => {
    retries = 0;
    lastMessage = Date.now();
    reread(); // whatever happened while it was away, at once
  };
  socket.onmessage = onMessage;
  socket.onclose = (closed) => {
    socket = null;
    if (closed.code === 4403 || closed.code === 4401) return revoked();
    setTimeout(connect, Math.min(RETRY_MAX_MS, 500 * 2 ** retries++));
  };
}

function revoked() {
  stopped = true;
  const banner = document.getElementById("stale");
  banner.textContent = "This wall board's link was revoked or has no access: ask an admin for a new one.";
  banner.hidden = false;
}

// The banner: shown when nothing arrived for stale_after_ms, with the time of the last update.
function freshness() {
  if (stopped) return;
  const stale = Date.now() - lastMessage > config.stale_after_ms;
  const banner = document.getElementById("stale");
  if (stale && banner.hidden) document.getElementById("stale-since").textContent = clock(new Date(lastMessage));
  banner.hidden = !stale;
  document.body.dataset.live = String(!stale);
}

setInterval(freshness, 1000);
showBoard(first);
connect();

// For the browser tests: cut the socket and hold the reconnect for `holdMs`, as a network outage would.
window.ccpdash = {
  cutSocket(holdMs = 0) {
    heldUntil = Date.now() + holdMs;
    socket?.close();
  },
};
