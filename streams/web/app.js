// mpwatch timeline page. Plain JavaScript, no build step, nothing from a CDN.
// Every piece of log text is inserted with textContent (never innerHTML): IIS URIs and user agents
// are attacker-controlled. The Content-Security-Policy header forbids inline script as a second wall.
"use strict";

const REFRESH_MS = 2000;
const TIMELINE_LIMIT = 1500; // entries drawn at once (the latest); the API holds the rest
const state = { rows: [], meta: null, sort: "server", desc: false, filter: "", stateFilter: "", current: null };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child); // strings become text nodes
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  return node;
}

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!response.ok) {
    let message = response.status + " " + response.statusText;
    try { message = (await response.json()).error || message; } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return response.json();
}

function setStatus(text) { document.getElementById("status").textContent = text; }

function badge(stateName) { return el("span", { class: "badge " + stateName, text: stateName }); }

// ------------------------------------------------------------------ the server list
function compare(a, b) {
  const key = state.sort;
  let x = a[key], y = b[key];
  if (key === "codes") { x = x.join(","); y = y.join(","); }
  if (key === "state") { x = state.meta.states.indexOf(x); y = state.meta.states.indexOf(y); }
  if (x === null) x = "";
  if (y === null) y = "";
  const order = x < y ? -1 : x > y ? 1 : (a.server < b.server ? -1 : 1);
  return state.desc ? -order : order;
}

function visibleRows() {
  const needle = state.filter.trim().toLowerCase();
  return state.rows.filter((row) =>
    (!state.stateFilter || row.state === state.stateFilter) &&
    (!needle || row.server.toLowerCase().includes(needle) || row.state.includes(needle) ||
      row.codes.some((code) => code.toLowerCase().includes(needle))));
}

function drawCounts(counts) {
  const box = document.getElementById("counts");
  box.replaceChildren();
  for (const name of state.meta.states) {
    const n = counts[name] || 0;
    const item = el("span", { class: "count" + (n ? "" : " zero"), "data-state": name }, badge(name), " " + n);
    item.addEventListener("click", () => {
      state.stateFilter = state.stateFilter === name ? "" : name;
      document.getElementById("state-filter").value = state.stateFilter;
      drawList();
    });
    box.append(item);
  }
}

function drawList() {
  const body = document.querySelector("#servers tbody");
  const rows = visibleRows().sort(compare);
  const fragment = document.createDocumentFragment();
  for (const row of rows) {
    const codes = el("td");
    for (const code of row.codes) codes.append(el("span", { class: "code", text: code }));
    const tr = el("tr", { "data-server": row.server },
      el("td", { text: row.server }), el("td", {}, badge(row.state)), codes,
      el("td", { text: row.latest ? row.latest.replace("T", " ").replace("Z", "") : "-" }),
      el("td", { text: String(row.events) }));
    tr.addEventListener("click", () => { location.hash = "#/server/" + encodeURIComponent(row.server); });
    fragment.append(tr);
  }
  body.replaceChildren(fragment);
  document.getElementById("empty").hidden = state.rows.length > 0;
  for (const th of document.querySelectorAll("#servers th")) {
    th.setAttribute("aria-sort", th.dataset.sort === state.sort ? (state.desc ? "descending" : "ascending") : "none");
  }
}

async function refreshList() {
  const data = await getJSON("/api/servers");
  state.rows = data.servers;
  document.getElementById("now").textContent = "now " + data.now;
  drawCounts(data.counts);
  drawList();
}

// ------------------------------------------------------------------ one server
function stepOf(kind) {
  const steps = state.meta.steps;
  for (let i = 0; i < steps.length; i++) if (steps[i].kinds.includes(kind)) return i;
  return -1;
}

function isVerification(entry) {
  return (entry.kind === "http_verify" || entry.kind === "http_send_failed") && !entry.message.startsWith("... ");
}

function drawSteps(server) {
  // how far the latest attempt got: the steps reached since the last (re)start of an install
  const reached = new Map();
  for (const entry of server.timeline) {
    const i = stepOf(entry.kind);
    if (i >= 0) { if (i <= 2) for (const k of [...reached.keys()]) if (k > i) reached.delete(k); reached.set(i, entry); }
  }
  const verified = server.timeline.some((e) => isVerification(e) && /status code 200\b/.test(e.message));
  const last = state.meta.steps.length - 1;
  if (verified && reached.has(last - 1)) reached.set(last, null);
  const top = Math.max(-1, ...reached.keys());
  const list = document.getElementById("steps");
  list.replaceChildren();
  state.meta.steps.forEach((step, i) => {
    const entry = reached.get(i);
    const item = el("li", { class: reached.has(i) ? (i === top ? "reached current" : "reached") : "" }, step.name);
    if (entry) item.append(el("small", { text: entry.host + " \u00b7 " + entry.file }));
    list.append(item);
  });
}

function drawDiagnoses(server) {
  const box = document.getElementById("diagnoses");
  box.replaceChildren();
  if (!server.diagnoses.length) { box.append(el("p", { class: "muted", text: "no diagnosis" })); return; }
  for (const d of server.diagnoses) {
    const evidence = el("div");
    for (const e of d.evidence) {
      evidence.append(el("div", { class: "text" }, e.time + "  " + e.host + " " + e.file + ":" + e.line + "  ", e.text));
    }
    box.append(el("div", { class: "diagnosis", "data-code": d.code },
      el("h4", {}, el("span", { class: "code", text: d.code }), " " + d.title),
      el("dl", {},
        el("dt", { text: "seen" }), el("dd", { text: d.first_seen + " .. " + d.last_seen }),
        el("dt", { text: "cause" }), el("dd", { text: d.cause }),
        el("dt", { text: "remedy" }), el("dd", { text: d.remedy }),
        el("dt", { text: "evidence" }), el("dd", {}, evidence))));
  }
}

function drawVerifications(server) {
  const box = document.getElementById("verifications");
  box.replaceChildren();
  const checks = server.timeline.filter(isVerification);
  if (!checks.length) { box.append(el("p", { class: "muted", text: "no MP verification seen yet" })); return; }
  const times = checks.map((e) => Date.parse(e.time));
  const t0 = Math.min(...times), t1 = Math.max(...times), width = 600, height = 60;
  const chart = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  const ok = checks.filter((e) => /status code 200\b/.test(e.message)).length;
  chart.append(svg("title"));
  chart.firstChild.textContent = `${checks.length} verifications, ${ok} succeeded`;
  checks.forEach((e, i) => {
    const good = /status code 200\b/.test(e.message);
    const x = 10 + (t1 > t0 ? (times[i] - t0) / (t1 - t0) : 0.5) * (width - 20);
    const dot = svg("circle", { cx: x.toFixed(1), cy: good ? 20 : 42, r: 4, fill: good ? "#1a7f37" : "#b3261e" });
    dot.append(svg("title"));
    dot.firstChild.textContent = e.time + " " + e.message;
    chart.append(dot);
  });
  box.append(chart, el("div", { class: "muted", text: `${ok} of ${checks.length} succeeded (top row: HTTP 200)` }));
}

function drawTimeline(server) {
  const box = document.getElementById("timeline");
  const errors = new Set(state.meta.error_kinds);
  const hosts = [...new Set(server.timeline.map((e) => e.host))].sort();
  const shown = server.timeline.slice(-TIMELINE_LIMIT);
  box.style.gridTemplateColumns = `repeat(${Math.max(hosts.length, 1)}, minmax(0, 1fr))`;
  const fragment = document.createDocumentFragment();
  hosts.forEach((host, i) => {
    const head = el("div", { class: "lane-head", text: host });
    head.style.gridColumn = String(i + 1);
    head.style.gridRow = "1";
    fragment.append(head);
  });
  shown.forEach((entry, row) => {
    const kindClass = errors.has(entry.kind) ? " error" : stepOf(entry.kind) >= 0 ? " milestone" : "";
    const item = el("div", { class: "entry" + kindClass, "data-kind": entry.kind },
      el("div", { class: "meta", text: entry.time.replace("T", " ") + " \u00b7 " + entry.file + ":" + entry.line + " \u00b7 " + entry.kind }),
      el("div", { class: "text", text: entry.message }));
    item.style.gridColumn = String(hosts.indexOf(entry.host) + 1);
    item.style.gridRow = String(row + 2);
    fragment.append(item);
  });
  box.replaceChildren(fragment);
  document.getElementById("timeline-note").textContent = shown.length < server.timeline.length
    ? `showing the latest ${shown.length} of ${server.timeline.length} entries` : "";
}

async function refreshServer(name) {
  const server = await getJSON("/api/servers/" + encodeURIComponent(name));
  if (state.current !== name) return;
  document.getElementById("server-name").textContent = server.server;
  const badgeBox = document.getElementById("server-state");
  badgeBox.className = "badge " + server.state;
  badgeBox.textContent = server.state;
  document.getElementById("now").textContent = "now " + server.now;
  drawSteps(server);
  drawDiagnoses(server);
  drawVerifications(server);
  drawTimeline(server);
}

// ------------------------------------------------------------------ routing and refresh
function route() {
  const match = location.hash.match(/^#\/server\/(.+)$/);
  state.current = match ? decodeURIComponent(match[1]) : null;
  document.getElementById("list-view").hidden = state.current !== null;
  document.getElementById("server-view").hidden = state.current === null;
  return refresh();
}

async function refresh() {
  try {
    if (state.current === null) await refreshList();
    else await refreshServer(state.current);
    setStatus("live \u00b7 updated " + new Date().toLocaleTimeString());
  } catch (error) {
    setStatus("cannot update: " + error.message);
  }
}

async function start() {
  try { state.meta = await getJSON("/api/meta"); } catch (error) { setStatus("cannot load: " + error.message); return; }
  const select = document.getElementById("state-filter");
  for (const name of state.meta.states) select.append(el("option", { value: name, text: name }));
  select.addEventListener("change", () => { state.stateFilter = select.value; drawList(); });
  document.getElementById("filter").addEventListener("input", (event) => { state.filter = event.target.value; drawList(); });
  for (const th of document.querySelectorAll("#servers th")) {
    th.addEventListener("click", () => {
      state.desc = state.sort === th.dataset.sort ? !state.desc : false;
      state.sort = th.dataset.sort;
      drawList();
    });
  }
  document.getElementById("back").addEventListener("click", (event) => { event.preventDefault(); location.hash = ""; });
  window.addEventListener("hashchange", route);
  await route();
  setInterval(refresh, REFRESH_MS);
}

document.addEventListener("DOMContentLoaded", start);
