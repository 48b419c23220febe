// The contact list: rows on the page follow their contacts live; new matching contacts wait behind an
// "N new — show" bar, so nothing moves under the reader until they ask.
import { config, el, formatAge, reasonName, startLive } from "./live.js";
import "./resubmit.js"; // window.ccpdash.resubmit: the alerts' toasts open the resubmit dialog with it

const filters = config.filters || {};
const tbody = document.getElementById("contact-rows");
const bar = document.getElementById("new-bar");
const showNew = document.getElementById("show-new");
const rows = new Map(); // public id -> <tr>
const applied = new Map(); // public id -> newest event id drawn on its row (events may arrive out of order)
const pending = new Map(); // public id -> newest event of a matching contact not on the page yet
const PENDING_MAX = 200; // more new contacts than this: "show" reloads the first page instead of drawing them
let overflow = false;
let newest = 0; // creation time (ms) of the newest row shown

for (const tr of tbody.rows) {
  rows.set(tr.dataset.contact, tr);
  newest = Math.max(newest, Date.parse(tr.dataset.created));
}

function matches(event) {
  // The same meaning as contacts.dashboard.filter_contacts, applied to what the event says now.
  const [state, reason] = event.to;
  const text = (filters.q || "").toLowerCase();
  const checks = [
    !filters.kind || event.kind === filters.kind,
    !filters.state || state === filters.state,
    !filters.reason || reason === (filters.reason === "none" ? "" : filters.reason),
    !filters.feed || event.feed === filters.feed,
    !filters.selector || event.cce_script_selector === (filters.selector === "none" ? "" : filters.selector),
    !filters.mrd || (filters.mrd === "none" ? event.mrd === null : String(event.mrd) === filters.mrd),
    !filters.window || (Date.now() - Date.parse(event.created)) / 1000 <= filters.window,
    !text || [event.name, event.title, event.contact].some((value) => (value || "").toLowerCase().includes(text)),
  ];
  return checks.every(Boolean);
}

function queueText(event) {
  if (event.mrd === null && !event.cce_script_selector) return el("span", { class: "muted", text: "not yet submitted" });
  return `MRD ${event.mrd ?? "—"} / ${event.cce_script_selector || "—"}`;
}

function updateRow(tr, event) {
  const [state, reason] = event.to;
  tr.dataset.state = state;
  tr.querySelector('[data-field="state"] .badge').textContent = state;
  const reasonCell = tr.querySelector('[data-field="reason"]');
  reasonCell.textContent = reasonName(reason);
  reasonCell.title = reason;
  tr.querySelector('[data-field="queue"]').replaceChildren(queueText(event));
  const stale = !matches(event);
  tr.classList.toggle("stale", stale);
  tr.title = stale ? "No longer matches the filters" : "";
}

function buildRow(event) {
  const tr = el(
    "tr",
    { dataset: { contact: event.contact, created: event.created } },
    el("td", {}, el("a", { href: `/contacts/${event.contact}`, text: event.name || event.contact })),
    el("td", { text: event.title }),
    el("td", { text: event.kind }),
    el("td", { "data-field": "state" }, el("span", { class: "badge" })),
    el("td", { "data-field": "reason" }),
    el("td", { "data-field": "queue" }),
    el("td", { class: "num" }, el("span", { "data-since": event.created, text: formatAge((Date.now() - Date.parse(event.created)) / 1000) })),
  );
  tr.classList.add("fresh");
  updateRow(tr, event);
  return tr;
}

function renderBar() {
  bar.hidden = pending.size === 0;
  const count = overflow ? `${PENDING_MAX}+` : pending.size;
  showNew.textContent = config.first_page ? `${count} new — show` : `${count} new — go to the newest`;
}

function apply(events) {
  for (const event of events) {
    const id = event.contact;
    const tr = rows.get(id);
    if (tr) {
      if (event.id > (applied.get(id) || 0)) {
        applied.set(id, event.id);
        updateRow(tr, event);
      }
    } else if (event.id > (pending.get(id)?.id || 0)) {
      // Only contacts newer than the top row are "new": older ones belong further down the list.
      if (!matches(event) || Date.parse(event.created) < newest) pending.delete(id);
      else if (pending.has(id) || pending.size < PENDING_MAX) pending.set(id, event);
      else overflow = true;
    }
  }
  renderBar();
}

function showPending() {
  if (overflow) {
    location.assign(showNew.dataset.href); // the newest page, read again, beats drawing hundreds of rows
    return;
  }
  const fresh = [...pending.values()].sort((a, b) => Date.parse(b.created) - Date.parse(a.created) || b.id - a.id);
  pending.clear();
  for (const event of fresh.reverse()) {
    const tr = buildRow(event);
    rows.set(event.contact, tr);
    applied.set(event.contact, event.id);
    tbody.prepend(tr);
    newest = Math.max(newest, Date.parse(event.created));
  }
  document.getElementById("no-contacts")?.remove();
  renderBar();
  tbody.querySelector("a")?.focus();
}

if (config.first_page) showNew.addEventListener("click", showPending);
renderBar();
startLive({ apply });
