// The dashboard of `dist-softmax serve`. Plain JavaScript, no library, no external resource.
// It polls GET /api/cluster and GET /api/jobs, and for the selected job GET /api/jobs/{id} and the server-sent events
// of /api/jobs/{id}/events (`iteration`: one trace entry of report.json; `state`: {state, condition at a final state};
// `note`: {message}).
// Every string from the server is shown through textContent or an attribute, never parsed as HTML.
"use strict";

/** Milliseconds between two polls of the cluster and the job list. */
const REFRESH_MS = 2000;
/** Milliseconds between two polls of the selected job's details (shard owners) while it is queued or running. */
const JOB_REFRESH_MS = 3000;
/** Most cluster notes kept in the selected job's list (the oldest are dropped). */
const MAX_NOTES = 200;
/** Job states after which nothing changes any more. */
const FINAL_STATES = new Set(["succeeded", "stopped", "failed", "cancelled"]);
/** The chart's SVG user-space size (the viewBox; the element scales to its box) and its plot margins. */
const CHART = { width: 640, height: 280, left: 56, right: 14, top: 12, bottom: 34 };
const SVG_NS = "http://www.w3.org/2000/svg";

const $ = (id) => document.getElementById(id);

/** The selected job: its id, the trace entries by iteration, the SSE connection and its last-known state. */
const selected = { id: null, entries: new Map(), source: null, state: null, detailTimer: null, reportShown: false, renderQueued: false };

// ---------------------------------------------------------------------------------------------------------------
// Small helpers: elements, numbers, times.

/** An element with text content (escaped by the DOM) and optional class. */
function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (className) e.className = className;
  return e;
}

function td(text, className) { return el("td", text, className); }

/** A finite number, or null for null, undefined, NaN, "NaN" and the infinities the report writes as strings. */
function finite(v) {
  const x = typeof v === "string" ? Number(v) : v;
  return typeof x === "number" && Number.isFinite(x) ? x : null;
}

function fmtNumber(v, digits = 6) {
  if (v === null || v === undefined) return "–";
  const x = finite(v);
  if (x === null) return String(v);
  if (x === 0) return "0";
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e6 ? String(Number(x.toPrecision(digits))) : x.toExponential(Math.max(digits - 4, 1));
}

function fmtBytes(b) {
  const x = finite(b);
  if (x === null) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = x, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return (u === 0 ? String(v) : v.toFixed(1)) + " " + units[u];
}

function parseTime(t) {
  if (!t) return null;
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? null : d;
}

function fmtClock(t) {
  const d = parseTime(t);
  return d === null ? "–" : d.toLocaleTimeString([], { hour12: false });
}

function fmtSeconds(s) {
  if (s === null) return "–";
  if (s < 60) return s.toFixed(1) + " s";
  const m = Math.floor(s / 60);
  return m + " min " + Math.round(s - 60 * m) + " s";
}

/** Seconds a job has run: from start to end, or to now while it runs. */
function runSeconds(job) {
  const start = parseTime(job.startedAt);
  if (start === null) return null;
  const end = parseTime(job.endedAt) ?? new Date();
  return Math.max(0, (end.getTime() - start.getTime()) / 1000);
}

function jobUrl(id) { return "api/jobs/" + encodeURIComponent(id); }

async function getJson(url, options) {
  const response = await fetch(url, { cache: "no-store", ...options });
  const body = await response.text();
  let json = null;
  try { json = body.length ? JSON.parse(body) : null; } catch { json = null; }
  if (!response.ok) {
    const reason = json && typeof json.error === "string" ? json.error : response.status + " " + response.statusText;
    throw new Error(url + ": " + reason);
  }
  return json;
}

function setConnection(message) {
  const c = $("connection");
  c.textContent = message;
  c.classList.toggle("error", message.length > 0);
}

/** A job's state; a stopped one with the solver's exit condition ("stopped (max-iterations)"): it ran and wrote its
 *  files but ended short of the tolerance, which is not a failure. */
function stateBadge(state, condition) {
  const stopped = state === "stopped" && typeof condition === "string";
  const s = el("span", stopped ? state + " (" + condition + ")" : state ?? "–", "state state-" + (state ?? "unknown"));
  if (stopped) s.title = "the solve ran and wrote its files, but stopped without meeting the tolerance: " + condition;
  return s;
}

// ---------------------------------------------------------------------------------------------------------------
// Cluster members (GET /api/cluster).

function renderCluster(cluster) {
  $("self-address").textContent = cluster.self ?? "–";
  $("jobs-running").textContent = cluster.jobs?.running ?? "–";
  $("jobs-queued").textContent = cluster.jobs?.queued ?? "–";
  const members = Array.isArray(cluster.members) ? cluster.members : [];
  $("members-count").textContent = "(" + members.length + ")";
  const rows = members.map((m) => {
    const tr = document.createElement("tr");
    tr.dataset.address = m.address ?? "";
    const address = td(m.address, "mono");
    if (m.address === cluster.self) address.append(el("span", " (this service)", "muted"));
    tr.append(address, td((m.roles ?? []).join(", ")), td(m.status), td(m.cores ?? "–", "num"),
      td(fmtBytes(m.memoryBytes), "num"), td(m.shards ?? "–", "num"));
    const cache = td("");
    const sources = Array.isArray(m.cachedSources) ? m.cachedSources : [];
    if (sources.length === 0) cache.append(el("span", "none", "muted"));
    else {
      const ul = el("ul", null, "plain");
      for (const s of sources) {
        const li = el("li", null);
        const key = el("span", s.key, "mono cache-key");
        key.title = s.key ?? "";
        li.append(key, el("span", " · " + (s.rows ?? "?") + " rows · " + fmtBytes(s.bytes), "muted"));
        ul.append(li);
      }
      cache.append(ul);
    }
    tr.append(cache);
    return tr;
  });
  $("members").tBodies[0].replaceChildren(...rows);
}

// ---------------------------------------------------------------------------------------------------------------
// Job list (GET /api/jobs).

function renderJobs(jobs) {
  $("jobs-count").textContent = "(" + jobs.length + ")";
  // Newest first.
  const sorted = [...jobs].sort((a, b) => String(b.submittedAt ?? "").localeCompare(String(a.submittedAt ?? "")));
  const rows = sorted.map((j) => {
    const tr = document.createElement("tr");
    tr.dataset.jobId = j.id;
    if (j.id === selected.id) tr.classList.add("selected");
    const pick = el("button", j.id, "link mono job-id");
    pick.type = "button";
    pick.title = j.id;
    pick.setAttribute("aria-label", "Show job " + j.id);
    if (j.id === selected.id) pick.setAttribute("aria-current", "true");
    pick.addEventListener("click", () => selectJob(j.id));
    const first = td("");
    first.append(pick);
    const state = td("");
    state.append(stateBadge(j.state, j.condition));
    tr.append(first, state, td((j.problem ?? "–") + " · " + (j.solver ?? "–")), td(j.iterations ?? "–", "num"), td(fmtNumber(j.loss), "num"),
      td(fmtNumber(j.gradientNorm, 3), "num"), td(fmtSeconds(runSeconds(j)), "num"));
    tr.title = "submitted " + fmtClock(j.submittedAt);
    return tr;
  });
  // Replacing the rows must not take the keyboard focus away from the job button a user is on.
  const focused = document.activeElement?.closest?.("#jobs tbody tr")?.dataset.jobId;
  $("jobs").tBodies[0].replaceChildren(...rows);
  if (focused !== undefined) rows.find((r) => r.dataset.jobId === focused)?.querySelector("button")?.focus();
  // Nothing chosen yet: follow the newest running job (or the newest job), so the page shows something live.
  if (selected.id === null && sorted.length > 0) {
    const running = sorted.find((j) => j.state === "running");
    selectJob((running ?? sorted[0]).id);
  }
}

async function refresh() {
  try {
    const [cluster, jobs] = await Promise.all([getJson("api/cluster"), getJson("api/jobs")]);
    renderCluster(cluster ?? {});
    renderJobs(Array.isArray(jobs) ? jobs : []);
    $("updated").textContent = new Date().toLocaleTimeString([], { hour12: false });
    setConnection("");
  } catch (e) {
    setConnection("service unreachable: " + e.message);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The selected job: details, events, chart, report.

function selectJob(id) {
  if (id === selected.id) return;
  if (selected.source) selected.source.close();
  clearTimeout(selected.detailTimer);
  Object.assign(selected, { id, entries: new Map(), source: null, state: null, detailTimer: null, reportShown: false });
  history.replaceState(null, "", "#job=" + encodeURIComponent(id));
  $("job-id").textContent = id;
  $("job-state").replaceChildren();
  $("job-body").hidden = false;
  $("job-message").textContent = "";
  $("notes").replaceChildren();
  $("notes-count").textContent = "0";
  $("job-times").textContent = "";
  $("shards").tBodies[0].replaceChildren();
  $("spec").replaceChildren();
  $("report").replaceChildren();
  $("report-missing").hidden = false;
  $("files").replaceChildren();
  $("plot-figure").hidden = true;
  $("plot").removeAttribute("src");
  for (const tr of $("jobs").tBodies[0].rows) {
    const on = tr.dataset.jobId === id;
    tr.classList.toggle("selected", on);
    const b = tr.querySelector("button");
    if (b) { if (on) b.setAttribute("aria-current", "true"); else b.removeAttribute("aria-current"); }
  }
  renderChart();
  openEvents(id);
  loadDetail(id);
}

function setState(state, condition) {
  selected.state = state;
  $("job-state").replaceChildren(stateBadge(state, condition));
  $("cancel").disabled = FINAL_STATES.has(state);
}

/** Server-sent events of the job: the trace so far, then live entries; closed after the final state (the browser
 *  would otherwise reconnect and receive the replay again — entries are keyed by iteration, so a replay is harmless). */
function openEvents(id) {
  const source = new EventSource(jobUrl(id) + "/events");
  selected.source = source;
  source.addEventListener("iteration", (e) => {
    if (selected.id !== id) return;
    const entry = JSON.parse(e.data);
    if (typeof entry.iteration !== "number") return;
    selected.entries.set(entry.iteration, entry);
    queueRender();
  });
  source.addEventListener("state", (e) => {
    if (selected.id !== id) return;
    const { state, condition } = JSON.parse(e.data);
    setState(state, condition);
    if (FINAL_STATES.has(state)) {
      source.close();
      loadDetail(id);
    }
  });
  source.addEventListener("note", (e) => {
    if (selected.id !== id) return;
    const { message } = JSON.parse(e.data);
    const list = $("notes");
    list.append(el("li", new Date().toLocaleTimeString([], { hour12: false }) + "  " + message));
    while (list.children.length > MAX_NOTES) list.firstElementChild.remove();
    $("notes-count").textContent = String(list.children.length);
    loadDetail(id); // a worker joined or left, or a shard moved: the owners changed
  });
  source.onerror = () => {
    if (selected.id === id && source.readyState === EventSource.CLOSED && !FINAL_STATES.has(selected.state))
      $("job-message").textContent = "event stream closed; the job list keeps updating";
  };
}

async function loadDetail(id) {
  clearTimeout(selected.detailTimer);
  let job;
  try {
    job = await getJson(jobUrl(id));
  } catch (e) {
    if (selected.id === id) $("job-message").textContent = e.message;
    return;
  }
  if (selected.id !== id || job === null) return;
  setState(job.state, job.condition);
  if (Array.isArray(job.trace)) {
    for (const t of job.trace) if (typeof t.iteration === "number") selected.entries.set(t.iteration, t);
    queueRender();
  }
  const times = [["submitted", job.submittedAt], ["started", job.startedAt], ["ended", job.endedAt]]
    .filter(([, t]) => parseTime(t) !== null).map(([what, t]) => what + " " + fmtClock(t));
  $("job-times").textContent = times.join(" · ");
  renderShards(job.shards);
  renderSpec(job.spec);
  renderFiles(id, job.files);
  if (FINAL_STATES.has(job.state)) {
    const parts = [job.message, job.exitCode !== undefined && job.exitCode !== null ? "exit code " + job.exitCode : null];
    $("job-message").textContent = parts.filter((p) => p).join(" · ");
    if (!selected.reportShown) await showReport(id, job.files ?? []);
  } else {
    selected.detailTimer = setTimeout(() => loadDetail(id), JOB_REFRESH_MS);
  }
}

function renderShards(shards) {
  const rows = (Array.isArray(shards) ? shards : []).map((s) => {
    const tr = document.createElement("tr");
    tr.append(td(s.index, "num"), td(s.rows, "num"), td(s.owner ?? "unassigned", "mono"));
    return tr;
  });
  $("shards").tBodies[0].replaceChildren(...rows);
}

function addField(dl, name, value) {
  if (value === undefined || value === null || value === "") return;
  const text = typeof value === "object" ? JSON.stringify(value) : typeof value === "number" ? fmtNumber(value, 8) : String(value);
  dl.append(el("dt", name), el("dd", text));
}

function renderSpec(spec) {
  const dl = $("spec");
  dl.replaceChildren();
  if (!spec || typeof spec !== "object") return;
  for (const [k, v] of Object.entries(spec)) addField(dl, k, v);
}

function fileUrl(id, name) { return jobUrl(id) + "/files/" + encodeURIComponent(name); }

function renderFiles(id, files) {
  const items = (Array.isArray(files) ? files : []).map((name) => {
    const a = el("a", name);
    a.href = fileUrl(id, name);
    a.setAttribute("download", name);
    const li = el("li");
    li.append(a);
    return li;
  });
  $("files").replaceChildren(...items);
}

/** The key fields of the job's report.json, and its convergence.png. */
async function showReport(id, files) {
  selected.reportShown = true;
  if (files.includes("convergence.png")) {
    $("plot").src = fileUrl(id, "convergence.png");
    $("plot-figure").hidden = false;
  }
  if (!files.includes("report.json")) {
    $("report-missing").textContent = "This job wrote no report.";
    return;
  }
  let r;
  try {
    r = await getJson(fileUrl(id, "report.json"));
  } catch (e) {
    $("report-missing").textContent = e.message;
    return;
  }
  if (selected.id !== id || r === null) return;
  $("report-missing").hidden = true;
  const dl = $("report");
  dl.replaceChildren();
  addField(dl, "problem", r.unit ? r.problem + " (" + r.unit + ")" : r.problem);
  if (r.sizes) addField(dl, "sizes", "n = " + r.sizes.n + ", d = " + r.sizes.d + ", unknowns = " + r.sizes.unknowns + ", nnz = " + r.sizes.nnz);
  addField(dl, "solver", r.solver);
  addField(dl, "why this solver", r.solverChoiceReason);
  addField(dl, "globalization", r.globalization);
  addField(dl, "backend", r.backend + (r.workers ? ", " + r.workers + " workers" : ""));
  addField(dl, "exit", r.exit + (r.converged || r.exit === "converged" ? "" : " (not converged)"));
  addField(dl, "message", r.message);
  addField(dl, "iterations", r.iterations);
  addField(dl, "final loss", r.finalLoss);
  addField(dl, "‖∇L‖ initial → final", fmtNumber(r.initialGradientNorm, 4) + " → " + fmtNumber(r.finalGradientNorm, 4));
  addField(dl, "shard requests", r.requests);
  if (r.wallTime) addField(dl, "wall time", "solve " + fmtSeconds(finite(r.wallTime.solveSeconds)) + ", total " + fmtSeconds(finite(r.wallTime.totalSeconds)));
  if (Array.isArray(r.warnings) && r.warnings.length > 0) addField(dl, "warnings", r.warnings.join("; "));
}

$("cancel").addEventListener("click", async () => {
  const id = selected.id;
  if (id === null) return;
  $("cancel").disabled = true;
  try {
    const job = await getJson(jobUrl(id), { method: "DELETE" });
    if (selected.id === id && job) setState(job.state, job.condition);
    $("job-message").textContent = "cancel requested";
  } catch (e) {
    $("job-message").textContent = e.message;
    $("cancel").disabled = FINAL_STATES.has(selected.state);
  }
  refresh();
});

// ---------------------------------------------------------------------------------------------------------------
// The convergence chart: an SVG line chart, x = iteration, y = log10 of L − L_best and of ‖∇L‖.
// L_best is the smallest loss received so far; L − L_best is 0 at that iteration (no logarithm) and left out, as in
// convergence.png. Non-finite and non-positive values are left out as well.

function queueRender() {
  if (selected.renderQueued) return;
  selected.renderQueued = true;
  requestAnimationFrame(() => { selected.renderQueued = false; renderChart(); });
}

function svg(tag, attributes, text) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** The smallest of 1, 2, 5, 10, 20, 50, … that is at least <raw> (and at least 1). */
function niceStep(raw) {
  if (!(raw > 1)) return 1;
  const decade = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * decade).find((step) => step >= raw);
}

function renderChart() {
  const chart = $("chart");
  const entries = [...selected.entries.values()].sort((a, b) => a.iteration - b.iteration);
  const losses = entries.map((t) => finite(t.loss)).filter((x) => x !== null);
  const best = losses.length ? Math.min(...losses) : null;
  // Series of [iteration, log10 value] pairs.
  const series = (value) => entries.map((t) => [t.iteration, value(t)])
    .filter(([, v]) => v !== null && v > 0).map(([i, v]) => [i, Math.log10(v)]);
  const gap = series((t) => { const l = finite(t.loss); return l === null || best === null ? null : l - best; });
  const grad = series((t) => finite(t.gradientNorm));

  // Keep the two text children (title, desc); redraw the rest.
  while (chart.lastChild && chart.lastChild.id !== "chart-desc") chart.lastChild.remove();
  chart.dataset.entries = String(entries.length);
  chart.dataset.points = String(gap.length + grad.length);

  const { width, height, left, right, top, bottom } = CHART;
  const all = [...gap, ...grad];
  const last = entries[entries.length - 1];
  $("chart-latest").textContent = last
    ? "iteration " + last.iteration + ": loss " + fmtNumber(last.loss, 8) + ", ‖∇L‖ " + fmtNumber(last.gradientNorm, 3)
    : "waiting for the first iteration";
  $("chart-desc").textContent = last
    ? entries.length + " iterations received; at iteration " + last.iteration + " the loss is " + fmtNumber(last.loss, 8) +
      " and the gradient norm " + fmtNumber(last.gradientNorm, 3) + "."
    : "No iterations yet.";
  if (all.length === 0) {
    chart.append(svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "chart-empty" }, "waiting for iterations…"));
    return;
  }
  const xMax = Math.max(1, entries[entries.length - 1].iteration);
  let yMin = Math.floor(Math.min(...all.map((p) => p[1])));
  let yMax = Math.ceil(Math.max(...all.map((p) => p[1])));
  if (yMax === yMin) yMax = yMin + 1;
  const plotW = width - left - right, plotH = height - top - bottom;
  const sx = (i) => left + (i / xMax) * plotW;
  const sy = (y) => top + (1 - (y - yMin) / (yMax - yMin)) * plotH;

  const axes = svg("g", { class: "axes" });
  // Decades on y: one grid line and label per power of ten (at most about 8 labels).
  const yStep = Math.max(1, Math.ceil((yMax - yMin) / 8));
  for (let y = yMin; y <= yMax; y += yStep) {
    axes.append(svg("line", { x1: left, x2: width - right, y1: sy(y), y2: sy(y), class: "grid" }));
    axes.append(svg("text", { x: left - 6, y: sy(y) + 4, "text-anchor": "end" }, "1e" + y));
  }
  // Iterations on x: at most about 8 integer ticks, 1, 2 or 5 times a power of ten apart.
  const xStep = niceStep(xMax / 8);
  for (let i = 0; i <= xMax; i += xStep) {
    axes.append(svg("line", { x1: sx(i), x2: sx(i), y1: top + plotH, y2: top + plotH + 4, class: "tick" }));
    axes.append(svg("text", { x: sx(i), y: top + plotH + 16, "text-anchor": "middle" }, String(i)));
  }
  axes.append(svg("rect", { x: left, y: top, width: plotW, height: plotH, class: "frame" }));
  axes.append(svg("text", { x: left + plotW / 2, y: height - 4, "text-anchor": "middle", class: "axis-label" }, "iteration"));
  chart.append(axes);

  for (const [points, cls] of [[gap, "series-loss"], [grad, "series-grad"]]) {
    if (points.length === 0) continue;
    const coords = points.map(([i, y]) => sx(i).toFixed(1) + "," + sy(y).toFixed(1)).join(" ");
    chart.append(svg("polyline", { points: coords, class: "series " + cls, "data-count": points.length }));
    if (points.length <= 60)
      for (const [i, y] of points) chart.append(svg("circle", { cx: sx(i).toFixed(1), cy: sy(y).toFixed(1), r: 2.5, class: "dot " + cls }));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Start: the job named in the address (#job=<id>), if any, then poll.

{
  const m = /^#job=(.+)$/.exec(location.hash);
  if (m) selectJob(decodeURIComponent(m[1]));
}
refresh();
setInterval(refresh, REFRESH_MS);
