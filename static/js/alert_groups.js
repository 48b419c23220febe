// The home page's alerts by cause and place (contacts.alerts.groups): redrawn from every alerts.groups
// snapshot the server pushes, so counts grow, acknowledgements and resolutions show for everybody at once,
// and a group whose contacts were all resubmitted or handled closes itself ("resolved"), without a reload.
import { el } from "./live.js";

const cfg = JSON.parse(document.getElementById("alerts-config").textContent);
const list = document.getElementById("alert-groups");
let shownVersion = 0;

function followable(link) {
  return link && (!link.perm || cfg.perms.includes(link.perm));
}

function statusText(group) {
  if (group.status === "resolved") return "resolved: nothing of it is left";
  if (group.status === "acknowledged") return "acknowledged";
  if (group.status === "new since acknowledged") return `${group.unacknowledged} new since acknowledged`;
  return `${group.open} open`;
}

function acknowledgeForm(group) {
  const form = el("form", { method: "post", action: cfg.ack, class: "inline" },
    el("input", { type: "hidden", name: "csrfmiddlewaretoken", value: cfg.csrf }),
    ...group.keys.map((key) => el("input", { type: "hidden", name: "alert", value: key })),
    el("input", { type: "hidden", name: "next", value: "/#alerts" }),
    el("button", { type: "submit", text: `Acknowledge ${group.unacknowledged}` }));
  return form;
}

function item(group) {
  const what = el("p", { class: "group-what" }, el("b", { class: "group-count", text: `${group.count} ×` }), " ",
    el("strong", { class: "alert-name", text: group.name }), " ", el("code", { text: group.code }),
    ...(group.scope ? [" ", el("span", { text: group.scope })] : []), " ",
    el("span", { class: "group-status", text: statusText(group) }));
  const li = el("li", { class: "alert-group", dataset: { group: group.group, kind: group.kind, status: group.status } }, what);
  if (group.status === "resolved") return li;
  const fix = el("p", { class: "group-fix" }, el("strong", { text: "Fix:" }), ` ${group.fix}`);
  if (followable(group.link)) fix.append(" ", el("a", { href: group.link.url, text: group.link.label }));
  const actions = el("p", { class: "group-actions" });
  if (cfg.can_acknowledge && group.keys.length) actions.append(acknowledgeForm(group), " ");
  if (cfg.can_manage && group.resubmit) actions.append(el("a", { class: "button", href: group.resubmit, text: `Resubmit all ${group.open}…` }));
  li.append(fix, actions);
  return li;
}

window.addEventListener("ccpdash:message", ({ detail: message }) => {
  if (message.type !== "alerts.groups" || !list || message.version <= shownVersion) return;
  shownVersion = message.version;
  // A group being acknowledged (its button focused) keeps its node until the next snapshot after the click.
  if (list.contains(document.activeElement)) return;
  const items = message.groups.map(item);
  if (!items.length) items.push(el("li", { class: "muted", dataset: { empty: "" }, text: "No alerts in the last 24 hours." }));
  list.replaceChildren(...items);
});
