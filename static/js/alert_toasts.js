// Alert toasts: one per group of alerts ("14 × NOTIFICATION_NO_SCRIPT in Sales"), at most MAX_TOASTS at once,
// the other groups waiting their turn, so a burst never floods the screen. A toast shows the newest alert of
// its group (cause, fix, links), acknowledges the whole group, and leaves by itself after a while unless
// someone is hovering or focusing it. Everything is built with createElement/textContent.
import { el, formatTime } from "./live.js";

const MAX_TOASTS = 3;
const TOAST_MS = 20000;
const ACKED_TOAST_MS = 4000;

// The fix link and its alternative, as the toasts and the alert list show them.
// Only the links the user may follow (`perms`: their permission names; contacts.alerts.discards.followable).
export function links(alert, perms = []) {
  const followable = (link) => link && (!link.perm || perms.includes(link.perm));
  const parts = [];
  if (followable(alert.link)) parts.push(" ", el("a", { href: alert.link.url, text: alert.link.label, dataset: { fix: "" } }));
  if (followable(alert.alternative)) {
    parts.push(parts.length ? " · " : " ", el("a", { href: alert.alternative.url, text: alert.alternative.label }));
  }
  return parts;
}

export function newer(a, b) {
  return a.at > b.at || (a.at === b.at && a.id > b.id);
}

// `acknowledge(keys)` returns a promise; `resubmitter(alert)` returns a function that opens the resubmit
// dialog, or null where the user may not (or the page has no dialog).
export function createToasts({ container, canAcknowledge, acknowledge, resubmitter, perms = [] }) {
  const groups = new Map(); // group -> {name, alerts, node, parts, timer}
  const waiting = []; // groups without a free slot yet, oldest first

  function toast(fresh) {
    for (const alert of fresh.sort((a, b) => (newer(a, b) ? 1 : -1))) {
      let group = groups.get(alert.group);
      if (!group) {
        group = { name: alert.group, alerts: [], node: null, parts: null, timer: null };
        groups.set(alert.group, group);
        waiting.push(group);
      }
      group.alerts.push(alert);
      if (group.node) fillToast(group, true);
    }
    pump();
  }

  function pump() {
    while (waiting.length && [...groups.values()].filter((g) => g.node).length < MAX_TOASTS) showToast(waiting.shift());
    let more = container.querySelector(".toast-more");
    if (!waiting.length) return more?.remove();
    more ||= el("p", { class: "toast-more" });
    const count = waiting.reduce((sum, group) => sum + group.alerts.length, 0);
    more.replaceChildren(`+ ${count} more alert${count === 1 ? "" : "s"} waiting · `, el("a", { href: "/#alerts", text: "all alerts" }));
    container.append(more);
  }

  function showToast(group) {
    const parts = {
      count: el("b", { class: "toast-count" }),
      name: el("strong", { class: "alert-name" }),
      code: el("code"),
      scope: el("span"),
      cause: el("p", { class: "toast-cause" }),
      fix: el("span"),
      links: el("span"),
      contact: el("p", { class: "toast-contact" }),
      status: el("p", { class: "toast-status", role: "status" }),
      ack: canAcknowledge ? el("button", { type: "button", class: "primary" }) : null,
      resubmit: el("button", { type: "button", text: "Resubmit…", hidden: true }),
      dismiss: el("button", { type: "button", text: "Dismiss" }),
    };
    const head = el("p", { class: "toast-head" }, parts.count, parts.name, " ", parts.code, " ", parts.scope);
    const fix = el("p", { class: "toast-fix" }, el("strong", { text: "Fix:" }), " ", parts.fix, parts.links);
    const actions = el("div", { class: "toast-actions" }, ...[parts.ack, parts.resubmit, parts.dismiss].filter(Boolean));
    const node = el("div", { class: "toast", role: "group", "aria-label": group.name, dataset: { group: group.name } });
    node.append(head, parts.cause, fix, parts.contact, parts.status, actions);
    group.node = node;
    group.parts = parts;
    parts.dismiss.addEventListener("click", () => dismissToast(group));
    parts.ack?.addEventListener("click", () => {
      parts.ack.disabled = true;
      acknowledge(group.alerts.filter((a) => !a.ack).map((a) => a.key)).catch(() => (parts.ack.disabled = false));
    });
    parts.resubmit.addEventListener("click", () => resubmitter(group.alerts.at(-1))?.());
    node.addEventListener("keydown", (event) => event.key === "Escape" && dismissToast(group));
    // Nobody loses a toast they are reading: hovering or focusing it holds the timer.
    for (const type of ["mouseenter", "focusin"]) node.addEventListener(type, () => clearTimeout(group.timer));
    for (const type of ["mouseleave", "focusout"]) node.addEventListener(type, () => arm(group));
    container.insertBefore(node, container.querySelector(".toast-more"));
    fillToast(group, true);
  }

  function fillToast(group, fresh = false) {
    const { parts } = group;
    const latest = group.alerts.at(-1);
    const unacked = group.alerts.filter((a) => !a.ack);
    parts.count.textContent = group.alerts.length > 1 ? `${group.alerts.length} × ` : "";
    parts.name.textContent = latest.name;
    parts.code.textContent = latest.code;
    parts.scope.textContent = latest.scope;
    parts.cause.textContent = latest.cause;
    parts.fix.textContent = latest.fix;
    if (parts.links.dataset.for !== latest.key) parts.links.replaceChildren(...links(latest, perms));
    parts.links.dataset.for = latest.key;
    const when = el("time", { datetime: latest.at, text: formatTime(latest.at) });
    const who = latest.contact ? [el("a", { href: latest.contact.url, text: latest.contact.name }), " · "] : [];
    parts.contact.replaceChildren(group.alerts.length > 1 ? "Latest: " : "", ...who, when);
    if (parts.ack) {
      parts.ack.hidden = !unacked.length;
      parts.ack.textContent = unacked.length > 1 ? `Acknowledge all ${unacked.length}` : "Acknowledge";
    }
    parts.resubmit.hidden = !(group.alerts.length === 1 && resubmitter(latest));
    const done = !unacked.length || (latest.kind === "queue" && latest.cleared_at);
    parts.status.textContent = statusText(group, unacked);
    group.node.dataset.acked = !unacked.length;
    if (fresh || done) arm(group, done ? ACKED_TOAST_MS : TOAST_MS);
  }

  function statusText(group, unacked) {
    const latest = group.alerts.at(-1);
    if (!unacked.length) {
      const names = [...new Set(group.alerts.map((a) => a.ack.user || "a deleted user"))];
      return `Acknowledged by ${names.join(", ")}`;
    }
    if (unacked.length < group.alerts.length) return `${group.alerts.length - unacked.length} acknowledged`;
    return latest.cleared_at ? `Cleared ${formatTime(latest.cleared_at)}` : "";
  }

  function arm(group, ms = group.node?.dataset.acked === "true" ? ACKED_TOAST_MS : TOAST_MS) {
    clearTimeout(group.timer);
    if (group.node?.matches(":hover, :focus-within")) return;
    group.timer = setTimeout(() => dismissToast(group), ms);
  }

  function dismissToast(group) {
    clearTimeout(group.timer);
    const hadFocus = group.node?.contains(document.activeElement);
    group.node?.remove();
    groups.delete(group.name);
    const index = waiting.indexOf(group);
    if (index >= 0) waiting.splice(index, 1);
    pump();
    if (hadFocus) (container.querySelector(".toast button") || document.getElementById("main")).focus();
  }

  function updateToastOf(alert) {
    const group = groups.get(alert.group);
    const mine = group?.alerts.findIndex((a) => a.key === alert.key);
    if (!group || mine < 0) return;
    group.alerts[mine] = alert;
    if (group.node) fillToast(group);
  }

  return { toast, update: updateToastOf };
}
