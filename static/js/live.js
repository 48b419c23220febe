// The dashboard pages' live feed: the WebSocket, dedupe by id, resync from the events endpoint, the status.
//
// The database is the truth and messages are hints (DESIGN invariant 3): transition ids grow by insert,
// not by commit, and the channel layer may drop messages. So the page remembers the newest id it has
// seen, dedupes by id, and re-reads the events after (that id - a safety window) whenever it
// (re)connects, whenever a heartbeat names a newer id than it has seen, and every so often anyway.
//
// The server sends frames (contacts.live.hub): {"type": "frame", "seq", "last_id", "messages": [...]},
// or, to a socket that fell behind, a JSON array of frames in one message. `seq` counts per connection;
// a number skipped means frames were dropped on the way, and `{"type": "resync"}` (alone or inside a
// frame) says so outright: either way the page re-reads the events and tells the other modules
// (ccpdash:resync) to re-read what they keep. A frame's messages are applied in one pass.
import { el } from "./dom.js";

const config = JSON.parse(document.getElementById("live-config").textContent);

const PAGE_LIMIT = 500;
const MAX_PAGES = 20; // further behind than this, reading events is slower than reloading the data
const BEHIND_GRACE_MS = 1500; // an event may trail the heartbeat that already counts it
const SWEEP_MS = 30000;
const STATUS_TEXT = {
  connecting: "connecting…",
  live: "live",
  reconnecting: "reconnecting…",
  behind: "behind — catching up",
  "signed-out": "signed out",
  forbidden: "no permission",
};

export { config, el };

export function formatAge(seconds) {
  // The same format as contacts.dashboard.format_age.
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  const s = Math.max(0, Math.floor(seconds));
  const pad = (n) => String(n).padStart(2, "0");
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

export function formatWait(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 0) return "unknown";
  return seconds === 0 ? "now" : formatAge(seconds);
}

// Times are shown in the contact center's zone (settings.TIME_ZONE, the zone "today" is counted in), never
// the browser's, and in the server-rendered pages' formats: "14:02:11" and "2026-12-07 14:02:11".
const zoneParts = new Intl.DateTimeFormat("en-GB", {
  timeZone: config.time_zone || undefined, hourCycle: "h23",
  year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
});

function inZone(date) {
  return Object.fromEntries(zoneParts.formatToParts(date).map(({ type, value }) => [type, value]));
}

export function formatTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const p = inZone(date);
  return `${p.hour}:${p.minute}:${p.second}`;
}

export function formatDateTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const p = inZone(date);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

export function formatMinute(seconds) {
  const p = inZone(new Date(seconds * 1000));
  return `${p.hour}:${p.minute}`;
}

export function reasonName(reason) {
  // The same as contacts.core.formats.reason_name: the plain name the server sent in the live config.
  return (config.reason_names || {})[reason || ""] || reason || "—";
}

function tickAges() {
  const now = Date.now();
  for (const node of document.querySelectorAll("[data-since]")) {
    const text = formatAge((now - Date.parse(node.dataset.since)) / 1000);
    if (node.textContent !== text) node.textContent = text;
  }
}

function setStatus(state) {
  const node = document.getElementById("live-status");
  if (!node || node.dataset.state === state) return;
  node.dataset.state = state;
  node.textContent = STATUS_TEXT[state] || state;
}

export function showAlert(message, linkText, href) {
  const alert = document.getElementById("live-alert");
  const children = [message];
  if (linkText) children.push(" — ", el("a", { href, text: linkText }));
  alert.replaceChildren(...children);
  alert.hidden = false;
}

// Starts the live feed. `apply(events)` gets each batch of unseen events (in arrival order) once per
// animation frame; `contact` limits resync reads to one contact; `seen` are ids the page already shows;
// `onHeartbeat(lastId)` and `onGap()` (too far behind to read every event) are optional.
// The frames of one socket message (a frame, a resync notice, or an array of them).
function framesOf(data) {
  return Array.isArray(data) ? data : [data];
}

export function startLive({ apply, contact = "", seen = [], onHeartbeat = () => {}, onGap = null }) {
  let lastId = config.last_id;
  let socket = null;
  let retries = 0;
  let holdUntil = 0;
  let stopped = false;
  let resyncing = null;
  let resyncAgain = false;
  let lastResync = 0;
  let behindTimer = null;
  let queue = [];
  let flushScheduled = false;
  let resyncCount = 0;
  let lostAfter = null; // the newest id seen when a loss was noticed, until a read from there starts
  let nextSeq = null; // the frame number this connection should get next (null: whatever comes first)
  const seenIds = new Set(seen);

  function flush() {
    if (!flushScheduled) return;
    flushScheduled = false;
    const batch = queue;
    queue = [];
    if (batch.length) apply(batch);
  }

  function scheduleFlush() {
    if (flushScheduled) return;
    flushScheduled = true;
    // One render per frame however many events arrive; the timer covers hidden tabs, where
    // animation frames stop but events keep coming.
    requestAnimationFrame(flush);
    setTimeout(flush, 1000);
  }

  function accept(events) {
    const fresh = [];
    for (const event of events) {
      if (seenIds.has(event.id)) continue;
      seenIds.add(event.id);
      fresh.push(event);
      if (event.id > lastId) lastId = event.id;
      if (contact && event.contact !== contact) continue;
      queue.push(event);
    }
    if (seenIds.size > 50000) {
      // Ids far below the resync window are never read again; forget them.
      for (const id of seenIds) if (id < lastId - 10 * config.window) seenIds.delete(id);
    }
    if (queue.length) scheduleFlush();
    // The page's other modules (alerts.js, charts.js) get every new event once, whatever this page filters.
    if (fresh.length) window.dispatchEvent(new CustomEvent("ccpdash:events", { detail: fresh }));
  }

  async function readEvents() {
    // From before the first loss noticed: frames that came after it raised lastId past what was lost.
    const from = lostAfter === null ? lastId : Math.min(lostAfter, lastId);
    lostAfter = null;
    try {
      return await readEventsAfter(from);
    } catch (error) {
      lostAfter = lostAfter === null ? from : Math.min(lostAfter, from); // the retry starts there again
      throw error;
    }
  }

  async function readEventsAfter(from) {
    const params = new URLSearchParams({ after: Math.max(0, from - config.window), limit: PAGE_LIMIT });
    if (contact) params.set("contact", contact);
    let url = `${config.events}?${params}`;
    for (let pages = 0; url; pages++) {
      if (pages >= MAX_PAGES) return gap();
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.status === 401) return signedOut();
      if (response.status === 403) return forbidden();
      if (!response.ok) throw new Error(`events: HTTP ${response.status}`);
      const body = await response.json();
      accept(body.events);
      url = body.next;
      // Every event up to last_id is in what we read (it was read first), holes included.
      if (!url && body.last_id > lastId) lastId = body.last_id;
    }
    return true;
  }

  function resync(why) {
    if (resyncing) {
      resyncAgain = true;
      return resyncing;
    }
    if (why === "behind") setStatus("behind");
    lastResync = Date.now();
    resyncCount++;
    resyncing = readEvents()
      .then((ok) => {
        if (ok && socket && socket.readyState === WebSocket.OPEN) setStatus("live");
      })
      .catch(() => setTimeout(() => resync(why), 2000))
      .finally(() => {
        resyncing = null;
        if (resyncAgain && !stopped) {
          resyncAgain = false;
          resync(why);
        }
      });
    return resyncing;
  }

  function gap() {
    if (onGap) onGap();
    else showAlert("Many changes were missed while disconnected", "reload the page", location.href);
    return false;
  }

  function heartbeat(id) {
    onHeartbeat(id);
    if (id > lastId) {
      clearTimeout(behindTimer);
      behindTimer = setTimeout(() => {
        if (lastId < id) resync("behind");
      }, BEHIND_GRACE_MS);
    } else if (Date.now() - lastResync > SWEEP_MS) {
      // A dropped message whose successors arrived leaves no trace in the heartbeat; re-read the window.
      resync("sweep");
    }
  }

  function receiveFrame(frame) {
    if (frame.type === "resync") return lost(frame.why);
    if (frame.type !== "frame") return;
    if (nextSeq !== null && frame.seq !== nextSeq) lost("gap");
    nextSeq = frame.seq + 1;
    const events = [];
    for (const message of frame.messages) {
      if (message.type === "event") events.push(message.event);
      else if (message.type === "resync") lost(message.why);
      else {
        if (message.type === "heartbeat") heartbeat(message.last_id);
        // Heartbeats, snapshots and other modules' messages (alert.ack, alert.queue) go to whoever listens.
        window.dispatchEvent(new CustomEvent("ccpdash:message", { detail: message }));
      }
    }
    if (events.length) accept(events);
  }

  function lost(why) {
    // Frames never came: re-read the events from here, and let alerts.js and charts.js re-read theirs.
    lostAfter = lostAfter === null ? lastId : Math.min(lostAfter, lastId);
    resync("behind");
    window.dispatchEvent(new CustomEvent("ccpdash:resync", { detail: why }));
  }

  function stop() {
    stopped = true;
    clearTimeout(behindTimer);
    if (socket) socket.close();
  }

  function signedOut() {
    stop();
    setStatus("signed-out");
    showAlert("You are signed out", "log in again", config.login);
    return false;
  }

  function forbidden() {
    stop();
    setStatus("forbidden");
    showAlert("Your account may not view the live dashboard (it needs the view_dashboard permission)");
    return false;
  }

  function open() {
    if (stopped) return;
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + config.socket);
    socket = ws;
    ws.onopen = () => {
      retries = 0;
      resync("reconnect");
      window.dispatchEvent(new Event("ccpdash:open")); // others resync what they keep (alerts, charts)
    };
    nextSeq = null;
    ws.onmessage = (message) => {
      if (socket !== ws) return;
      for (const frame of framesOf(JSON.parse(message.data))) receiveFrame(frame);
    };
    ws.onclose = (closed) => {
      if (socket === ws) socket = null;
      if (closed.code === 4401) return signedOut();
      if (closed.code === 4403) return forbidden();
      if (stopped) return;
      setStatus("reconnecting");
      // Exponential backoff with jitter, so a restarted server is not hit by every browser at once.
      const backoff = Math.min(15000, 500 * 2 ** retries++) * (0.5 + Math.random() / 2);
      setTimeout(open, Math.max(backoff, holdUntil - Date.now()));
    };
  }

  // Test hook: drop the connection as a network failure would; `holdMs` keeps it down at least that long.
  // Merged, not replaced: other modules hang their own entry points here (resubmit.js: ccpdash.resubmit).
  window.ccpdash = Object.assign(window.ccpdash || {}, {
    closeSocket(holdMs = 0) {
      if (stopped) return; // already told why (signed out, no permission): nothing to reconnect
      holdUntil = Date.now() + holdMs;
      setStatus("reconnecting");
      if (socket) socket.close();
    },
    lastId: () => lastId,
    resyncs: () => resyncCount,
    status: () => document.getElementById("live-status")?.dataset.state,
  });

  setStatus("connecting");
  tickAges();
  setInterval(tickAges, 1000);
  open();
  return { resync, signedOut, forbidden };
}
