// A bulk job's page: its progress and the contacts it moved, live.
//
// The socket brings hints — `job` messages (progress of this job) and contact events (a listed contact
// moved) — and the status endpoint is the truth: the page re-reads it when the socket (re)opens, when a
// heartbeat or a progress message says there is news, and every few seconds while the job runs.
import { el } from "./dom.js";

const config = JSON.parse(document.getElementById("job-config").textContent);
const reasonName = (reason) => (config.reason_names || {})[reason || ""] || reason || "—";
const items = document.getElementById("job-items");
const REFRESH_MIN_MS = 500;
const POLL_MS = 3000;
// Every message of one socket message, in order: the server sends frames of messages (contacts.live.hub),
// or an array of frames to a socket that fell behind. This page keeps no sequence: it re-reads its status.
function messagesOf(data) {
  return (Array.isArray(data) ? data : [data]).flatMap((frame) => (frame.type === "frame" ? frame.messages : [frame]));
}

let finished = document.getElementById("job-state").dataset.state === "done";
let refreshing = null;
let lastRefresh = 0;
let retries = 0;

function setField(name, value) {
  const node = document.querySelector(`[data-field="${name}"]`);
  if (node) node.textContent = value;
}

function showProgress(job) {
  for (const name of ["total", "done", "succeeded", "skipped"]) setField(name, job[name]);
  const bar = document.getElementById("job-progress");
  bar.max = Math.max(job.total, job.done, 1);
  bar.value = job.done;
  const state = document.getElementById("job-state");
  state.dataset.state = job.state;
  state.textContent = job.state;
  document.getElementById("job-skips").textContent = Object.entries(job.skips || {})
    .map(([why, n]) => `${n} skipped: ${why}.`).join(" ");
  const summary = document.getElementById("job-summary");
  if (job.state === "done") {
    const verb = job.kind === "resubmit" ? "resubmitted" : "cancels requested";
    summary.textContent = `Finished: ${job.succeeded} ${verb}, ${job.skipped} skipped.`;
    summary.hidden = false;
    finished = true;
  }
}

function showItem(contact, state, reason) {
  const tr = items.querySelector(`tr[data-contact="${contact}"]`);
  if (!tr) return false;
  tr.dataset.state = state;
  tr.querySelector('[data-field="state"] .badge').textContent = state;
  const reasonCell = tr.querySelector('[data-field="reason"]');
  reasonCell.textContent = reasonName(reason);
  reasonCell.title = reason;
  return true;
}

function addItem(item) {
  items.append(el("tr", { dataset: { contact: item.public_id, state: item.state } },
    el("td", {}, el("a", { href: `/contacts/${item.public_id}`, text: item.name || item.public_id })),
    el("td", { text: item.kind }),
    el("td", { "data-field": "state" }, el("span", { class: "badge", text: item.state })),
    el("td", { "data-field": "reason", title: item.reason, text: reasonName(item.reason) })));
}

function showStatus(status) {
  showProgress(status);
  for (const item of status.items) {
    if (!showItem(item.public_id, item.state, item.reason)) addItem(item);
  }
  document.getElementById("job-outcomes").replaceChildren(
    ...status.outcomes.map((row) => el("li", { title: row.reason, text: `${row.n} × ${row.state}${row.reason ? ` ${reasonName(row.reason)}` : ""}` })));
}

function refresh() {
  if (refreshing) return refreshing;
  const wait = Math.max(0, lastRefresh + REFRESH_MIN_MS - Date.now());
  refreshing = new Promise((resolve) => setTimeout(resolve, wait))
    .then(() => fetch(config.status, { headers: { Accept: "application/json" }, credentials: "same-origin" }))
    .then((response) => (response.ok ? response.json() : null))
    .then((status) => status && showStatus(status))
    .catch(() => {})
    .finally(() => {
      lastRefresh = Date.now();
      refreshing = null;
    });
  return refreshing;
}

function open() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + location.host + config.socket);
  socket.onopen = () => {
    retries = 0;
    refresh();
  };
  socket.onmessage = (message) => {
    for (const data of messagesOf(JSON.parse(message.data))) {
      if (data.type === "job" && data.job.id === config.job) {
        showProgress(data.job);
        refresh();
      } else if (data.type === "event") {
        const [state, reason] = data.event.to;
        // A listed contact moved: its row at once, and the outcome counts from the status read (rate-limited
        // by refresh), so the summary never contradicts the rows, also after the job finished.
        if (showItem(data.event.contact, state, reason)) refresh();
      } else if ((data.type === "heartbeat" || data.type === "resync") && !finished) {
        refresh(); // the status read is the truth; a resync notice means messages were lost
      }
    }
  };
  socket.onclose = (closed) => {
    if (closed.code === 4401 || closed.code === 4403) return; // the status reads say why (401/403)
    setTimeout(open, Math.min(15000, 500 * 2 ** retries++));
  };
}

setInterval(() => {
  if (!finished) refresh();
}, POLL_MS);
open();
