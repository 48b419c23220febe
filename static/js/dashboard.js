// The queue overview page: draws the counters from the snapshots the server pushes (overview.snapshot,
// contacts.dashboard.snapshots) and keeps the recent-activity list from the live events. Only when no
// snapshot came for a few intervals after events (no web process pushing them) does it fetch /overview itself.
import { config, el, formatTime, formatWait, reasonName, startLive } from "./live.js";
import "./resubmit.js"; // window.ccpdash.resubmit: the alert list and toasts open the resubmit dialog with it
import "./alert_groups.js"; // the alerts by cause and place, redrawn from each alerts.groups snapshot

const RECENT = 30;
const REFRESH_MS = 3 * config.snapshot_ms + 1000; // a snapshot should have come by then
const IDLE_REFRESH_MS = 10000; // ages and the 15-minute window move even when nothing happens

let refreshTimer = null;
let refreshDue = Infinity;
let lastRefresh = Date.now();
let shownVersion = config.overview_version;
const activity = document.getElementById("activity");
const items = new Map(); // event id -> <li>
for (const li of activity.querySelectorAll("li[data-id]")) items.set(Number(li.dataset.id), li);

// At most one refresh per `delay` after the last one; an earlier need (an event) moves a later one (idle) forward.
function scheduleRefresh(delay = REFRESH_MS) {
  const due = lastRefresh + delay;
  if (due >= refreshDue) return;
  clearTimeout(refreshTimer);
  refreshDue = due;
  refreshTimer = setTimeout(refresh, Math.max(0, due - Date.now()));
}

let refreshes = 0;

async function refresh() {
  const number = ++refreshes;
  lastRefresh = Date.now();
  refreshDue = Infinity;
  try {
    const response = await fetch(config.overview, { headers: { Accept: "application/json" } });
    if (response.status === 401) return live.signedOut();
    if (response.status === 403) return live.forbidden();
    if (response.ok) {
      const data = await response.json();
      // A slow answer must not overwrite a newer one.
      if (number === refreshes) show(data);
    }
  } catch {
    scheduleRefresh(); // the server is unreachable: the socket's reconnect will say so; try again
  }
}

// Draw `data` (fetched or pushed) unless what is shown is newer.
function show(data) {
  if (data.version <= shownVersion) return;
  shownVersion = data.version;
  requestAnimationFrame(() => data.version === shownVersion && renderOverview(data));
}

window.addEventListener("ccpdash:message", ({ detail: message }) => {
  if (message.type !== "overview.snapshot") return;
  // A snapshot is a refresh: the fallback fetch waits for the next quiet spell.
  lastRefresh = Date.now();
  clearTimeout(refreshTimer);
  refreshDue = Infinity;
  show(message.overview);
});

function renderOverview(data) {
  const generated = document.getElementById("generated");
  generated.dateTime = data.generated_at;
  generated.textContent = formatTime(data.generated_at);
  for (const grouping of data.groupings) {
    const table = document.querySelector(`table[data-grouping="${grouping.key}"]`);
    if (table) renderRows(table.tBodies[0], grouping.rows);
    table?.closest("section")?.querySelector(".empty-note")?.remove();
  }
  renderKpis(data.kpis);
  renderAgents(data.agents);
  document.getElementById("backlog").textContent = data.backlog.length;
  document.getElementById("backlog-size").textContent = data.backlog.size;
  document.getElementById("backlog-rate").textContent = data.backlog.per_minute;
}

// The KPI tiles and the table per MRD, redrawn in place: one pass over the snapshot's figures.
function renderKpis(kpis) {
  for (const tile of document.querySelectorAll("#kpi-tiles .kpi")) {
    fillFigure(tile, tile.querySelector(".kpi-value"), kpis.total.figures[tile.dataset.key]);
  }
  const tbody = document.getElementById("kpi-rows");
  const keys = kpis.figures.map((figure) => figure.key).filter((key) => key !== "backlog");
  const existing = new Map([...tbody.querySelectorAll("tr[data-mrd]")].map((tr) => [tr.dataset.mrd, tr]));
  if (kpis.rows.length) tbody.querySelector("tr:not([data-mrd])")?.remove();
  kpis.rows.forEach((row, index) => {
    const id = String(row.mrd);
    let tr = existing.get(id);
    existing.delete(id);
    if (!tr) {
      tr = el("tr", { dataset: { mrd: id } }, el("th", { scope: "row" }));
      for (const key of keys) tr.append(el("td", { class: "num", dataset: { key } }));
    }
    tr.cells[0].replaceChildren(row.label, ...(row.name ? [" ", el("span", { class: "muted", text: row.name })] : []));
    for (const td of tr.querySelectorAll("td[data-key]")) fillFigure(td, td, row.figures[td.dataset.key]);
    if (tbody.rows[index] !== tr) tbody.insertBefore(tr, tbody.rows[index] || null);
  });
  for (const tr of existing.values()) tr.remove();
}

// A figure's level on `levelled` (ok / amber / red, coloured by CSS) and its text in `holder`, as a link when it has one.
function fillFigure(levelled, holder, figure) {
  if (!figure) return;
  levelled.dataset.level = figure.level;
  if (!figure.url) {
    holder.textContent = figure.text;
    return;
  }
  const link = holder.querySelector("a") || el("a");
  link.href = figure.url;
  link.textContent = figure.text;
  if (link.parentNode !== holder) holder.replaceChildren(link);
}

function renderRows(tbody, rows) {
  const existing = new Map([...tbody.rows].map((tr) => [tr.dataset.group, tr]));
  rows.forEach((row, index) => {
    let tr = existing.get(row.group);
    existing.delete(row.group);
    if (!tr) tr = buildRow(row);
    fillRow(tr, row);
    // Move only what is out of place, so a focused link in an unmoved row keeps its focus.
    if (tbody.rows[index] !== tr) tbody.insertBefore(tr, tbody.rows[index] || null);
  });
  for (const tr of existing.values()) tr.remove();
}

function buildRow(row) {
  const tr = el("tr", { dataset: { group: row.group } }, el("th", { scope: "row", "data-field": "label" }));
  for (const state of Object.keys(row.states)) {
    tr.append(el("td", { class: "num state", "data-state": state }, el("span", { class: "n" }), el("ul", { class: "reasons" })));
  }
  tr.append(el("td", { "data-field": "oldest" }), el("td", { "data-field": "wait" }));
  for (const kind of ["handled", "discarded"]) {
    tr.append(
      el("td", { class: "num" }, el("span", { "data-field": `${kind}_15m` }), " / ", el("span", { "data-field": `${kind}_today` })),
    );
  }
  tr.append(el("td", { class: "num" }, el("span", { "data-field": "cancelled_today" })));
  return tr;
}

function fillRow(tr, row) {
  const label = tr.querySelector('[data-field="label"]');
  label.textContent = row.label;
  label.classList.toggle("muted", row.value === null);
  for (const [state, cell] of Object.entries(row.states)) {
    const td = tr.querySelector(`td[data-state="${state}"]`);
    if (!td) continue;
    const n = td.querySelector(".n");
    n.textContent = cell.total;
    n.classList.toggle("zero", !cell.total);
    td.querySelector(".reasons").replaceChildren(
      ...cell.reasons.map((item) => el("li", { title: item.reason || "no reason" }, `${item.label} `, el("b", { text: item.count }))),
    );
  }
  fillOldest(tr.querySelector('[data-field="oldest"]'), row.oldest);
  tr.querySelector('[data-field="wait"]').textContent = formatWait(row.estimated_wait);
  for (const name of ["handled_15m", "handled_today", "discarded_15m", "discarded_today", "cancelled_today"]) {
    tr.querySelector(`[data-field="${name}"]`).textContent = row[name];
  }
}

function fillOldest(td, oldest) {
  if (!oldest) {
    td.textContent = "—";
    return;
  }
  let link = td.querySelector("a");
  if (!link) {
    link = el("a");
    td.replaceChildren(link);
  }
  link.href = `/contacts/${oldest.contact}`;
  link.dataset.since = oldest.since;
  link.textContent = oldest.age;
}

function renderAgents(agents) {
  const tbody = document.getElementById("agents");
  if (!agents.length) return;
  tbody.replaceChildren(
    ...agents.map((mrd) =>
      el(
        "tr",
        { dataset: { mrd: mrd.mrd } },
        el("th", { scope: "row" }, `MRD ${mrd.mrd} `, el("span", { class: "muted", text: mrd.name })),
        el("td", {}, mrd.routing ? "enabled" : el("span", { class: "bad", text: "disabled" })),
        el("td", { class: "num", text: `${mrd.ready} / ${mrd.agents}` }),
        el("td", { class: "num", text: `${mrd.in_use} / ${mrd.capacity}` }),
      ),
    ),
  );
}

function eventItem(event) {
  const [moved, reason] = event.to;
  // A successful cancel is shown as cancelled, never as a discard (the server-rendered rows say the same).
  const state = (config.cancel_codes || []).includes(reason) ? "cancelled" : moved;
  return el(
    "li",
    { dataset: { id: event.id, state } },
    el("time", { datetime: event.at, text: formatTime(event.at) }),
    " ",
    el("a", { href: `/contacts/${event.contact}`, text: event.name || event.contact }),
    " ",
    el("span", { class: "move", text: event.from ? `${event.from[0]} → ${state}` : state }),
    " ",
    reason ? el("span", { class: "reason", title: reason, text: reasonName(reason) }) : "",
    " ",
    el("span", { class: "muted", text: `${event.rule} · ${event.source}` }),
  );
}

function applyEvents(events) {
  // Newest first, capped: only the last RECENT of a burst are ever drawn.
  const newest = events.filter((event) => !items.has(event.id)).sort((a, b) => b.id - a.id).slice(0, RECENT);
  for (const event of newest) items.set(event.id, eventItem(event));
  const keep = [...items.keys()].sort((a, b) => b - a).slice(0, RECENT);
  const kept = new Set(keep);
  for (const [id, li] of items) {
    if (!kept.has(id)) {
      li.remove();
      items.delete(id);
    }
  }
  activity.querySelector("[data-empty]")?.remove();
  keep.forEach((id, index) => {
    const li = items.get(id);
    if (activity.children[index] !== li) activity.insertBefore(li, activity.children[index] || null);
  });
  scheduleRefresh();
}

const live = startLive({
  apply: applyEvents,
  seen: [...items.keys()],
  onHeartbeat: () => scheduleRefresh(IDLE_REFRESH_MS),
  onGap: () => location.reload(),
});
