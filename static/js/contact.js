// One contact's page: new moves join its timeline live and its position and CCE fields follow them; an
// admin's actions (resubmit, cancel) follow the position too. Audit rows (data-audit) sit in the timeline
// by time; only transition rows (data-id) count for ordering and "time in previous state".
import { config, el, formatAge, formatDateTime, formatWait, reasonName, startLive } from "./live.js";
import "./resubmit.js";

const discardReasons = JSON.parse(document.getElementById("discard-reasons").textContent);
const workflowNode = document.getElementById("workflow-config");
const workflow = workflowNode ? JSON.parse(workflowNode.textContent) : null;
const timeline = document.getElementById("timeline");
const moveRows = () => [...timeline.rows].filter((tr) => tr.dataset.id);
const rows = new Map(moveRows().map((tr) => [Number(tr.dataset.id), tr]));
let newestApplied = Math.max(0, ...rows.keys());

function cell(text, attrs = {}) {
  return el("td", { text, ...attrs });
}

function buildRow(event) {
  const [state, reason] = event.to;
  const from = event.from ? event.from[0] : el("span", { class: "muted", text: "new" });
  return el(
    "tr",
    { dataset: { id: event.id, at: event.at, state } },
    el("td", {}, el("time", { datetime: event.at, text: formatDateTime(event.at) })),
    el("td", {}, from, " → ", el("span", { class: "badge", text: state })),
    cell(reasonName(reason), { title: reason }),
    cell(event.rule),
    cell(event.source),
    cell(event.user || "—"),
    cell(event.comment, { class: "prose" }),
    cell("", { class: "num", "data-field": "spent" }),
  );
}

function insertInOrder(tr, id) {
  // Ids grow by insert, not commit: a late event may belong above rows already drawn.
  const after = moveRows().find((row) => Number(row.dataset.id) > id);
  timeline.insertBefore(tr, after || null);
}

function recomputeSpent() {
  let previous = null;
  for (const tr of moveRows()) {
    const at = Date.parse(tr.dataset.at);
    tr.querySelector('[data-field="spent"]').textContent = previous === null ? "—" : formatAge((at - previous) / 1000);
    previous = at;
  }
}

function setField(name, text) {
  const node = document.querySelector(`[data-field="${name}"]`);
  if (node) node.textContent = text;
}

function showPosition(event) {
  const [state, reason] = event.to;
  document.getElementById("position").dataset.state = state;
  setField("state", state);
  setField("reason", reasonName(reason));
  const reasonField = document.querySelector('[data-field="reason"]');
  if (reasonField) reasonField.title = reason;
  setField("mrd", event.mrd ?? "not yet submitted");
  setField("cce_script_selector", event.cce_script_selector || "not yet submitted");
  setField("estimated_wait", formatWait(event.estimated_wait));
  setField("attempt", event.attempt);
  setField("cce_task_id", event.cce_task_id || "—");
  setField("agent_id", event.agent_id || "—");
  const discard = document.getElementById("discard");
  const info = state === "discarded" ? discardReasons[reason] : null;
  discard.hidden = !info;
  if (info) {
    setField("cause", info.cause);
    setField("fix", info.fix);
  }
  showActions(state, reason);
}

function showActions(state, reason) {
  // What an admin may do follows the position; the server checks again on every request.
  if (!workflow) return;
  const verdict = document.getElementById("verdict");
  if (verdict) verdict.hidden = true; // decide()'s verdict was for the position the page was drawn at
  const resubmit = state === "discarded" && !workflow.cancel_succeeded.includes(reason);
  document.getElementById("resubmit-control").hidden = !resubmit;
  document.getElementById("resubmit-refusal").hidden = true;
  const cancel = workflow.cancel_from.some(([s, r]) => s === state && r === reason);
  document.getElementById("cancel-form").hidden = !cancel;
  // A card with nothing to offer is no card: after a resubmit or a cancel it would stand there with its heading.
  document.getElementById("contact-actions").hidden = !resubmit && !cancel;
}

function addAuditRow(audit) {
  if (!audit || timeline.querySelector(`tr[data-audit="${audit.id}"]`)) return;
  const tr = el(
    "tr",
    { class: "audit", dataset: { audit: audit.id, at: audit.at } },
    el("td", {}, el("time", { datetime: audit.at, text: formatDateTime(audit.at) })),
    el("td", { colspan: 3 }, el("span", { class: "badge audit-badge", text: audit.action })),
    cell(audit.source || "—"),
    cell(audit.user || "—"),
    cell(audit.comment, { class: "prose" }),
    cell("", { class: "num" }),
  );
  timeline.append(tr);
}

document.addEventListener("ccpdash:resubmitted", (event) => {
  if (event.detail.contact === config.contact || event.detail.original === config.contact) addAuditRow(event.detail.audit);
});

function apply(events) {
  let changed = false;
  for (const event of events) {
    if (rows.has(event.id)) continue;
    const tr = buildRow(event);
    rows.set(event.id, tr);
    insertInOrder(tr, event.id);
    changed = true;
    if (event.id > newestApplied) {
      newestApplied = event.id;
      showPosition(event);
    }
  }
  if (changed) recomputeSpent();
}

startLive({ apply, contact: config.contact, seen: [...rows.keys()] });
