// flopscope's live charts, drawn from the formulas the page carries (`fs-data`) at the dims'
// current values and drawn again whenever a dim moves: the heaviest modules' bars, the module
// icicle (click to zoom, the path to zoom out), live activation memory along the execution
// order with its peak, and the sweep of a total along one dim for a few values of another.
"use strict";
(function (fs) {
  const data = fs.data;
  const NS = "http://www.w3.org/2000/svg";
  const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif";

  function svg(width, height, label) {
    const s = document.createElementNS(NS, "svg");
    for (const [k, v] of Object.entries({ width, height, viewBox: `0 0 ${width} ${height}`,
      role: "img", "aria-label": label, "font-family": FONT, "font-size": 12 })) s.setAttribute(k, v);
    return s;
  }
  function add(parent, tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    parent.appendChild(e);
    return e;
  }
  function title(parent, text) { add(parent, "title", {}, text); }
  const pct = (part, whole) => (whole === 0n ? 0 : Number(part) / Number(whole) * 100);
  // Chart widths follow their boxes. Read once and on resize, never while drawing: reading a
  // layout value after the cells changed would lay the whole page out again on every update.
  const widths = new Map();
  function measure() {
    for (const id of ["icicle", "icicle-old", "icicle-new", "memory-chart", "sweep-chart"]) {
      const el = document.getElementById(id);
      if (el) widths.set(id, el.clientWidth);
    }
  }
  const width = (el, fallback) => Math.max(480, Math.min(widths.get(el.id) || fallback, 1600) - 18);
  // Text cut to fit `px` pixels at 12 px (about 6.6 px a character).
  function fit(text, px) {
    const n = Math.floor(px / 6.6);
    return n >= text.length ? text : n < 4 ? "" : text.slice(0, n - 1) + "…";
  }

  // ---- the heaviest modules: the bars the report chose, re-weighed and re-sorted -------------
  // The chart is Rust's (html.rs `chart_svg`) at the controls' start values; each bar carries
  // its formula (`data-bar`), and moves to its rank with its width and figures updated.
  let barColours = null;
  function drawBars() {
    const box = document.getElementById("live-chart");
    const chart = box && box.querySelector("svg");
    if (!chart) return;
    document.getElementById("static-chart").hidden = true;
    box.hidden = false;
    const unit = chart.dataset.unit, total = fs.f(chart.dataset.total);
    const barW = Number(chart.dataset.barw), row = Number(chart.dataset.row);
    const bars = Array.from(chart.querySelectorAll("g[data-bar]"), (g, i) => {
      if (g.dataset.slot === undefined) g.dataset.slot = i;
      return { g, slot: Number(g.dataset.slot), v: fs.f(g.dataset.bar) };
    });
    if (!barColours) {
      // The heaviest bar's colour and the others', as Rust drew them.
      const fill = (slot) => bars.find((b) => b.slot === slot).g.querySelector("rect").getAttribute("fill");
      barColours = [fill(0), bars.length > 1 ? fill(1) : fill(0)];
    }
    bars.sort((a, b) => fs.cmp(b.v, a.v) || a.slot - b.slot);
    const max = bars[0].v > 0n ? bars[0].v : 1n;
    bars.forEach((b, rank) => {
      const [title, label, rect, value] = b.g.children;
      const w = Math.max(1, Number(b.v) / Number(max) * barW);
      const share = pct(b.v, total).toFixed(2);
      b.g.setAttribute("transform", `translate(0 ${(rank - b.slot) * row})`);
      b.g.dataset.v = b.v.toString();
      rect.setAttribute("width", w.toFixed(1));
      rect.setAttribute("fill", barColours[rank === 0 ? 0 : 1]);
      value.setAttribute("x", (Number(rect.getAttribute("x")) + w + 6).toFixed(1));
      value.textContent = `${fs.human(b.v, unit)} · ${share}%`;
      title.textContent = `${label.textContent}: ${fs.exact(b.v)} ${unit} (${share}%)`;
      chart.appendChild(b.g);
    });
  }

  // ---- the module icicles --------------------------------------------------------------------
  // One per report (two side by side on a diff page), all zoomed to the same module path.
  const METRICS = [["macs", "MACs", "MACs", 2], ["flops", "FLOPs", "FLOPs", 3],
    ["params", "params", "", 4], ["bytes", "memory traffic", "B", 5]];
  const PALETTE = ["#3b82f6", "#10b981", "#f59e0b", "#8b5cf6", "#ef4444", "#06b6d4", "#84cc16",
    "#ec4899", "#6366f1", "#14b8a6"];
  // Each tree from its preorder rows: a module's parent is the last module one level up. Its
  // key is its path below the model, scopes joined by `/`.
  const icicles = (data.icicles || []).map((ic) => {
    const mods = ic.tree.map((r, i) => ({ i, name: r[0], depth: r[1], row: r, kids: [], parent: null, key: "" }));
    const stack = [];
    for (const m of mods) {
      stack.length = m.depth;
      if (m.depth > 0) {
        m.parent = stack[m.depth - 1];
        m.parent.kids.push(m);
        m.key = m.parent.key ? m.parent.key + "/" + m.name : m.name;
      }
      stack.push(m);
    }
    return Object.assign({}, ic, { mods, byKey: new Map(mods.map((m) => [m.key, m])) });
  });
  const path = (m) => { const p = []; for (let a = m; a; a = a.parent) p.unshift(a); return p; };
  // The module at the zoom path, or its nearest ancestor this tree has.
  function zoomed(ic) {
    let key = fs.view.zoom || "";
    while (key && !ic.byKey.has(key)) key = key.includes("/") ? key.slice(0, key.lastIndexOf("/")) : "";
    return ic.byKey.get(key) || ic.mods[0];
  }
  function zoomTo(m) {
    fs.view.zoom = m.key || undefined;
    drawIcicles();
    fs.save();
  }
  function metric() {
    const select = document.getElementById("icicle-by");
    if (select.options.length === 0) {
      select.replaceChildren(...METRICS.map(([key, label]) => new Option(label, key)));
      select.value = METRICS.some(([k]) => k === fs.view.by) ? fs.view.by : (data.metric || "macs");
      select.addEventListener("change", () => { fs.view.by = select.value; drawIcicles(); fs.save(); });
    }
    return METRICS.find(([k]) => k === select.value);
  }
  function drawIcicles() {
    if (icicles.length === 0) return;
    const [key, label, unit, col] = metric();
    fs.view.by = key === (data.metric || "macs") ? undefined : key;
    // The path back up, from the first tree: each name zooms out to it (built again only
    // when the zoom moves).
    const crumbs = document.getElementById("crumbs");
    const at = zoomed(icicles[0]);
    if (crumbs.dataset.key === at.key) {
      for (const ic of icicles) drawIcicle(ic, label, unit, col);
      return;
    }
    crumbs.dataset.key = at.key;
    crumbs.replaceChildren();
    path(at).forEach((m, k, all) => {
      if (k > 0) crumbs.append(" › ");
      if (k === all.length - 1) { const b = document.createElement("b"); b.textContent = m.name; crumbs.append(b); return; }
      const a = document.createElement("a");
      a.href = "#"; a.textContent = m.name; a.dataset.key = m.key;
      a.addEventListener("click", (e) => { e.preventDefault(); zoomTo(m); });
      crumbs.append(a);
    });
    for (const ic of icicles) drawIcicle(ic, label, unit, col);
  }
  function drawIcicle(ic, label, unit, col) {
    const box = document.getElementById(ic.id);
    if (!box) return;
    const zoom = zoomed(ic);
    const v = (m) => fs.f(m.row[col]);
    const rootV = v(zoom), modelV = v(ic.mods[0]);
    const W = width(box, 1200), ROW = 26, LEVELS = 7;
    const rects = [];
    (function layout(m, x, w, level, hue) {
      rects.push({ m, x, w, level, hue });
      if (level + 1 >= LEVELS) return;
      const whole = v(m);
      if (whole <= 0n) return;
      let at = x;
      m.kids.forEach((k, n) => {
        const kw = w * Number(v(k)) / Number(whole);
        if (kw >= 1) layout(k, at, kw, level + 1, level === 0 ? n : hue);
        at += kw;
      });
    })(zoom, 0, W, 0, 0);
    const levels = rects.reduce((l, r) => Math.max(l, r.level + 1), 1);
    const s = svg(W, levels * ROW + 2, `modules by ${label}`);
    // Side by side, a module the other side lacks, or weighs differently, is outlined.
    const other = icicles.find((o) => o !== ic);
    const differs = (m) => {
      if (!other) return false;
      const o = other.byKey.get(m.key);
      return !o || fs.f(o.row[col]) !== v(m);
    };
    for (const r of rects) {
      const value = v(r.m);
      const g = add(s, "g", { "data-key": r.m.key, "data-v": value.toString(), style: "cursor:pointer" });
      title(g, `${path(r.m).map((m) => m.name).join(" / ")}: ${fs.exact(value)}${unit ? " " + unit : ""}` +
        ` (${pct(value, rootV).toFixed(2)}% of ${zoom.name}, ${pct(value, modelV).toFixed(2)}% of the model)`);
      add(g, "rect", { x: r.x.toFixed(1), y: r.level * ROW + 1, width: Math.max(0.5, r.w - 1).toFixed(1),
        height: ROW - 2, rx: 2, fill: r.level === 0 ? "#9ca3af" : PALETTE[r.hue % PALETTE.length],
        "fill-opacity": r.level === 0 ? 1 : Math.max(0.35, 1 - 0.12 * (r.level - 1)) });
      if (differs(r.m)) {
        g.dataset.changed = "1";
        add(g, "rect", { x: (r.x + 1).toFixed(1), y: r.level * ROW + 2, width: Math.max(0.5, r.w - 3).toFixed(1),
          height: ROW - 4, rx: 2, fill: "none", stroke: "#d97706", "stroke-width": 2 });
      }
      const text = fit(`${r.m.name} ${fs.human(value, unit)}`, r.w - 8);
      if (text) add(g, "text", { x: (r.x + 4).toFixed(1), y: r.level * ROW + 18, fill: "#111827" }, text);
      // A click zooms in; on the zoomed module itself, it zooms out a level.
      g.addEventListener("click", () => zoomTo(r.m === zoom && zoom.parent ? zoom.parent : r.m));
    }
    box.replaceChildren(s);
  }

  // ---- live activation memory along the execution order --------------------------------------
  function drawMemory() {
    const box = document.getElementById("memory-chart");
    const mem = data.memory;
    if (!box || !mem || mem.live.length === 0) return;
    const steps = mem.live.map((i) => fs.f(i));
    let peak = 0;
    steps.forEach((s, i) => { if (s > steps[peak]) peak = i; });
    const max = steps[peak] > 0n ? steps[peak] : 1n;
    // The page's peak figures are this one: every step's largest at the current dims.
    if (data.free.length > 0) {
      for (const el of document.querySelectorAll("[data-peak]")) {
        if (el.dataset.peak === "node") el.textContent = "at " + mem.names[peak];
        else fs.show(el, steps[peak]);
      }
    }
    const W = width(box, 1200), H = 220, L = 70, T = 16, B = 28, R = 16;
    const x = (i) => L + (steps.length === 1 ? 0 : i / (steps.length - 1)) * (W - L - R);
    const y = (v) => T + (1 - Number(v) / Number(max)) * (H - T - B);
    const s = svg(W, H, "live activation memory along the execution order");
    add(s, "rect", { width: W, height: H, fill: "#ffffff" });
    for (const f of [0, 0.5, 1]) {
      const v = BigInt(Math.round(Number(max) * f));
      add(s, "line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#e5e7eb" });
      add(s, "text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", fill: "#6b7280" }, fs.human(v, "B"));
    }
    let d = `M${x(0).toFixed(1)},${y(0n).toFixed(1)}`;
    steps.forEach((v, i) => { d += `L${x(i).toFixed(1)},${y(v).toFixed(1)}`; });
    d += `L${x(steps.length - 1).toFixed(1)},${y(0n).toFixed(1)}Z`;
    add(s, "path", { d, fill: "#bfdbfe", stroke: "#3b82f6", "stroke-width": 1 });
    add(s, "text", { x: L, y: H - 8, fill: "#6b7280" }, "first node");
    add(s, "text", { x: W - R, y: H - 8, "text-anchor": "end", fill: "#6b7280" }, `node ${steps.length}`);
    const g = add(s, "g", { id: "memory-peak", "data-v": steps[peak].toString(), "data-step": peak });
    add(g, "circle", { cx: x(peak), cy: y(steps[peak]), r: 4, fill: "#d97706" });
    const right = x(peak) > W / 2;
    add(g, "text", { x: x(peak) + (right ? -8 : 8), y: Math.max(T + 10, y(steps[peak]) + 4),
      "text-anchor": right ? "end" : "start", "font-weight": 600, fill: "#92400e" },
      `peak ${fs.human(steps[peak], "B")} at ${mem.names[peak]}`);
    const cursor = add(s, "line", { y1: T, y2: H - B, stroke: "#6b7280", "stroke-dasharray": "3 3", visibility: "hidden" });
    const at = document.getElementById("memory-at");
    const show = (i) => {
      at.textContent = `node ${i + 1} of ${steps.length}, ${mem.names[i]}: ${fs.exact(steps[i])} B live` +
        (i === peak ? " (the peak)" : "");
    };
    show(peak);
    s.addEventListener("mousemove", (e) => {
      const r = s.getBoundingClientRect();
      const i = Math.round((e.clientX - r.left - L) / (W - L - R) * (steps.length - 1));
      if (i < 0 || i >= steps.length) return;
      cursor.setAttribute("x1", x(i)); cursor.setAttribute("x2", x(i));
      cursor.setAttribute("visibility", "visible");
      show(i);
    });
    s.addEventListener("mouseleave", () => { cursor.setAttribute("visibility", "hidden"); show(peak); });
    box.replaceChildren(s);
  }

  // ---- the op graph --------------------------------------------------------------------------
  // Laid out in Rust (layout.rs): drawn once, then only recoloured as the dims move.
  const GRAPH_BY = [["macs", "MACs", "MACs", 4], ["flops", "FLOPs", "FLOPs", 5], ["bytes", "memory traffic", "B", 6]];
  let graph = null;
  // From pale blue (nothing) to amber (the heaviest node), on a square-root scale so that
  // light nodes stay visible beside a heavy one.
  function heat(share) {
    const t = Math.sqrt(Math.max(0, Math.min(1, share)));
    const mix = (a, b) => Math.round(a + (b - a) * t);
    return `rgb(${mix(239, 217)},${mix(246, 119)},${mix(255, 6)})`;
  }
  function buildGraph() {
    const g = data.graph, box = document.getElementById("graph-chart");
    const select = document.getElementById("graph-by");
    select.replaceChildren(...GRAPH_BY.map(([key, label]) => new Option(label, key)));
    select.addEventListener("change", drawGraph);
    const BW = 120, BH = 20, DX = 136, DY = 38, PAD = 8;
    const W = Math.max(g.width, 1) * DX + 2 * PAD, H = Math.max(g.layers, 1) * DY + 2 * PAD;
    // Each layer centred.
    const counts = new Map();
    for (const n of g.nodes) counts.set(n[1], Math.max(counts.get(n[1]) || 0, n[2] + 1));
    const at = (n) => [PAD + (g.width - counts.get(n[1])) * DX / 2 + n[2] * DX, PAD + n[1] * DY];
    const s = svg(W, H, "op graph");
    const edges = add(s, "g", { stroke: "#9ca3af", fill: "none" });
    for (const [a, b] of g.edges) {
      const [x1, y1] = at(g.nodes[a]), [x2, y2] = at(g.nodes[b]);
      if (x1 === x2 && y2 - y1 > DY) {
        // A skip over nodes in the same column: an arc on the right, not a line through them.
        const bulge = x1 + BW + Math.min(DX - BW, 12 + 2 * (y2 - y1) / DY);
        add(edges, "path", { d: `M${x1 + BW},${y1 + BH / 2}C${bulge},${y1 + BH / 2} ${bulge},${y2 + BH / 2} ${x2 + BW},${y2 + BH / 2}` });
        continue;
      }
      const xa = x1 + BW / 2, ya = y1 + BH, xb = x2 + BW / 2, yb = y2;
      const mid = (ya + yb) / 2;
      add(edges, "path", { d: `M${xa},${ya}C${xa},${mid} ${xb},${mid} ${xb},${yb}` });
    }
    const cells = g.nodes.map((n, k) => {
      const [x, y] = at(n);
      const name = data.memory.names[n[0]];
      const el = add(s, "g", { "data-node": name, "data-k": k, style: "cursor:pointer" });
      const tip = add(el, "title", {}, "");
      const rect = add(el, "rect", { x, y, width: BW, height: BH, rx: 4,
        stroke: n[7] ? "#6b7280" : "#dc2626", "stroke-width": n[7] ? 0.5 : 2,
        "stroke-dasharray": n[7] ? "" : "3 2" });
      add(el, "text", { x: x + 6, y: y + 14, fill: "#111827", "font-size": 11 }, fit(n[3], BW - 10));
      el.addEventListener("click", () => {
        // Find it in the layer table: filter by its name, and go there.
        const filter = document.querySelector("input.filter");
        if (!filter) return;
        filter.value = name;
        filter.dispatchEvent(new Event("input"));
        filter.scrollIntoView({ block: "start" });
      });
      return { n, name, el, tip, rect };
    });
    box.replaceChildren(s);
    return { cells };
  }
  function drawGraph() {
    if (!data.graph || data.graph.nodes.length === 0 || !document.getElementById("graph-chart")) return;
    if (!graph) graph = buildGraph();
    const [, label, unit, col] = GRAPH_BY.find(([k]) => k === document.getElementById("graph-by").value);
    const values = graph.cells.map((c) => fs.f(c.n[col]));
    const max = values.reduce((m, v) => (v > m ? v : m), 0n);
    const total = values.reduce((t, v) => t + v, 0n);
    graph.cells.forEach((c, k) => {
      const v = values[k];
      c.rect.setAttribute("fill", heat(max > 0n ? Number(v) / Number(max) : 0));
      c.el.dataset.v = v.toString();
      c.tip.textContent = `${c.name} (${c.n[3]}): ${fs.exact(v)}${unit ? " " + unit : ""}` +
        ` (${pct(v, total).toFixed(2)}% of the graph's ${label})` + (c.n[7] ? "" : ", not counted");
    });
  }

  // ---- the sweep -----------------------------------------------------------------------------
  // Each dim's kind and sweep defaults come with the page (live.rs, `DimKind`).
  const dimOf = (name) => data.free.find((d) => d.name === name);
  function sweepAxes() {
    // Each free dim, and height and width together when both are free.
    const axes = data.free.map((d) => [d.name, [d.name]]);
    const h = data.free.find((d) => d.kind === "height"), w = data.free.find((d) => d.kind === "width");
    if (h && w) axes.unshift([`${h.name} = ${w.name}`, [h.name, w.name]]);
    return axes;
  }
  function setupSweep() {
    const total = document.getElementById("sweep-total");
    if (!total) return false;
    if (total.options.length > 0) return true;
    data.totals.forEach(([label], i) => total.add(new Option(label, i)));
    const axes = sweepAxes();
    const xs = document.getElementById("sweep-x"), series = document.getElementById("sweep-series");
    axes.forEach(([label]) => xs.add(new Option(label, label)));
    const fill = () => {
      const taken = axes.find(([l]) => l === xs.value)[1];
      const keep = series.value;
      series.replaceChildren(new Option("(none)", ""));
      axes.filter(([, ns]) => !ns.some((n) => taken.includes(n))).forEach(([l]) => series.add(new Option(l, l)));
      // Keep the series the user chose if it still applies, else the first one there is.
      const kept = keep !== "" && [...series.options].some((o) => o.value === keep);
      series.value = kept ? keep : (series.options[1] ? series.options[1].value : "");
      const along = dimOf(taken[0]);
      document.getElementById("sweep-from").value = along.sweep[0];
      document.getElementById("sweep-to").value = along.sweep[1];
      seriesDefaults();
    };
    // The series' default values: those of its (first) dim.
    const seriesDefaults = () => {
      const axis = axes.find(([l]) => l === series.value);
      document.getElementById("sweep-values").value = axis ? dimOf(axis[1][0]).series.join(", ") : "";
    };
    // A count (the batch) along x and the image size as the series when there are both.
    const count = axes.find(([, ns]) => dimOf(ns[0]).kind === "count");
    xs.value = (count || axes[0])[0];
    fill();
    xs.addEventListener("change", () => { fill(); drawSweep(); });
    series.addEventListener("change", () => { seriesDefaults(); drawSweep(); });
    for (const id of ["sweep-total", "sweep-from", "sweep-to", "sweep-values"]) {
      document.getElementById(id).addEventListener("change", drawSweep);
    }
    return true;
  }
  function drawSweep() {
    if (!setupSweep()) return;
    const axes = sweepAxes();
    const [label, unit, formula] = data.totals[Number(document.getElementById("sweep-total").value)];
    const xAxis = axes.find(([l]) => l === document.getElementById("sweep-x").value);
    const sLabel = document.getElementById("sweep-series").value;
    const sAxis = axes.find(([l]) => l === sLabel);
    let from = Math.max(0, parseInt(document.getElementById("sweep-from").value, 10) || 0);
    let to = Math.max(0, parseInt(document.getElementById("sweep-to").value, 10) || 0);
    if (to < from) [from, to] = [to, from];
    const xsV = [...new Set(Array.from({ length: 25 }, (_, k) => Math.round(from + (to - from) * k / 24)))];
    const seriesV = sAxis ? document.getElementById("sweep-values").value.split(/[ ,]+/)
      .filter((t) => /^\d+$/.test(t)).map(Number) : [null];
    const lines = seriesV.map((sv) => ({
      sv,
      pts: xsV.map((xv) => {
        const at = Object.assign({}, fs.env);
        for (const n of xAxis[1]) at[n] = BigInt(xv);
        if (sAxis && sv !== null) for (const n of sAxis[1]) at[n] = BigInt(sv);
        try { return [xv, fs.at(formula, at)]; } catch (e) { return [xv, null]; }
      }).filter(([, v]) => v !== null),
    }));
    const box = document.getElementById("sweep-chart");
    const W = Math.min(width(box, 980), 980), H = 340, L = 110, R = 200, T = 20, B = 44;
    let max = 1n;
    for (const l of lines) for (const [, v] of l.pts) if (v > max) max = v;
    const x = (xv) => L + (to === from ? 0 : (xv - from) / (to - from)) * (W - L - R);
    const y = (v) => T + (1 - Number(v) / Number(max)) * (H - T - B);
    const s = svg(W, H, `${label} along ${xAxis[0]}`);
    add(s, "rect", { width: W, height: H, fill: "#ffffff" });
    for (let k = 0; k <= 4; k++) {
      const v = BigInt(Math.round(Number(max) * k / 4));
      add(s, "line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#e5e7eb" });
      add(s, "text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", fill: "#6b7280" }, fs.human(v, unit));
    }
    for (let k = 0; k <= 4; k++) {
      const xv = Math.round(from + (to - from) * k / 4);
      add(s, "text", { x: x(xv), y: H - B + 16, "text-anchor": "middle", fill: "#6b7280" }, String(xv));
    }
    add(s, "text", { x: (L + W - R) / 2, y: H - 8, "text-anchor": "middle", fill: "#374151" }, xAxis[0]);
    lines.forEach((l, n) => {
      const color = PALETTE[n % PALETTE.length];
      const name = sAxis && l.sv !== null ? `${sAxis[0]} = ${l.sv}` : label;
      const g = add(s, "g", { "data-series": l.sv === null ? "" : l.sv });
      if (l.pts.length > 0) {
        add(g, "polyline", { points: l.pts.map(([xv, v]) => `${x(xv).toFixed(1)},${y(v).toFixed(1)}`).join(" "),
          fill: "none", stroke: color, "stroke-width": 2 });
      }
      for (const [xv, v] of l.pts) {
        const c = add(g, "circle", { cx: x(xv).toFixed(1), cy: y(v).toFixed(1), r: 3, fill: color,
          "data-x": xv, "data-v": v.toString() });
        title(c, `${name}, ${xAxis[0]} = ${xv}: ${fs.exact(v)}${unit ? " " + unit : ""}`);
      }
      add(s, "text", { x: W - R + 10, y: T + 14 + n * 18, fill: color, "font-weight": 600 }, name);
    });
    box.replaceChildren(s);
  }

  fs.drawers.push(drawBars, drawIcicles, drawMemory, drawGraph, drawSweep);
  let resize;
  window.addEventListener("resize", () => {
    clearTimeout(resize);
    resize = setTimeout(() => { measure(); fs.update(); }, 150);
  });
  measure();
  fs.update();
})(window.flopscope);
