// The outcomes dashboard: the tenant's live metrics (GET /v1/metrics/summary) as figures and inline SVG charts.
import { credentials, ApiError } from "/console/assets/api.js";

const $ = (id) => document.getElementById(id);
const NS = "http://www.w3.org/2000/svg";
const CARDS = [
  ["conversations", "conversations", "count"],
  ["containment_without_regret", "contained without regret", "pct"],
  ["escalation_rate", "escalation rate", "pct"],
  ["escalation_precision", "escalation precision (people's labels)", "pct"],
  ["handoff_completeness", "handoff completeness", "pct"],
  ["first_reply_s_median", "median time to first human reply", "dur"],
  ["resolution_s_median", "median time to resolution", "dur"],
  ["negative_recovery", "negative-sentiment recovery", "pct"],
  ["restatements_per_conversation", "restatements per conversation", "num"],
  ["human_request_rate", "asked for a person", "pct"],
  ["rating_mean", "mean customer rating (1-5)", "num"],
  ["post_handoff_rating_mean", "rating after a handoff", "num"],
];
const SERIES = [
  ["containment_without_regret", "contained without regret", "#17803d", "sw-contained"],
  ["escalation_rate", "escalation rate", "#b42318", "sw-escalated"],
  ["escalation_precision", "escalation precision", "#6b5bd6", "sw-precision"],
];

export function format(value, kind) {
  if (value === null || value === undefined) return "–";
  if (kind === "pct") return `${(value * 100).toFixed(1)}%`;
  if (kind === "count") return value.toLocaleString("en");
  if (kind === "dur") {
    if (value < 90) return `${Math.round(value)} s`;
    if (value < 5400) return `${Math.round(value / 60)} min`;
    return `${(value / 3600).toFixed(1)} h`;
  }
  return Number(value).toFixed(2);
}

function svg(name, attrs = {}, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function el(name, attrs = {}, text) {
  const node = document.createElement(name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

async function get(path) {
  const headers = { Accept: "application/json" };
  if (credentials.key) headers.Authorization = `Bearer ${credentials.key}`;
  let response;
  try {
    response = await fetch(path, { headers, cache: "no-store" });
  } catch {
    throw new ApiError(0, "The service cannot be reached.");
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data.detail || response.statusText);
  return data;
}

function trendChart(byDay) {
  const days = Object.keys(byDay).sort();
  const W = 900, H = 220, L = 40, T = 10, B = 28;
  const plotW = W - L - 10, plotH = H - T - B;
  const label = days.length ? `Daily figures for ${days.length} days` : "No conversations in the window";
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, "data-days": days.length });
  root.append(svg("title", {}, label));
  for (const v of [0, 0.5, 1]) {
    const y = T + plotH * (1 - v);
    root.append(svg("line", { x1: L, x2: W - 10, y1: y, y2: y, stroke: "#ddd" }));
    root.append(svg("text", { x: L - 4, y: y + 4, "text-anchor": "end" }, `${v * 100}%`));
  }
  if (!days.length) return root;
  const step = plotW / days.length;
  const most = Math.max(1, ...days.map((d) => byDay[d].conversations));
  days.forEach((d, i) => {
    const h = (plotH * byDay[d].conversations / most) * 0.6;
    const bar = svg("rect", { x: L + i * step + step * 0.15, y: T + plotH - h, width: step * 0.7, height: h, fill: "#e8e6f7", class: "day-bar" });
    bar.append(svg("title", {}, `${d}: ${byDay[d].conversations} conversations`));
    root.append(bar);
    if (i % Math.max(1, Math.floor(days.length / 8)) === 0) {
      root.append(svg("text", { x: L + i * step + step / 2, y: H - 8, "text-anchor": "middle" }, d.slice(5)));
    }
  });
  for (const [key, name, color] of SERIES) {
    const pts = days.map((d, i) => [i, byDay[d][key]]).filter(([, v]) => v !== null && v !== undefined);
    if (!pts.length) continue;
    const path = pts.map(([i, v], j) => `${j ? "L" : "M"}${(L + i * step + step / 2).toFixed(1)},${(T + plotH * (1 - v)).toFixed(1)}`).join(" ");
    const line = svg("path", { d: path, fill: "none", stroke: color, "stroke-width": 2, "data-series": key });
    line.append(svg("title", {}, name));
    root.append(line);
    for (const [i, v] of pts) {
      root.append(svg("circle", { cx: L + i * step + step / 2, cy: T + plotH * (1 - v), r: 3.5, fill: color }));
    }
  }
  return root;
}

function bars(items, { ratio, label }) {
  if (!items.length) return el("p", { class: "help" }, "None in this window.");
  const row = 22, LW = 190, BW = 420;
  const top = ratio ? 1 : Math.max(1, ...items.map(([, v]) => v));
  const root = svg("svg", { viewBox: `0 0 ${LW + BW + 70} ${row * items.length + 6}`, role: "img", "aria-label": label });
  items.forEach(([name, v], i) => {
    const y = 3 + i * row;
    const shown = ratio ? `${(v * 100).toFixed(0)}%` : v.toLocaleString("en");
    root.append(svg("text", { x: 0, y: y + 13 }, name));
    root.append(svg("rect", { x: LW, y, width: BW, height: 15, fill: "#f1f1f4" }));
    const bar = svg("rect", { x: LW, y, width: (BW * Math.max(0, v)) / top, height: 15, fill: "#6b5bd6", "data-name": name });
    bar.append(svg("title", {}, `${name}: ${shown}`));
    root.append(bar);
    root.append(svg("text", { x: LW + BW + 6, y: y + 12 }, shown));
  });
  return root;
}

function legend() {
  const p = el("p", { class: "legend" });
  for (const [, name, , cls] of SERIES) {
    const span = el("span");
    span.append(el("i", { class: `sw ${cls}` }), name);
    p.append(span);
  }
  const vol = el("span");
  vol.append(el("i", { class: "sw sw-volume" }), "conversations");
  p.append(vol);
  return p;
}

function fillSelect(select, names) {
  const keep = select.value;
  const first = select.options[0];
  select.replaceChildren(first, ...names.map((n) => el("option", { value: n }, n)));
  if (names.includes(keep)) select.value = keep;
}

function shadowView(shadow) {
  const box = document.createDocumentFragment();
  if (!shadow.turns) {
    box.append(el("p", { class: "help" }, "No shadow policy ran in this window."));
    return box;
  }
  const share = ((100 * shadow.diverging_turns) / shadow.turns).toFixed(1);
  box.append(el("p", { "data-f": "shadow-summary" },
    `Shadow policy ${shadow.policy_version}: ${shadow.diverging_turns} of ${shadow.turns} turns (${share}%) in ` +
    `${shadow.diverging_conversations} conversations would have gone another way.`));
  const table = el("table");
  const head = el("tr");
  head.append(el("th", {}, "live → shadow"), el("th", {}, "turns"));
  table.append(head);
  for (const [pair, n] of Object.entries(shadow.divergence)) {
    const tr = el("tr");
    tr.append(el("td", {}, pair.replace("->", " → ")), el("td", {}, String(n)));
    table.append(tr);
  }
  box.append(table);
  box.append(bars(Object.entries(shadow.diverging_outcomes), { ratio: false, label: "how the diverging conversations ended" }));
  return box;
}

let loaded = null;
let seq = 0;

async function load() {
  const mine = ++seq;
  const params = new URLSearchParams({ days: $("f-days").value });
  if ($("f-intent").value) params.set("intent", $("f-intent").value);
  if ($("f-queue").value) params.set("queue", $("f-queue").value);
  $("board").setAttribute("aria-busy", "true");
  try {
    const data = await get(`/v1/metrics/summary?${params}`);
    if (mine !== seq) return;
    render(data);
    $("board-error").textContent = "";
  } catch (err) {
    if (err.status === 401) return showSignin("That key is not valid here.");
    $("board-error").textContent = `Could not load the figures: ${err.message}`;
  } finally {
    if (mine === seq) $("board").setAttribute("aria-busy", "false");
  }
}

function render(data) {
  loaded = data;
  $("whoami").textContent = `tenant ${data.tenant}`;
  $("board-title").textContent = `Outcomes · ${data.tenant}`;
  $("window-text").textContent = `Conversations started ${data.since.slice(0, 10)} to ${data.until.slice(0, 10)} (UTC).` +
    (data.truncated ? " Only the first conversations of the window were read." : "");
  const t = data.totals;
  $("cards").replaceChildren(...CARDS.map(([key, label, kind]) => {
    const card = el("div", { class: "metric", "data-metric": key });
    card.append(el("b", {}, format(t[key], kind)), el("span", {}, label));
    return card;
  }));
  $("trend").replaceChildren(trendChart(data.by_day), legend());
  const intents = Object.entries(data.by_intent).sort((a, b) => b[1].conversations - a[1].conversations).slice(0, 20);
  $("by-intent").replaceChildren(bars(intents.map(([n, f]) => [n, f.escalation_rate ?? 0]), { ratio: true, label: "escalation rate by intent" }));
  const queues = Object.entries(data.by_queue).sort((a, b) => b[1].conversations - a[1].conversations);
  $("by-queue").replaceChildren(bars(queues.map(([n, f]) => [n, f.conversations]), { ratio: false, label: "conversations by queue" }));
  $("failures").replaceChildren(bars(Object.entries(t.failures).sort((a, b) => b[1] - a[1]), { ratio: false, label: "failures by type" }));
  $("labels").replaceChildren(bars(Object.entries(data.labels), { ratio: false, label: "labels" }));
  $("shadow").replaceChildren(shadowView(data.shadow));
  if (!$("f-intent").value && !$("f-queue").value) {
    fillSelect($("f-intent"), Object.keys(data.by_intent).sort());
    fillSelect($("f-queue"), Object.keys(data.by_queue).sort());
  }
}

function showSignin(message = "") {
  $("board").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message;
  $("api-key").focus();
}

async function onSignin(event) {
  event.preventDefault();
  credentials.key = $("api-key").value.trim();
  $("signin").hidden = true;
  $("board").hidden = false;
  await load();
}

function boot() {
  $("signin-form").addEventListener("submit", onSignin);
  $("filters").addEventListener("change", load);
  $("refresh").addEventListener("click", load);
  $("board").hidden = false;
  load();
  setInterval(() => { if (!$("board").hidden) load(); }, 60000);
}

boot();
