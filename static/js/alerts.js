// Alerts on every live page: toasts for new discards and queue alerts (grouped and queued during a burst),
// the alert list (home page), acknowledging (seen live by every other supervisor), and the number of
// unacknowledged alerts in the title and the favicon.
//
// The feed (/alerts/feed) is the truth and socket messages are hints (DESIGN invariant 3): a discard's
// transition event, an alert.ack or alert.queue message, a reconnect or a heartbeat naming an event we
// never saw makes the page re-read the feed after its cursors minus a window; everything is deduped by key
// (alerts) or id (acknowledgements). The alert format is documented in contacts/alerts.py.
//
// The server reads the feed once a second for every page and pushes what is new (alerts.snapshot,
// contacts.dashboard.snapshots): a page applies it when it already has everything up to the snapshot's
// `since`, and reads the feed itself only when it missed one, when a snapshot is partial (`more`), or
// when none came a few intervals after a discard or an acknowledgement.
import { createToasts, links, newer } from "./alert_toasts.js";
import { config as live, el, formatTime } from "./live.js";

const cfg = JSON.parse(document.getElementById("alerts-config").textContent);
const LIST_MAX = 200;
const SWEEP_MS = 30000;
const BEHIND_GRACE_MS = 1500;
const MAX_PAGES = 20;
const SNAPSHOT_GRACE_MS = 3 * live.snapshot_ms + 1000; // a snapshot should have brought it by then

const baseline = { ...cfg.cursors }; // alerts up to these ids existed at page load: listed, never toasted
let cursors = { ...cfg.cursors };
const alerts = new Map(); // key -> alert
const acks = new Map(); // alert key -> acknowledgement (may come before its alert)
const ackIds = new Set();
const openQueue = new Set(cfg.open);
let newestEvent = cfg.cursors.discards;
const baseTitle = document.title;
const baseIcon = document.querySelector('link[rel="icon"]')?.href;
const list = document.getElementById("alert-list"); // the home page only
const toasts = createToasts({
  container: document.getElementById("toasts"),
  canAcknowledge: cfg.can_acknowledge,
  acknowledge: (keys) => acknowledgeKeys(keys),
  resubmitter: (alert) => resubmitter(alert),
  perms: cfg.perms,
});

// --- reading the feed -----------------------------------------------------------------------------------

let timer = null;
let timerDue = Infinity;
let reading = null;
let readAgain = false;
let lastRead = 0;

function schedule(delay) {
  const due = Date.now() + delay;
  if (due >= timerDue) return; // a read is already due as soon: it will see this too
  clearTimeout(timer);
  timerDue = due;
  timer = setTimeout(() => {
    unschedule();
    read();
  }, delay);
}

function unschedule() {
  clearTimeout(timer);
  timer = null;
  timerDue = Infinity;
}

function read() {
  if (reading) {
    readAgain = true;
    return;
  }
  lastRead = Date.now();
  reading = readFeed()
    .catch(() => setTimeout(() => schedule(0), 2000))
    .finally(() => {
      reading = null;
      if (!readAgain) return;
      readAgain = false;
      read();
    });
}

async function readFeed() {
  // The first page reaches back a window (ids grow by insert, not commit); the next ones go on exactly.
  let after = Object.fromEntries(Object.entries(cursors).map(([name, id]) => [name, Math.max(0, id - cfg.window)]));
  for (let page = 0; page < MAX_PAGES; page++) {
    const params = new URLSearchParams(after);
    if (openQueue.size) params.set("open", [...openQueue].slice(0, 100).join(","));
    const response = await fetch(`${cfg.feed}?${params}`, { headers: { Accept: "application/json" } });
    if (response.status === 401 || response.status === 403) return; // live.js says why on the page
    if (!response.ok) throw new Error(`alerts: HTTP ${response.status}`);
    const body = await response.json();
    applyAlerts(body.alerts);
    applyAcks(body.acks);
    for (const name of Object.keys(cursors)) cursors[name] = Math.max(cursors[name], body.cursors[name]);
    setCount(body.unacknowledged);
    if (!body.more) return;
    after = body.cursors;
  }
}

window.addEventListener("ccpdash:events", ({ detail: events }) => {
  let discard = false;
  for (const event of events) {
    newestEvent = Math.max(newestEvent, event.id);
    discard ||= event.to[0] === "discarded";
  }
  // Its alert (with the fix link) comes with the next snapshot; the feed is read only if none does.
  if (discard) schedule(SNAPSHOT_GRACE_MS);
});

window.addEventListener("ccpdash:message", ({ detail: message }) => {
  if (message.type === "alert.ack") {
    applyAcks(message.acks);
    schedule(message.more ? 0 : SNAPSHOT_GRACE_MS); // the count comes with the snapshot; a long list's rest now
  } else if (message.type === "alert.queue") {
    applyAlerts([message.alert]);
    schedule(SNAPSHOT_GRACE_MS);
  } else if (message.type === "alerts.snapshot") {
    applySnapshot(message);
  } else if (message.type === "heartbeat") {
    const id = message.last_id;
    if (id > newestEvent) setTimeout(() => id > newestEvent && schedule(0), BEHIND_GRACE_MS);
    else if (Date.now() - lastRead > SWEEP_MS) schedule(0);
  }
});

window.addEventListener("ccpdash:open", () => schedule(0));
window.addEventListener("ccpdash:resync", () => schedule(0)); // frames were lost: snapshots among them

function applySnapshot(snapshot) {
  if (!Object.keys(cursors).every((name) => cursors[name] >= snapshot.since[name])) {
    schedule(0); // a snapshot before this one never came: read what it had
    return;
  }
  applyAlerts(snapshot.alerts);
  applyAcks(snapshot.acks);
  for (const name of Object.keys(cursors)) cursors[name] = Math.max(cursors[name], snapshot.cursors[name]);
  setCount(snapshot.unacknowledged);
  lastRead = Date.now();
  if (snapshot.more) schedule(0);
  else if (cursors.discards >= newestEvent && !reading) unschedule(); // nothing left for a read to find
}

// --- alerts and acknowledgements ------------------------------------------------------------------------

function applyAlerts(incoming) {
  const fresh = [];
  for (const alert of incoming) {
    const known = alerts.get(alert.key);
    alert.ack ||= acks.get(alert.key) || known?.ack || null;
    if (alert.kind === "queue") alert.cleared_at ? openQueue.delete(alert.id) : openQueue.add(alert.id);
    // A resync re-reads a window of alerts the page mostly has: redraw only what changed.
    if (known && known.ack?.id === alert.ack?.id && known.cleared_at === alert.cleared_at) continue;
    alerts.set(alert.key, alert);
    const above = alert.id > baseline[alert.kind === "queue" ? "queue" : "discards"];
    if (!known && above && !alert.ack && !alert.cleared_at) fresh.push(alert);
    renderRow(alert);
    toasts.update(alert);
  }
  if (fresh.length) toasts.toast(fresh);
}

function applyAcks(incoming) {
  for (const ack of incoming) {
    if (ackIds.has(ack.id)) continue;
    ackIds.add(ack.id);
    if (acks.has(ack.alert)) continue; // the first acknowledgement of an alert is the one that counts
    acks.set(ack.alert, ack);
    const alert = alerts.get(ack.alert);
    if (alert && !alert.ack) {
      alert.ack = ack;
      renderRow(alert);
      toasts.update(alert);
    }
  }
}

async function acknowledge(fields) {
  const response = await fetch(cfg.ack, {
    method: "POST",
    headers: { Accept: "application/json", "X-CSRFToken": cfg.csrf },
    body: new URLSearchParams(fields),
  });
  if (!response.ok) throw new Error(`acknowledge: HTTP ${response.status}`);
  const body = await response.json();
  applyAcks(body.acks);
  setCount(body.unacknowledged);
}

function acknowledgeKeys(keys) {
  return acknowledge(keys.map((key) => ["alert", key]));
}

function setCount(n) {
  const badge = document.getElementById("alert-count");
  if (badge) {
    badge.dataset.count = n;
    badge.querySelector('[data-field="count"]').textContent = n;
    badge.querySelector('[data-field="label"]').textContent = n === 1 ? "unacknowledged alert" : "unacknowledged alerts";
  }
  const inList = document.getElementById("alerts-unacknowledged");
  if (inList) inList.textContent = n;
  const all = document.getElementById("ack-all");
  if (all) all.hidden = !n;
  document.title = n ? `(${n}) ${baseTitle}` : baseTitle;
  setFavicon(n);
}

function setFavicon(n) {
  const link = document.querySelector('link[rel="icon"]');
  if (!link) return;
  if (!n) {
    link.href = baseIcon;
    return;
  }
  const text = n > 99 ? "99+" : String(n); // a number only: nothing from data goes into the SVG
  const size = text.length > 2 ? 13 : 18;
  const svg =
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="16" cy="16" r="16" fill="#c5221f"/>' +
    `<text x="16" y="${16 + size * 0.36}" font-family="system-ui,sans-serif" font-size="${size}" font-weight="700" ` +
    `fill="#fff" text-anchor="middle">${text}</text></svg>`;
  link.href = `data:image/svg+xml,${encodeURIComponent(svg)}`;
}

// The resubmit dialog of resubmit.js for a discard's contact, or null where the user may not or the page has none.
function resubmitter(alert) {
  const open = window.ccpdash?.resubmit?.open;
  // A resolved discard (its contact resubmitted, handled or discarded again) has nothing left to resubmit.
  if (!cfg.can_manage || alert.kind !== "discard" || alert.resolved || typeof open !== "function") return null;
  return () => open(alert.contact.id);
}

// --- the alert list (home page) -------------------------------------------------------------------------

const rows = new Map(); // key -> <li>

function buildRow(alert) {
  const what = el("p", { class: "alert-what" }, el("time", { datetime: alert.at, text: formatTime(alert.at) }), " ");
  what.append(el("strong", { class: "alert-name", title: alert.cause, text: alert.name }), " ", el("code", { text: alert.code }));
  if (alert.scope) what.append(" ", el("span", { text: alert.scope }));
  if (alert.contact) what.append(" · ", el("a", { href: alert.contact.url, text: alert.contact.name }));
  const fix = el("p", { class: "alert-fix" }, alert.kind === "queue" ? `${alert.cause} ` : "");
  fix.append(el("strong", { text: "Fix:" }), ` ${alert.fix}`, ...links(alert, cfg.perms));
  const status = el("p", { class: "alert-status" });
  if (alert.cleared_at) status.append(el("span", { class: "cleared", text: `Cleared ${formatTime(alert.cleared_at)}` }), " ");
  if (alert.ack) {
    const who = alert.ack.user || "a deleted user";
    status.append(el("span", { class: "acked" }, `Acknowledged by ${who} at `, el("time", { datetime: alert.ack.at, text: formatTime(alert.ack.at) })));
  } else if (cfg.can_acknowledge) {
    status.append(el("button", { type: "button", dataset: { ack: alert.key }, text: "Acknowledge" }));
  } else {
    status.append(el("span", { class: "muted", text: "Not acknowledged" }));
  }
  if (alert.resolved && alert.kind === "discard") status.append(" ", el("span", { class: "cleared", text: "Resolved: its contact moved on" }));
  if (resubmitter(alert)) status.append(" ", el("button", { type: "button", dataset: { openResubmit: alert.contact.id }, text: "Resubmit…" }));
  const attrs = { class: "alert", dataset: { key: alert.key, kind: alert.kind }, "data-acked": !!alert.ack, "data-cleared": !!alert.cleared_at };
  return el("li", attrs, what, fix, status);
}

function renderRow(alert) {
  if (!list) return;
  const old = rows.get(alert.key) || list.querySelector(`li[data-key="${CSS.escape(alert.key)}"]`);
  const li = buildRow(alert);
  rows.set(alert.key, li);
  if (old) {
    const focused = old.contains(document.activeElement);
    old.replaceWith(li);
    if (focused) li.querySelector("a, button")?.focus(); // a keyboard user keeps their place
    return;
  }
  list.querySelector("[data-empty]")?.remove();
  const after = [...list.children].find((other) => other.dataset.key && newer(alert, alerts.get(other.dataset.key)));
  list.insertBefore(li, after || null);
  while (list.children.length > LIST_MAX) {
    const last = list.lastElementChild;
    rows.delete(last.dataset.key);
    last.remove();
  }
}

list?.addEventListener("click", (event) => {
  const ack = event.target.closest("button[data-ack]");
  if (ack) {
    ack.disabled = true;
    acknowledgeKeys([ack.dataset.ack]).catch(() => (ack.disabled = false));
  }
  const resubmit = event.target.closest("button[data-open-resubmit]");
  if (resubmit) window.ccpdash.resubmit.open(resubmit.dataset.openResubmit);
});

document.getElementById("ack-all")?.addEventListener("submit", (event) => {
  event.preventDefault(); // everything this page has seen, no more
  acknowledge({ all: "1", discards_upto: cursors.discards, queue_upto: cursors.queue }).catch(() => {});
});

// --- start ----------------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  // After every module ran, so window.ccpdash.resubmit (resubmit.js) exists if the page has it.
  const initial = document.getElementById("alerts-initial");
  applyAlerts(initial ? JSON.parse(initial.textContent) : []);
  setCount(cfg.unacknowledged);
  schedule(0);
});
