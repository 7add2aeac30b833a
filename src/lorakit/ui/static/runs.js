// Runs tab: loss and eval curves as inline SVG, manifests side by side.
"use strict";

const COLORS = ["#2f5bd3", "#d9480f", "#2b8a3e", "#862e9c", "#c2255c", "#0b7285", "#e67700", "#495057"];
const SVG = "http://www.w3.org/2000/svg";
const runsState = { runs: [] };

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

async function loadRuns() {
  try {
    runsState.runs = (await api("/api/runs")).runs;
  } catch (err) {
    notice(err.message, "error");
    return;
  }
  runsState.runs.forEach((run, i) => { run.color = COLORS[i % COLORS.length]; });
  renderRunPickers();
  renderRuns();
}

function renderRunPickers() {
  const list = document.getElementById("runs-list");
  if (!runsState.runs.length) {
    list.replaceChildren(el("div", { class: "count" }, "no runs found"));
    return;
  }
  list.replaceChildren(...runsState.runs.map((run, i) => el("label", { title: run.path },
    el("input", { type: "checkbox", name: "run", value: String(i), checked: i < 6, onchange: renderRuns }),
    el("span", { class: "swatch", style: `background:${run.color}` }), run.name)));
  const keys = [...new Set(runsState.runs.flatMap((r) => Object.keys(r.series)))].sort();
  document.getElementById("series-list").replaceChildren(...keys.map((key) => el("label", {},
    el("input", { type: "checkbox", name: "series", value: key, checked: key.endsWith("loss"),
                  onchange: renderRuns }), ` ${key}`)));
}

function chosenRuns() {
  return [...checked("run")].map(Number).sort((a, b) => a - b).map((i) => runsState.runs[i]);
}

function renderRuns() {
  const chart = document.getElementById("chart");
  const table = document.getElementById("run-table");
  if (!runsState.runs.length) {
    chart.replaceChildren(el("div", { class: "empty-state" },
      "No trained adapters yet. Train one with ", el("code", {}, "lorakit train"),
      ", register one with ", el("code", {}, "lorakit adapters add DIR"),
      ", or start the page with ", el("code", {}, "--runs FOLDER"), "."));
    table.replaceChildren();
    return;
  }
  const runs = chosenRuns();
  const series = [...checked("series")];
  // all *loss series share one chart (so train and eval loss can be compared), others get their own
  const groups = [];
  const losses = series.filter((s) => s.endsWith("loss"));
  if (losses.length) groups.push({ title: "loss", keys: losses });
  for (const key of series.filter((s) => !s.endsWith("loss"))) groups.push({ title: key, keys: [key] });
  chart.replaceChildren(...groups.map((g) => lineChart(g.title, runs, g.keys)));
  if (!groups.length) chart.append(el("div", { class: "count" }, "tick a curve on the left"));
  table.replaceChildren(runTable(runs));
}

function niceTicks(lo, hi, count = 5) {
  if (lo === hi) { lo -= 1; hi += 1; }
  const raw = (hi - lo) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];
  const first = Math.floor(lo / step + 1e-9) * step;
  const end = Math.ceil(hi / step - 1e-9) * step;
  for (let t = first; t <= end + step * 1e-9; t += step) ticks.push(+t.toPrecision(12));
  return ticks;
}

function fmt(value) {
  if (typeof value !== "number") return String(value);
  if (value !== 0 && (Math.abs(value) < 1e-3 || Math.abs(value) >= 1e5)) return value.toExponential(2);
  return String(+value.toPrecision(4));
}

function lineChart(title, runs, keys) {
  const W = 900, H = 300, m = { l: 56, r: 220, t: 26, b: 34 };
  const lines = [];
  for (const run of runs) {
    for (const key of keys) if (run.series[key] && run.series[key].length) lines.push({ run, key, pts: run.series[key] });
  }
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "curve", "data-title": title, role: "img",
                            "aria-label": `${title} by step` });
  root.append(svg("text", { x: m.l, y: 16, "font-weight": 600, "font-size": 13 }, title));
  if (!lines.length) {
    root.append(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", fill: "#667085" }, "no data for the chosen runs"));
    return root;
  }
  const all = lines.flatMap((l) => l.pts);
  const xs = niceTicks(Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0])));
  const ys = niceTicks(Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1])));
  const [x0, x1, y0, y1] = [xs[0], xs[xs.length - 1], ys[0], ys[ys.length - 1]];
  const X = (v) => m.l + ((v - x0) / (x1 - x0 || 1)) * (W - m.l - m.r);
  const Y = (v) => H - m.b - ((v - y0) / (y1 - y0 || 1)) * (H - m.t - m.b);

  // grid and axes
  const grid = svg("g", { class: "grid" });
  const axis = svg("g", { class: "axis" });
  for (const t of ys) {
    grid.append(svg("line", { x1: m.l, x2: W - m.r, y1: Y(t), y2: Y(t) }));
    axis.append(svg("text", { x: m.l - 6, y: Y(t) + 4, "text-anchor": "end" }, fmt(t)));
  }
  for (const t of xs) axis.append(svg("text", { x: X(t), y: H - m.b + 16, "text-anchor": "middle" }, fmt(t)));
  axis.append(svg("text", { x: W - m.r, y: H - 4, "text-anchor": "end" }, "step"));
  root.append(grid, axis, svg("line", { x1: m.l, x2: m.l, y1: m.t, y2: H - m.b, stroke: "#98a2b3" }),
    svg("line", { x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b, stroke: "#98a2b3" }));

  // one line per run and series: train solid, eval dashed with dots (it has few points)
  for (const line of lines) {
    const isEval = line.key.startsWith("eval");
    const d = line.pts.map((p, i) => `${i ? "L" : "M"}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join("");
    const g = svg("g", { class: "series", "data-run": line.run.name, "data-key": line.key });
    g.append(svg("path", { d, fill: "none", stroke: line.run.color, "stroke-width": 2,
                           "stroke-dasharray": isEval ? "6 4" : "none" }));
    if (isEval || line.pts.length < 30) {
      for (const p of line.pts) g.append(svg("circle", { cx: X(p[0]), cy: Y(p[1]), r: 3, fill: line.run.color },
        svg("title", {}, `${line.run.name} ${line.key} step ${p[0]}: ${fmt(p[1])}`)));
    }
    root.append(g);
  }
  root.append(legend(lines, W - m.r + 16, m.t));
  return root;
}

function legend(lines, left, top) {
  // beside the plot, one entry per line: solid = train, dashed = eval
  const g = svg("g", { class: "legend" });
  lines.forEach((line, i) => {
    const y = top + 6 + i * 18;
    g.append(svg("line", { x1: left, x2: left + 24, y1: y, y2: y, stroke: line.run.color, "stroke-width": 2,
                           "stroke-dasharray": line.key.startsWith("eval") ? "6 4" : "none" }),
      svg("text", { x: left + 30, y: y + 4 }, `${line.run.name} · ${line.key}`.slice(0, 28)));
  });
  return g;
}

function last(points) { return points && points.length ? points[points.length - 1][1] : undefined; }
function best(points) { return points && points.length ? Math.min(...points.map((p) => p[1])) : undefined; }

function flat(obj, prefix = "") {
  // one level of nesting shown as "a.b"; lists and deep objects as short JSON
  const out = [];
  for (const [k, v] of Object.entries(obj || {})) {
    if (v && typeof v === "object" && !Array.isArray(v) && !prefix) out.push(...flat(v, `${k}.`));
    else out.push([prefix + k, typeof v === "object" ? JSON.stringify(v) : v]);
  }
  return out;
}

function runTable(runs) {
  const get = (run, path) => path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), run.manifest || {});
  const fields = [
    ["path", (r) => r.path], ["registered", (r) => (r.registered ? "yes" : "no")],
    ["base", (r) => get(r, "base_model.name")], ["created", (r) => get(r, "created")],
    ["rank / alpha", (r) => [get(r, "config.lora.rank"), get(r, "config.lora.alpha")].join(" / ")],
    ["learning rate", (r) => get(r, "config.train.lr")], ["epochs", (r) => get(r, "config.train.epochs")],
    ["seed", (r) => get(r, "seed")], ["train rows", (r) => get(r, "data.train.rows")],
    ["eval rows", (r) => get(r, "data.eval.rows")],
    ["last loss", (r) => last(r.series.loss)], ["best eval_loss", (r) => best(r.series.eval_loss)],
    ["metrics", (r) => flat(get(r, "metrics")).map(([k, v]) => `${k}: ${fmt(v)}`).join("\n")],
    ["eval results", (r) => (r.eval || []).map((e, i) => `#${i + 1} ` + flat(e).map(([k, v]) => `${k}: ${fmt(v)}`).join(", ")).join("\n")],
    ["problems", (r) => (r.problems || []).join("; ")],
  ];
  return el("table", { class: "runs-table" },
    el("thead", {}, el("tr", {}, el("th", {}, ""), runs.map((r) => el("th", {},
      el("span", { class: "swatch", style: `background:${r.color}` }), r.name)))),
    el("tbody", {}, fields.map(([label, f]) => el("tr", {}, el("th", {}, label), runs.map((r) => {
      const v = f(r);
      return el("td", { class: label === "problems" && v ? "problem" : "", style: "white-space:pre-line" },
        v === undefined || v === null || v === "" || v === " / " ? "—" : typeof v === "number" ? fmt(v) : v);
    })))));
}
