// The home page's charts of the last hour (uPlot, vendored): per MRD, contacts queued and reserved at the end
// of each minute and handled and discarded during it; discards by reason. The series come from
// /alerts/charts, bucketed by minute in the database; live events then move them on (each event once:
// live.js dedupes), and the page re-reads them on reconnect and every few minutes, since the database is
// the truth and an event may have been lost on the way.
import { el, formatMinute, reasonName } from "./live.js";

const LEVELS = ["queued", "reserved"];
const FLOWS = ["handled", "discarded"];
const COLORS = { queued: "--queued", reserved: "--reserved", handled: "--handled", discarded: "--discarded" };
const PALETTE = 8; // --chart-1 … --chart-8 in dashboard.css, light and dark
const REREAD_MS = 5 * 60 * 1000;
const TICK_MS = 10000;

const section = document.getElementById("charts");
const grid = document.getElementById("chart-grid");
let data = null;
const charts = new Map(); // "discards" | MRD id -> {figure, plot, signature}
let dirty = new Set();
let frame = null;
let rereadTimer = null;

async function read() {
  try {
    const response = await fetch(section.dataset.src, { headers: { Accept: "application/json" } });
    if (!response.ok) return; // signed out or forbidden: live.js says so on the page
    data = await response.json();
    charts.forEach((_, id) => dirty.add(id));
    for (const mrd of data.mrds) dirty.add(mrd.mrd);
    dirty.add("discards");
    draw();
  } catch {
    rereadSoon(5000);
  }
}

function rereadSoon(ms = 2000) {
  clearTimeout(rereadTimer);
  rereadTimer = setTimeout(read, ms);
}

function minuteOf(iso) {
  return Math.floor(Date.parse(iso) / 60000) * 60;
}

// Slide the window so its last minute is `minute`: levels carry over, flows start at 0.
function advanceTo(minute) {
  let moved = false;
  while (data.minutes.at(-1) < minute) {
    data.minutes.push(data.minutes.at(-1) + 60);
    data.minutes.shift();
    for (const mrd of data.mrds) {
      for (const state of LEVELS) mrd.series[state].push(mrd.series[state].at(-1));
      for (const state of FLOWS) mrd.series[state].push(0);
      for (const values of Object.values(mrd.series)) values.shift();
    }
    for (const reason of data.discards) {
      reason.counts.push(0);
      reason.counts.shift();
    }
    moved = true;
  }
  if (moved) {
    charts.forEach((_, id) => dirty.add(id));
    schedule();
  }
}

function apply(event) {
  if (!data || event.id <= data.last_id) return; // already in what the endpoint counted
  advanceTo(minuteOf(event.at));
  const i = data.minutes.indexOf(minuteOf(event.at));
  if (i < 0) return;
  const to = event.to[0];
  const from = event.from ? event.from[0] : null;
  if (to === "discarded") countDiscard(event.to[1], i);
  if (event.mrd === null || ![to, from].some((state) => LEVELS.includes(state) || FLOWS.includes(state))) return;
  const mrd = data.mrds.find((item) => item.mrd === event.mrd);
  if (!mrd) return rereadSoon(); // a new chart: its label and history come from the server
  if (FLOWS.includes(to)) mrd.series[to][i] += 1;
  for (let j = i; j < data.minutes.length; j++) {
    if (LEVELS.includes(to)) mrd.series[to][j] += 1;
    if (LEVELS.includes(from)) mrd.series[from][j] = Math.max(0, mrd.series[from][j] - 1);
  }
  dirty.add(mrd.mrd);
}

function countDiscard(reason, i) {
  let series = data.discards.find((item) => item.reason === reason);
  if (!series) {
    series = { reason, counts: data.minutes.map(() => 0) };
    data.discards.push(series);
    data.discards.sort((a, b) => (a.reason < b.reason ? -1 : 1));
  }
  series.counts[i] += 1;
  dirty.add("discards");
}

function schedule() {
  if (frame === null) frame = requestAnimationFrame(draw);
}

function draw() {
  frame = null;
  if (!data) return;
  document.getElementById("charts-empty").hidden = data.mrds.length > 0;
  for (const id of dirty) {
    if (id === "discards") drawChart("discards", "Discards by reason", discardSeries());
    else {
      const mrd = data.mrds.find((item) => item.mrd === id);
      if (mrd) drawChart(id, mrd.label, mrdSeries(mrd));
    }
  }
  dirty = new Set();
}

function mrdSeries(mrd) {
  const series = [...LEVELS, ...FLOWS].map((state) => ({
    label: FLOWS.includes(state) ? `${state} / min` : state,
    color: COLORS[state],
    dash: FLOWS.includes(state),
    values: mrd.series[state],
  }));
  const now = (state) => mrd.series[state].at(-1);
  const sum = (state) => mrd.series[state].reduce((a, b) => a + b, 0);
  const summary = `${mrd.label}: now ${now("queued")} queued, ${now("reserved")} reserved; last hour ${sum("handled")} handled, ${sum("discarded")} discarded.`;
  return { series, summary };
}

function discardSeries() {
  const series = data.discards.map((item) => ({
    label: reasonName(item.reason),
    color: `--chart-${(hash(item.reason) % PALETTE) + 1}`,
    values: item.counts,
  }));
  const totals = data.discards.map((item) => `${item.counts.reduce((a, b) => a + b, 0)} ${reasonName(item.reason)}`);
  return { series, summary: `Discards in the last hour: ${totals.join(", ") || "none"}.` };
}

function hash(text) {
  let h = 0;
  for (const char of text) h = (h * 31 + char.charCodeAt(0)) >>> 0;
  return h;
}

function drawChart(id, title, { series, summary }) {
  let chart = charts.get(id);
  if (!chart) chart = makeFigure(id, title);
  chart.summary.textContent = summary;
  const signature = series.map((item) => item.label).join("|");
  const values = [data.minutes, ...series.map((item) => item.values)];
  if (chart.plot && chart.signature === signature) chart.plot.setData(values);
  else {
    chart.plot?.destroy();
    chart.signature = signature;
    chart.plot = new window.uPlot(options(chart.figure, series), values, chart.body);
  }
  if (chart.plot.cursor.idx == null) chart.plot.setLegend({ idx: data.minutes.length - 1 });
}

function makeFigure(id, title) {
  if (id === "discards") {
    const figure = document.getElementById("chart-discards");
    const chart = { figure, body: figure.querySelector(".plot"), summary: document.getElementById("chart-discards-summary") };
    charts.set(id, chart);
    return chart;
  }
  const summaryId = `chart-mrd-${id}-summary`;
  const body = el("div", { class: "plot" });
  const summary = el("p", { class: "visually-hidden", id: summaryId });
  const figure = el("figure", { class: "chart", tabindex: "0", "aria-describedby": summaryId, dataset: { mrd: id } });
  figure.append(el("figcaption", { text: title }), body, summary);
  // MRDs in id order after the discards chart.
  const after = [...grid.querySelectorAll("figure[data-mrd]")].find((other) => Number(other.dataset.mrd) > id);
  grid.insertBefore(figure, after || null);
  const chart = { figure, body, summary };
  charts.set(id, chart);
  return chart;
}

const clock = formatMinute; // the minute in the contact center's zone, as every time on the page

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function options(figure, series) {
  const axis = { stroke: css("--muted"), grid: { stroke: css("--line"), width: 1 }, ticks: { stroke: css("--line") } };
  return {
    width: Math.max(240, figure.clientWidth - 2),
    height: 190,
    scales: { y: { range: (u, min, max) => [0, Math.max(4, Math.ceil(max * 1.1))] } },
    axes: [
      { ...axis, values: (u, ticks) => ticks.map(clock) },
      { ...axis, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000], size: 40 },
    ],
    cursor: { drag: { x: false, y: false } },
    // Without a cursor on the chart, the legend shows the newest minute instead of dashes.
    hooks: { setCursor: [(u) => u.cursor.idx == null && u.setLegend({ idx: u.data[0].length - 1 })] },
    series: [
      { label: "minute", value: (u, seconds) => (seconds == null ? "—" : clock(seconds)) },
      ...series.map((item) => ({
        label: item.label,
        stroke: css(item.color),
        width: 2,
        dash: item.dash ? [6, 4] : undefined,
        points: { show: false },
      })),
    ],
  };
}

function rebuildAll() {
  charts.forEach((chart, id) => {
    chart.plot?.destroy();
    chart.plot = null;
    dirty.add(id);
  });
  schedule();
}

window.addEventListener("ccpdash:events", ({ detail: events }) => {
  if (!data) return;
  for (const event of events) apply(event);
  schedule();
});
window.addEventListener("ccpdash:open", () => read()); // whatever the socket missed while it was down
window.addEventListener("ccpdash:resync", () => rereadSoon()); // frames were lost on the way
window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", rebuildAll);
new ResizeObserver(() => {
  charts.forEach((chart) => chart.plot?.setSize({ width: Math.max(240, chart.figure.clientWidth - 2), height: 190 }));
}).observe(grid);
setInterval(() => data && advanceTo(Math.floor(Date.now() / 60000) * 60), TICK_MS);
setInterval(read, REREAD_MS);
read();
