// The resubmit dialog, on any page: `window.ccpdash.resubmit.open(publicId)`, or a click on any element with
// `data-resubmit="<public id>"` (a link to the no-JavaScript resubmit page, which it replaces).
//
// It fetches the preview (may it be resubmitted; decide()'s verdict on the cause) BEFORE the admin
// confirms, lets the admin try another script selector for a task, and POSTs the confirmation with the
// CSRF token. On success it dispatches `ccpdash:resubmitted` on document with
// {contact: the contact carrying the resubmission, original: publicId, new: bool, url, audit}.
import { el } from "./dom.js";

const PREVIEW = (id) => `/contacts/${encodeURIComponent(id)}/resubmit/preview`;
let dialog = null;
let current = null; // the preview the dialog shows

function csrfToken() {
  const cookie = document.cookie.split("; ").find((item) => item.startsWith("csrftoken="));
  if (cookie) return decodeURIComponent(cookie.slice("csrftoken=".length));
  return document.querySelector("input[name=csrfmiddlewaretoken]")?.value || "";
}

function part(name) {
  return dialog.querySelector(`[data-part="${name}"]`);
}

function build() {
  dialog = el("dialog", { class: "resubmit-dialog", id: "resubmit-dialog", "aria-labelledby": "resubmit-title" });
  const form = el("form", { method: "dialog" });
  form.append(
    el("h2", { id: "resubmit-title", "data-part": "title", text: "Resubmit" }),
    el("p", { class: "muted", "data-part": "position" }),
    el("p", { "data-part": "cause" }),
    el("p", { class: "verdict", role: "status", "data-part": "verdict" }),
    el("p", { class: "error", "data-part": "refusal", hidden: true }),
    el("div", { class: "field", "data-part": "selector-field" },
      el("label", { for: "resubmit-selector", text: "Script selector (tasks: replaces the task's own)" }),
      el("span", { class: "inline-field" },
        el("input", { id: "resubmit-selector", name: "script_selector", maxlength: 32, autocomplete: "off",
          "data-part": "selector" }),
        el("button", { type: "button", "data-part": "check", text: "Check again" }))),
    el("div", { class: "field" },
      el("label", { for: "resubmit-comment", text: "Comment (optional)" }),
      el("textarea", { id: "resubmit-comment", name: "comment", rows: 2, maxlength: 2000, "data-part": "comment" })),
    el("p", { role: "status", "data-part": "result" }),
    el("div", { class: "dialog-buttons" },
      el("button", { type: "button", class: "primary", "data-part": "confirm", text: "Resubmit" }),
      el("button", { type: "submit", value: "close", text: "Close" })),
  );
  dialog.append(form);
  document.body.append(dialog);
  part("check").addEventListener("click", () => load(current.contact, part("selector").value));
  part("confirm").addEventListener("click", confirm);
}

async function getJson(url, options = {}) {
  const response = await fetch(url, { credentials: "same-origin", ...options,
    headers: { Accept: "application/json", ...(options.headers || {}) } });
  let body = {};
  try {
    body = await response.json();
  } catch {
    body = { error: `HTTP ${response.status}` };
  }
  if (response.status === 401) body.error = "You are signed out; log in again.";
  if (response.status === 403) body.error = "Your account may not resubmit contacts (it needs manage_contacts).";
  return { ok: response.ok, body };
}

function show(preview) {
  current = preview;
  part("title").textContent = `Resubmit ${preview.name || preview.contact}`;
  part("position").textContent = `${preview.kind} · ${preview.state} · ${preview.reason_name || preview.reason || "—"}`;
  part("cause").textContent = preview.cause ? `Cause: ${preview.cause} Fix: ${preview.fix}` : "";
  const verdict = preview.verdict;
  part("verdict").textContent = verdict ? verdict.message : "";
  part("verdict").dataset.still = verdict ? String(!verdict.would_queue) : "";
  part("refusal").hidden = preview.resubmittable;
  part("refusal").textContent = preview.resubmittable ? "" : `Not resubmittable: ${preview.refusal}.`;
  part("selector-field").hidden = preview.kind !== "task" || !preview.resubmittable;
  part("confirm").disabled = !preview.resubmittable;
}

async function load(publicId, selector = null) {
  const params = selector ? `?${new URLSearchParams({ script_selector: selector })}` : "";
  const { ok, body } = await getJson(PREVIEW(publicId) + params);
  if (!ok) {
    part("result").textContent = body.error || "Could not load the preview.";
    part("confirm").disabled = true;
    return false;
  }
  show(body);
  if (selector === null) part("selector").value = body.script_selector || "";
  return true;
}

async function confirm() {
  const button = part("confirm");
  button.disabled = true; // one click, one request; the server refuses a second resubmit of a discard anyway
  const data = new FormData();
  data.set("script_selector", current.kind === "task" ? part("selector").value : "");
  data.set("comment", part("comment").value);
  if (current.discard_id !== null) data.set("discard_id", current.discard_id);
  const { ok, body } = await getJson(current.confirm_url, {
    method: "POST", body: data, headers: { "X-CSRFToken": csrfToken() },
  });
  const result = part("result");
  result.replaceChildren();
  if (!ok) {
    result.textContent = `Nothing changed: ${body.error || "the request failed"}.`;
    return;
  }
  result.append(body.message, " ", el("a", { href: body.url, text: "Open it" }));
  document.dispatchEvent(new CustomEvent("ccpdash:resubmitted", {
    detail: { contact: body.contact, original: current.contact, new: body.new, url: body.url, audit: body.audit },
  }));
}

async function open(publicId) {
  if (!dialog) build();
  part("result").textContent = "";
  part("comment").value = "";
  if (!dialog.open) dialog.showModal();
  return load(publicId);
}

document.addEventListener("click", (event) => {
  const trigger = event.target.closest?.("[data-resubmit]");
  if (!trigger || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey) return;
  event.preventDefault();
  open(trigger.dataset.resubmit);
});

const api = { open };

function install() {
  // Other modules may replace window.ccpdash wholesale (live.js does when it starts): put ours back after them.
  window.ccpdash = window.ccpdash || {};
  window.ccpdash.resubmit = api;
}

install();
document.addEventListener("DOMContentLoaded", install);

export { open };
