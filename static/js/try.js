// The /try/ page: create a contact through the CCP API, poll its refURL every 2 s, cancel it.
// Vanilla JS, no build step; every value from the server goes in with textContent.
"use strict";

(function () {
  const POLL_MS = 2000;
  const FINAL = new Set(["handled", "discarded"]);
  const form = document.getElementById("create-form");
  const statusList = document.getElementById("status");
  const history = document.getElementById("history");
  const errors = document.getElementById("errors");
  const locationLine = document.getElementById("location");
  const cancelButton = document.getElementById("cancel");
  const stopButton = document.getElementById("stop");
  let current = null; // {url, token, timer, last}

  function headers(token, withBody) {
    const h = { Accept: "application/json" };
    if (withBody) h["Content-Type"] = "application/json";
    if (token) h.Authorization = "Bearer " + token;
    return h;
  }

  function showErrors(items) {
    errors.replaceChildren(...items.map((text) => {
      const li = document.createElement("li");
      li.textContent = text;
      return li;
    }));
  }

  async function errorsOf(response) {
    try {
      const body = await response.json();
      return (body.apiErrors || []).map((e) => `${response.status} ${e.errorData}: ${e.errorMessage}`);
    } catch (_) {
      return [`${response.status} ${response.statusText}`];
    }
  }

  function showStatus(doc) {
    statusList.replaceChildren();
    for (const [key, value] of Object.entries(doc)) {
      const dt = document.createElement("dt");
      const dd = document.createElement("dd");
      dt.textContent = key;
      dd.textContent = String(value);
      statusList.append(dt, dd);
    }
  }

  function remember(line) {
    if (current.last === line) return;
    current.last = line;
    const li = document.createElement("li");
    li.textContent = `${new Date().toLocaleTimeString()}  ${line}`;
    history.append(li);
  }

  function stopPolling() {
    if (current && current.timer) clearTimeout(current.timer);
    if (current) current.timer = null;
    stopButton.disabled = true;
  }

  async function poll() {
    const watched = current;
    try {
      const response = await fetch(watched.url, { headers: headers(watched.token), cache: "no-store" });
      if (watched !== current) return;
      if (!response.ok) {
        remember(`${response.status} ${response.status === 404 ? "gone (cancel succeeded or expired)" : ""}`);
        showErrors(await errorsOf(response));
        if (response.status === 404 || response.status === 401) return finish();
      } else {
        const doc = await response.json();
        if (doc.refURL) watched.url = doc.refURL; // SocialMiner-era documents name the URL to poll
        showStatus(doc);
        remember(`${doc.status} ${doc.statusReason || ""}`.trim());
        if (FINAL.has(String(doc.status).toLowerCase())) return finish();
      }
    } catch (err) {
      remember(`network error: ${err.message}`); // keep polling: the server may be restarting
    }
    if (watched === current && watched.timer !== null) watched.timer = setTimeout(poll, POLL_MS);
  }

  function finish() {
    stopPolling();
    cancelButton.disabled = true;
  }

  async function create(event) {
    event.preventDefault();
    stopPolling();
    const data = new FormData(form);
    const kind = data.get("kind");
    const body = { name: data.get("name"), title: data.get("title") };
    if (kind === "task") body.scriptSelector = data.get("scriptSelector");
    else body.mediaAddress = data.get("mediaAddress");
    const token = String(data.get("token") || "").trim();
    const url = `${data.get("family")}${kind}/feed/${encodeURIComponent(String(data.get("feed")).trim())}`;
    showErrors([]);
    let response;
    try {
      response = await fetch(url, { method: "POST", headers: headers(token, true), body: JSON.stringify(body) });
    } catch (err) {
      return showErrors([`network error: ${err.message}`]);
    }
    if (response.status !== 201) return showErrors(await errorsOf(response));
    const created = response.headers.get("Location");
    current = { url: created, location: created, token, timer: 0, last: null };
    const link = document.createElement("code");
    link.textContent = created;
    locationLine.replaceChildren("201 Created, Location: ", link);
    history.replaceChildren();
    statusList.replaceChildren();
    cancelButton.disabled = false;
    stopButton.disabled = false;
    poll();
  }

  async function cancel() {
    if (!current) return;
    const response = await fetch(current.location, { method: "DELETE", headers: headers(current.token) });
    remember(`DELETE → ${response.status}`);
    showErrors(response.ok ? [] : await errorsOf(response));
  }

  function showKindFields() {
    const kind = document.getElementById("kind").value;
    for (const label of form.querySelectorAll("[data-kind]")) label.hidden = label.dataset.kind !== kind;
    const feed = document.getElementById("feed");
    if (feed.value === "100" || feed.value === "200") feed.value = kind === "task" ? "100" : "200";
  }

  form.addEventListener("submit", create);
  document.getElementById("kind").addEventListener("change", showKindFields);
  cancelButton.addEventListener("click", cancel);
  stopButton.addEventListener("click", stopPolling);
})();
