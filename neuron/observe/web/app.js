// The live page of a Bittensor neuron: polls api/state every second and
// draws it with plain DOM and SVG. Every string from the network is set as
// text, never as markup.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const POLL_MS = 1000;
const COLORS = ["#4fb3ff", "#f0a04b", "#3fbf7f", "#c678dd", "#f0616d"];

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function svgEl(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function short(key) { return (key || "").slice(0, 8) || "?"; }

function fmt(v, digits) {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(1) + "G";
  if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (a >= 1e4) return (v / 1e3).toFixed(1) + "k";
  return v.toFixed(digits === undefined ? (a >= 100 ? 0 : a >= 10 ? 1 : 2) : digits);
}

function duration(ms) {
  let s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  return (h ? h + "h " : "") + (h || m ? m + "m " : "") + s + "s";
}

// niceTicks returns about n round values spanning [lo, hi].
function niceTicks(lo, hi, n) {
  if (!(hi > lo)) { hi = lo + 1; }
  const raw = (hi - lo) / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

// chart draws line series [{name, points: [[x, y|null]...]}] into svg.
function chart(svg, series, opts) {
  const W = svg.clientWidth || 600, H = svg.clientHeight || 220;
  const m = { l: 52, r: 12, t: 24, b: 26 };
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.replaceChildren();
  const xs = [], ys = [];
  for (const s of series) for (const [x, y] of s.points) { if (y !== null && isFinite(y)) { xs.push(x); ys.push(y); } }
  if (xs.length === 0) {
    svg.appendChild(svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" }, opts.empty || "no data yet"));
    return;
  }
  let x0 = Math.min(...xs), x1 = Math.max(...xs);
  let y0 = opts.y0 !== undefined ? opts.y0 : Math.min(...ys), y1 = opts.y1 !== undefined ? opts.y1 : Math.max(...ys);
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y1 = y0 + Math.abs(y0 || 1) * 0.1; y0 = y0 - Math.abs(y0 || 1) * 0.1; }
  const yt = niceTicks(y0, y1, 4);
  y0 = Math.min(y0, yt[0]); y1 = Math.max(y1, yt[yt.length - 1]);
  const px = (x) => m.l + (x - x0) / (x1 - x0) * (W - m.l - m.r);
  const py = (y) => H - m.b - (y - y0) / (y1 - y0) * (H - m.t - m.b);
  for (const v of yt) {
    svg.appendChild(svgEl("line", { x1: m.l, x2: W - m.r, y1: py(v), y2: py(v), class: "grid" }));
    svg.appendChild(svgEl("text", { x: m.l - 6, y: py(v) + 4, "text-anchor": "end" }, (opts.yFmt || fmt)(v)));
  }
  for (const v of niceTicks(x0, x1, 6)) {
    svg.appendChild(svgEl("text", { x: px(v), y: H - 8, "text-anchor": "middle" }, (opts.xFmt || fmt)(v)));
  }
  svg.appendChild(svgEl("line", { x1: m.l, x2: m.l, y1: m.t, y2: H - m.b, class: "axis" }));
  let lx = m.l;
  series.forEach((s, i) => {
    const color = s.color || COLORS[i % COLORS.length];
    // A null value breaks the line.
    let run = [], drawn = 0;
    const flush = () => {
      if (run.length) {
        const attrs = { points: run.join(" "), stroke: color, "data-series": s.name };
        if (s.dash) attrs["stroke-dasharray"] = s.dash;
        svg.appendChild(svgEl("polyline", attrs));
        drawn += run.length;
      }
      run = [];
    };
    for (const [x, y] of s.points) {
      if (y === null || !isFinite(y)) { flush(); continue; }
      run.push(px(x).toFixed(1) + "," + py(y).toFixed(1));
    }
    flush();
    const g = svgEl("g", { class: "legend", "data-series": s.name, "data-points": drawn });
    g.appendChild(svgEl("rect", { x: lx, y: 6, width: 10, height: 10, fill: color }));
    const label = svgEl("text", { x: lx + 14, y: 15 }, s.name);
    g.appendChild(label);
    svg.appendChild(g);
    lx += 24 + 7 * s.name.length;
  });
}

// heatmap draws the weight matrix: rows are weight setters, columns synapses.
function heatmap(svg, w, highlight) {
  const W = svg.clientWidth || 600;
  const rows = w.rows.length, cols = w.cols.length;
  const labelW = 110, top = 18, cellH = 26;
  const H = Math.max(60, top + rows * cellH + 6);
  svg.style.height = H + "px";
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.replaceChildren();
  if (rows === 0 || cols === 0) {
    svg.appendChild(svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" }, "no weights yet"));
    return;
  }
  let maxV = 0;
  for (const row of w.values) for (const v of row) if (v !== null && isFinite(v)) maxV = Math.max(maxV, Math.abs(v));
  const cellW = (W - labelW - 4) / cols;
  for (let j = 0; j < cols && cellW >= 40; j++) {
    svg.appendChild(svgEl("text", { x: labelW + (j + 0.5) * cellW, y: 12, "text-anchor": "middle" }, short(w.cols[j])));
  }
  for (let i = 0; i < rows; i++) {
    const label = svgEl("text", { x: labelW - 6, y: top + i * cellH + cellH / 2 + 4, "text-anchor": "end" },
      short(w.rows[i]) + (w.rows[i] === highlight ? " (me)" : ""));
    svg.appendChild(label);
    for (let j = 0; j < cols; j++) {
      const v = w.values[i][j];
      const known = v !== null && isFinite(v);
      const t = known && maxV > 0 ? Math.abs(v) / maxV : 0;
      const fill = known ? `rgb(${Math.round(23 + t * 56)},${Math.round(30 + t * 149)},${Math.round(38 + t * 217)})` : "#2a2f36";
      const r = svgEl("rect", { x: labelW + j * cellW + 1, y: top + i * cellH + 1, width: Math.max(cellW - 2, 1),
        height: cellH - 2, fill, class: "cell", "data-value": known ? v : "" });
      r.appendChild(svgEl("title", {}, `${short(w.rows[i])} → ${short(w.cols[j])}: ${known ? v.toFixed(4) : "unknown"}`));
      svg.appendChild(r);
      if (cellW >= 44 && known) {
        svg.appendChild(svgEl("text", { x: labelW + (j + 0.5) * cellW, y: top + i * cellH + cellH / 2 + 4,
          "text-anchor": "middle", class: t > 0.5 ? "cellv dark" : "cellv" }, v.toFixed(3)));
      }
    }
  }
}

function card(label, value) {
  const c = el("div", "card");
  c.appendChild(el("div", "v", value));
  c.appendChild(el("div", "l", label));
  return c;
}

function standing(s) {
  if (s.local) return ["self", "this neuron"];
  if (s.backoff_ms > 0) return ["bad", `backed off ${(s.backoff_ms / 1000).toFixed(1)}s (${s.in_a_row} failed)`];
  if (s.in_a_row > 0) return ["warn", `${s.in_a_row} failed in a row`];
  if (s.forwards === 0) return ["warn", "not called yet"];
  return ["ok", "ok"];
}

function renderSynapses(st) {
  const body = document.querySelector("#synapses tbody");
  body.replaceChildren();
  const maxW = Math.max(1e-9, ...st.synapses.map((s) => Math.abs(s.weight || 0)));
  for (const s of st.synapses) {
    const tr = el("tr", s.local ? "self" : "peer");
    tr.dataset.synapse = s.synapse_key;
    tr.dataset.neuron = s.neuron_key;
    tr.appendChild(el("td", "mono", short(s.synapse_key)));
    tr.appendChild(el("td", "mono", short(s.neuron_key)));
    tr.appendChild(el("td", "mono", s.endpoint));
    const wt = el("td", "mono");
    const bar = el("span", "wbar");
    bar.style.width = Math.round(60 * Math.abs(s.weight || 0) / maxW) + "px";
    wt.appendChild(bar);
    wt.appendChild(document.createTextNode(fmt(s.weight, 4)));
    tr.appendChild(wt);
    const sent = s.forwards + s.backwards, failed = s.forward_failures + s.backward_failures;
    tr.appendChild(el("td", "mono", `${sent - failed} / ${sent}`));
    const [cls, text] = standing(s);
    const td = el("td");
    td.appendChild(el("span", "badge " + cls, text));
    tr.appendChild(td);
    tr.appendChild(el("td", "mono", s.last_latency_ms ? fmt(s.last_latency_ms, 1) + " ms" : "–"));
    const err = el("td", "err", s.last_error || "");
    err.title = s.last_error || "";
    tr.appendChild(err);
    body.appendChild(tr);
  }
}

function render(st) {
  document.getElementById("neuron-key").textContent = short(st.neuron.key);
  document.getElementById("neuron-key").title = st.neuron.key;
  document.getElementById("axon-addr").textContent = st.neuron.axon || "–";
  document.getElementById("metagraph-addr").textContent = st.neuron.metagraph || "–";
  document.getElementById("uptime").textContent = duration(st.now - st.started);

  const last = st.last_step;
  // The rates over the last five samples: a step can take longer than one.
  const recent = st.throughput.slice(-5);
  const mean = (f) => recent.length ? recent.reduce((a, p) => a + (p[f] || 0), 0) / recent.length : null;
  const test = st.tests[st.tests.length - 1];
  document.getElementById("cards").replaceChildren(
    card("synapses known", String(st.synapses.length)),
    card("live peers", String(st.peers.length)),
    card("epoch", last ? String(last.epoch) : "–"),
    card("steps", last ? String(last.step + 1) : "0"),
    card("examples / s", fmt(mean("examples_per_sec"))),
    card("local loss", last ? fmt(last.local, 4) : "–"),
    card("network accuracy", test ? fmt(100 * test.network_accuracy, 1) + "%" : "–"),
    card("axon requests / s", fmt(mean("requests_per_sec"))),
    card("dendrite calls / s", fmt(mean("calls_per_sec"))),
    card("axon errors", fmt(st.axon.errors, 0)),
  );

  renderSynapses(st);

  const peers = document.getElementById("peers");
  peers.replaceChildren(...st.peers.map((p) => el("li", "", p)));
  if (st.peers.length === 0) peers.appendChild(el("li", "note", "no live peer yet"));
  const mg = st.metagraph;
  document.getElementById("metagraph-stats").textContent =
    `${mg.synapses} definitions held · ${mg.live} live of ${mg.peers} peers · ${mg.candidates} candidates · ` +
    `${mg.accepted} accepted, ${mg.rejected} rejected, ${mg.expired} expired · ` +
    `${mg.gossip_rounds} gossip rounds (${mg.gossip_failed_rounds} failed)`;

  heatmap(document.getElementById("heatmap"), st.weights, st.neuron.key);
  document.getElementById("weights-note").textContent = st.weights.note;

  const steps = st.steps;
  document.getElementById("loss-caption").textContent =
    st.step_stride > 1 ? `every ${st.step_stride}th step of the run` : "per step";
  chart(document.getElementById("loss-chart"), [
    { name: "local", points: steps.map((p) => [p.step, p.local]) },
    // Dashed: the target loss often lies on the local one.
    { name: "target", points: steps.map((p) => [p.step, p.target]), dash: "6 4" },
    { name: "distillation", points: steps.map((p) => [p.step, p.distillation]) },
  ], { empty: "no training step yet", xFmt: (v) => fmt(v, 0) });
  chart(document.getElementById("accuracy-chart"), [
    { name: "local", points: st.tests.map((p) => [p.epoch, p.local_accuracy === null ? null : 100 * p.local_accuracy]) },
    { name: "network", points: st.tests.map((p) => [p.epoch, p.network_accuracy === null ? null : 100 * p.network_accuracy]) },
  ], { empty: "no test pass yet (one runs after each epoch)", y1: 100, xFmt: (v) => fmt(v, 0), yFmt: (v) => fmt(v, 0) + "%" });
  chart(document.getElementById("throughput-chart"), [
    { name: "examples/s", points: st.throughput.map((p) => [(p.t - st.now) / 1000, p.examples_per_sec]) },
    { name: "axon requests/s", points: st.throughput.map((p) => [(p.t - st.now) / 1000, p.requests_per_sec]) },
    { name: "dendrite calls/s", points: st.throughput.map((p) => [(p.t - st.now) / 1000, p.calls_per_sec]) },
  ], { empty: "sampling…", y0: 0, xFmt: (v) => fmt(v, 0) + "s" });
}

let lastOK = 0;

async function poll() {
  const live = document.getElementById("live");
  try {
    const r = await fetch("api/state", { cache: "no-store" });
    if (!r.ok) throw new Error(r.status + " " + r.statusText);
    render(await r.json());
    lastOK = Date.now();
    live.className = "live";
    live.textContent = "live";
    document.body.dataset.updated = String(lastOK);
    if (!document.body.dataset.first) document.body.dataset.first = String(lastOK);
  } catch (e) {
    live.className = "live stale";
    live.textContent = lastOK ? `stale: ${e.message}` : `cannot reach the neuron: ${e.message}`;
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
