// The dashboard page: HTML, CSS and script in one string, so `seke serve` needs no files and the
// page no network. It fetches ui/data (relative, so a URL prefix works) and draws SVG itself.
namespace seke {

const char* dashboard_page() {
    return R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>seke dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; background: #f6f7f9; }
  header { background: #1f2937; color: #fff; padding: 10px 20px; }
  header h1 { font-size: 18px; margin: 0; display: inline; }
  header span { margin-left: 16px; opacity: .8; }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; padding: 16px; }
  section { background: #fff; border: 1px solid #e2e5ea; border-radius: 6px; padding: 12px 16px; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 15px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #eee; vertical-align: middle; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  img.thumb { width: 56px; height: 56px; object-fit: cover; border-radius: 4px; background: #ddd; }
  .bar { display: inline-block; height: 10px; background: #d9534f; vertical-align: middle; }
  .muted { color: #777; }
  #error { color: #b00; padding: 0 20px; }
</style>
</head>
<body>
<header><h1>seke</h1><span id="version"></span><span id="fitted"></span></header>
<p id="error"></p>
<main>
  <section><h2>Faces by status</h2><table id="status"><tbody></tbody></table></section>
  <section><h2>Cost so far</h2><table id="cost"><tbody></tbody></table></section>
  <section><h2>Uncertainty (overall) histogram</h2><svg id="histogram" width="400" height="180" role="img"></svg></section>
  <section><h2>Calibration: probability of error by uncertainty</h2><svg id="calibration" width="400" height="220" role="img"></svg>
    <div id="calibration-note" class="muted"></div></section>
  <section class="wide"><h2>Review queue (most likely wrong first)</h2>
    <table id="queue"><thead><tr><th></th><th>face</th><th>labels</th><th class="num">P(error)</th>
      <th class="num">expression</th><th class="num">VA</th><th class="num">AUs</th></tr></thead><tbody></tbody></table></section>
  <section class="wide"><h2>Label Studio projects: controls seke leaves unfilled</h2>
    <table id="projects"><thead><tr><th>project</th><th>filled</th><th>control</th><th>why not filled</th><th>option that maps it</th></tr></thead><tbody></tbody></table></section>
  <section class="wide"><h2>Latest FEAB report</h2><div id="feab" class="muted">No FEAB report yet: run <code>seke feab score --db ...</code>.</div></section>
</main>
<script>
"use strict";
const SVG = "http://www.w3.org/2000/svg";
// Relative to the page, without any user:pass@ the address bar may carry (fetch refuses those).
const BASE = location.origin + location.pathname;
const url = path => new URL(path, BASE).toString();
function el(tag, attrs, text) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
function fmt(x, digits) { return typeof x === "number" ? x.toFixed(digits === undefined ? 3 : digits) : "–"; }
function rows(table, pairs) {
  const body = table.querySelector("tbody");
  body.replaceChildren();
  for (const [k, v] of pairs) {
    const tr = el("tr");
    tr.append(el("td", {}, k), el("td", {class: "num"}, String(v)));
    body.append(tr);
  }
}
function axes(svg, w, h, pad, xlabel, ylabel) {
  svg.append(el("svg:line", {x1: pad, y1: h - pad, x2: w - 10, y2: h - pad, stroke: "#888"}));
  svg.append(el("svg:line", {x1: pad, y1: 10, x2: pad, y2: h - pad, stroke: "#888"}));
  svg.append(el("svg:text", {x: w / 2, y: h - 4, "text-anchor": "middle", "font-size": 11}, xlabel));
  svg.append(el("svg:text", {x: 12, y: h / 2, "font-size": 11, transform: `rotate(-90 12 ${h / 2})`, "text-anchor": "middle"}, ylabel));
}
function histogram(svg, bins) {
  svg.replaceChildren();
  const w = +svg.getAttribute("width"), h = +svg.getAttribute("height"), pad = 30;
  axes(svg, w, h, pad, "overall uncertainty (0 → 1)", "faces");
  const max = Math.max(1, ...bins), bw = (w - pad - 12) / bins.length;
  bins.forEach((n, i) => {
    const bh = (h - pad - 12) * n / max;
    const r = el("svg:rect", {class: "bin", x: pad + i * bw + 1, y: h - pad - bh, width: Math.max(1, bw - 2), height: bh, fill: "#4a78b5"});
    r.append(el("svg:title", {}, `${(i / bins.length).toFixed(2)}–${((i + 1) / bins.length).toFixed(2)}: ${n}`));
    svg.append(r);
  });
}
function calibration(svg, curves) {
  svg.replaceChildren();
  const w = +svg.getAttribute("width"), h = +svg.getAttribute("height"), pad = 30;
  axes(svg, w, h, pad, "uncertainty", "P(error)");
  const x = u => pad + u * (w - pad - 12), y = p => h - pad - p * (h - pad - 12);
  svg.append(el("svg:line", {x1: x(0), y1: y(0), x2: x(1), y2: y(1), stroke: "#bbb", "stroke-dasharray": "4 3"}));
  const colours = {expression: "#d9534f", va: "#5cb85c", au: "#f0ad4e", overall: "#4a78b5"};
  let legend = 0, trusted = [];
  for (const [name, c] of Object.entries(curves)) {
    if (c.trusted) trusted.push(name);
    const d = c.points.map(([u, p], i) => `${i ? "L" : "M"}${x(u).toFixed(1)},${y(p).toFixed(1)}`).join(" ");
    svg.append(el("svg:path", {class: "curve", d, fill: "none", stroke: colours[name] || "#333", "stroke-width": 2,
                               "stroke-dasharray": c.trusted ? "" : "2 3"}));
    svg.append(el("svg:text", {x: pad + 8, y: 20 + 14 * legend++, fill: colours[name] || "#333", "font-size": 11},
                  `${name}${c.trusted ? "" : " (not fitted: identity)"} · ${c.examples} reviews`));
  }
  document.getElementById("calibration-note").textContent = trusted.length
    ? "Fitted from reviews: " + trusted.join(", ") + "." : "No fit yet: uncertainty ranks as it is (dashed identity).";
}
function queue(table, items) {
  const body = table.querySelector("tbody");
  body.replaceChildren();
  if (!items.length) {
    const tr = el("tr");
    tr.append(el("td", {colspan: 7, class: "muted"}, "Nothing waiting for review."));
    body.append(tr);
  }
  for (const item of items) {
    const tr = el("tr", {class: "queue-item"});
    const img = el("img", {class: "thumb", alt: item.face_id, src: url("ui/thumbnail?face=" + encodeURIComponent(item.face_id))});
    const cell = el("td");
    cell.append(img);
    const l = item.labels || {};
    const labels = [l.expression, l.valence !== undefined ? `V ${fmt(l.valence, 2)} A ${fmt(l.arousal, 2)}` : "",
                    (l.action_units || []).join(" ")].filter(Boolean).join(" · ");
    const p = el("td", {class: "num"});
    p.append(el("span", {class: "bar", style: `width:${Math.round(60 * item.error_probability)}px`}), " " + fmt(item.error_probability));
    tr.append(cell, el("td", {}, item.face_id), el("td", {}, labels), p,
              el("td", {class: "num"}, fmt(item.level_error.expression)), el("td", {class: "num"}, fmt(item.level_error.va)),
              el("td", {class: "num"}, fmt(item.level_error.au)));
    body.append(tr);
  }
}
function projects(table, items) {
  const body = table.querySelector("tbody");
  body.replaceChildren();
  if (!items.length) {
    const tr = el("tr");
    tr.append(el("td", {colspan: 5, class: "muted"}, "No Label Studio project has been set up yet."));
    body.append(tr);
  }
  for (const p of items) {
    const filled = (p.filled || []).map(c => `${c.name} → ${c.level}`).join(", ") || "nothing";
    const gaps = [...(p.unfilled || []).map(c => [c.name + " (" + c.type + ")", c.reason, c.option || ""]),
                  ...(p.problems || []).map(text => ["", text, ""])];
    if (!gaps.length) gaps.push(["", "every control is filled", ""]);
    gaps.forEach(([control, reason, option], i) => {
      const tr = el("tr", {class: "project-control"});
      tr.append(el("td", {}, i ? "" : p.project + (p.usable ? "" : " (unusable)")), el("td", {}, i ? "" : filled),
                el("td", {}, control), el("td", {}, reason), el("td", {}, option));
      body.append(tr);
    });
  }
}
function feab(div, feab) {
  if (!feab) return;
  div.replaceChildren();
  div.className = "";
  const r = feab.report || {};
  const o = r.overall || r;
  const pairs = [];
  const walk = (prefix, v) => {
    if (typeof v === "number") pairs.push([prefix, v]);
    else if (v && typeof v === "object" && !Array.isArray(v) && pairs.length < 40)
      for (const [k, x] of Object.entries(v)) if (!/confusion|per_au|points|bins|problems|skipped/.test(k)) walk(prefix ? prefix + "." + k : k, x);
  };
  walk("", o);
  div.append(el("div", {class: "muted"}, `${feab.name || "report"} · ${feab.created_at}`));
  const t = el("table", {id: "feab-table"});
  const body = el("tbody");
  for (const [k, v] of pairs) {
    const tr = el("tr");
    tr.append(el("td", {}, k), el("td", {class: "num"}, fmt(v, 4)));
    body.append(tr);
  }
  t.append(body);
  div.append(t);
}
async function load() {
  try {
    const response = await fetch(url("ui/data"), {credentials: "same-origin"});
    if (!response.ok) throw new Error("ui/data answered " + response.status);
    const data = await response.json();
    document.getElementById("version").textContent = "model " + data.model_version;
    document.getElementById("fitted").textContent = data.fitted_at ? `fitted ${data.fitted_at} from ${data.reviews} reviews` : "not fitted";
    rows(document.getElementById("status"), Object.entries(data.status || {}));
    rows(document.getElementById("cost"), Object.entries(data.cost || {}));
    histogram(document.getElementById("histogram"), data.histogram || []);
    calibration(document.getElementById("calibration"), data.calibration || {});
    queue(document.getElementById("queue"), data.queue || []);
    projects(document.getElementById("projects"), data.projects || []);
    feab(document.getElementById("feab"), data.feab);
    document.body.setAttribute("data-loaded", "yes");
  } catch (e) {
    document.getElementById("error").textContent = "Could not load: " + e.message;
    document.body.setAttribute("data-loaded", "error");
  }
}
load();
setInterval(load, 30000);
</script>
</body>
</html>
)html";
}

}  // namespace seke
