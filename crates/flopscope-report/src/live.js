// flopscope's live report: every figure marked with its formula (`data-f`, an index into the
// page's table of formulas) is evaluated again when a dim's control moves. Exact: the formulas are evaluated over rationals of BigInts (the
// report's expression syntax: integers, dims, + - * /, parentheses, floor, ceil, min, max), so
// the integers shown are the Rust evaluator's. The dims' values live in the URL fragment
// (#batch=32&height=320), so a link shares a view.
"use strict";
(function () {
  // ---- exact rationals ----------------------------------------------------------------------
  function gcd(a, b) {
    if (a < 0n) a = -a;
    while (b) { const t = a % b; a = b; b = t; }
    return a || 1n;
  }
  function rat(n, d) {
    if (d === undefined) d = 1n;
    if (d === 0n) throw new Error("division by zero");
    if (d < 0n) { n = -n; d = -d; }
    const g = gcd(n, d);
    return g === 1n ? { n, d } : { n: n / g, d: d / g };
  }
  const ops = {
    "+": (a, b) => rat(a.n * b.d + b.n * a.d, a.d * b.d),
    "-": (a, b) => rat(a.n * b.d - b.n * a.d, a.d * b.d),
    "*": (a, b) => rat(a.n * b.n, a.d * b.d),
    "/": (a, b) => rat(a.n * b.d, a.d * b.n),
  };
  function floorOf(a) {
    let q = a.n / a.d;
    if (a.n % a.d !== 0n && a.n < 0n) q -= 1n;
    return q;
  }
  function cmp(a, b) {
    const x = a.n * b.d, y = b.n * a.d;
    return x < y ? -1 : x > y ? 1 : 0;
  }

  // ---- parsing: text → a tree evaluated many times -------------------------------------------
  function parse(text) {
    const toks = text.match(/\d+|[A-Za-z_][A-Za-z0-9_.]*|[-+*/(),]/g) || [];
    let i = 0;
    const peek = () => toks[i];
    const next = () => toks[i++];
    function expr() {
      let v = term();
      while (peek() === "+" || peek() === "-") { const o = next(); v = [o, v, term()]; }
      return v;
    }
    function term() {
      let v = unary();
      while (peek() === "*" || peek() === "/") { const o = next(); v = [o, v, unary()]; }
      return v;
    }
    function unary() {
      if (peek() === "-") { next(); return ["-", ["n", rat(0n)], unary()]; }
      const t = next();
      if (t === undefined) throw new Error("unexpected end of " + text);
      if (t === "(") { const v = expr(); next(); return v; }
      if (/^\d/.test(t)) return ["n", rat(BigInt(t))];
      if (peek() === "(" && ["floor", "ceil", "min", "max"].includes(t)) {
        next();
        const args = [expr()];
        while (peek() === ",") { next(); args.push(expr()); }
        next();
        return ["f", t, args];
      }
      return ["s", t];
    }
    const tree = expr();
    if (i !== toks.length) throw new Error("cannot read " + text);
    return tree;
  }
  function evaluate(tree, env) {
    switch (tree[0]) {
      case "n": return tree[1];
      case "s": {
        const v = env[tree[1]];
        if (v === undefined) throw new Error("unbound " + tree[1]);
        return rat(v);
      }
      case "f": {
        const args = tree[2].map((a) => evaluate(a, env));
        switch (tree[1]) {
          case "floor": return rat(floorOf(args[0]));
          case "ceil": return rat(-floorOf(rat(-args[0].n, args[0].d)));
          case "min": return args.reduce((a, b) => (cmp(a, b) <= 0 ? a : b));
          default: return args.reduce((a, b) => (cmp(a, b) >= 0 ? a : b));
        }
      }
      default: return ops[tree[0]](evaluate(tree[1], env), evaluate(tree[2], env));
    }
  }
  const cache = new Map();
  function value(text, env) {
    let tree = cache.get(text);
    if (!tree) { tree = parse(text); cache.set(text, tree); }
    const r = evaluate(tree, env);
    return r.d === 1n ? r.n : floorOf(r);
  }
  // Values at the current dims, each formula evaluated once per update (pages repeat them).
  let memo = new Map();
  function current(text) {
    let v = memo.get(text);
    if (v === undefined) { v = value(text, env); memo.set(text, v); }
    return v;
  }

  // ---- formatting, as the Rust report does ---------------------------------------------------
  function exact(v) {
    const s = (v < 0n ? -v : v).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (v < 0n ? "-" : "") + s;
  }
  const prefixes = [[10n ** 15n, "P"], [10n ** 12n, "T"], [10n ** 9n, "G"], [10n ** 6n, "M"], [10n ** 3n, "K"]];
  function human(v, unit) {
    const abs = v < 0n ? -v : v;
    for (const [scale, p] of prefixes) {
      if (abs >= scale) {
        // Two decimals, rounded half to even as Rust's formatting of the f64 quotient.
        const x = Number(v) / Number(scale);
        return x.toFixed(2) + " " + p + unit;
      }
    }
    return v.toString() + (unit ? " " + unit : "");
  }

  // ---- tables: sort by a column, filter by text -----------------------------------------------
  // A cell's number: its exact value once evaluated (data-v), else its text read back
  // (`300.77 M`, `12.34%`, `1,024`); text that is no number sorts as text.
  const scale = { K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15 };
  function cellKey(td) {
    if (td.dataset.v !== undefined) return Number(td.dataset.v);
    const m = td.textContent.trim().replace(/^≥ /, "").match(/^(-?[\d,]+(?:\.\d+)?)\s*([KMGTP])?/);
    if (!m) return null;
    return parseFloat(m[1].replace(/,/g, "")) * (m[2] ? scale[m[2]] : 1);
  }
  function sortTable(table, col, descending) {
    const body = table.tBodies[0];
    const rows = Array.from(body.rows).map((r, i) => [r, i]);
    rows.sort(([a, ia], [b, ib]) => {
      const x = cellKey(a.cells[col]), y = cellKey(b.cells[col]);
      let c;
      if (x !== null && y !== null) c = x - y;
      else c = a.cells[col].textContent.localeCompare(b.cells[col].textContent);
      return (descending ? -c : c) || ia - ib;
    });
    for (const [r] of rows) body.appendChild(r);
  }
  function filterTable(table, text) {
    const needle = text.trim().toLowerCase();
    for (const r of table.tBodies[0].rows) {
      const hay = (r.cells[1] ? r.cells[1].textContent : r.textContent).toLowerCase();
      r.hidden = needle !== "" && !hay.includes(needle);
    }
  }
  for (const table of document.querySelectorAll("table.sortable")) {
    Array.from(table.tHead.rows[0].cells).forEach((th, col) => {
      th.title = "sort";
      th.style.cursor = "pointer";
      th.addEventListener("click", () => {
        const descending = th.dataset.sorted !== "desc";
        for (const other of table.tHead.rows[0].cells) delete other.dataset.sorted;
        th.dataset.sorted = descending ? "desc" : "asc";
        sortTable(table, col, descending);
      });
    });
    const box = document.createElement("input");
    box.type = "search";
    box.placeholder = "filter by layer name or op type";
    box.className = "filter";
    box.addEventListener("input", () => filterTable(table, box.value));
    table.parentNode.parentNode.insertBefore(box, table.parentNode);
  }

  // ---- the page ------------------------------------------------------------------------------
  const data = JSON.parse(document.getElementById("fs-data").textContent);
  const env = {};
  // View state the charts keep in the fragment beside the dims (`zoom`, `by`).
  const view = {};
  function readFragment() {
    const out = {};
    for (const part of location.hash.replace(/^#/, "").split("&")) {
      const [k, v] = part.split("=");
      // A key without a value is an anchor (`#layers`).
      if (k) out[decodeURIComponent(k)] = v === undefined ? "" : decodeURIComponent(v);
    }
    return out;
  }
  function save() {
    const parts = data.free.map((d) => encodeURIComponent(d.name) + "=" + env[d.name]);
    for (const [k, v] of Object.entries(view).sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (v !== undefined && v !== null && v !== "") parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(v));
    }
    if (parts.length === 0) return;
    try {
      history.replaceState(null, "", "#" + parts.join("&"));
    } catch (e) {
      // A page that cannot change its address (sandboxed frames) still works, unshared.
    }
  }
  // A cell's value as its attributes say: `data-u` unit, `data-h` SI prefix, `data-s` sign,
  // `data-p` prefix. Unchanged text is not written again.
  function show(el, v) {
    const unit = el.dataset.u || "";
    const text = (el.dataset.p || "") + (el.dataset.s && v > 0n ? "+" : "") +
      (el.dataset.h ? human(v, unit) : exact(v) + (unit ? " " + unit : ""));
    el.dataset.v = v.toString();
    if (el.textContent !== text) el.textContent = text;
  }
  // Drawers the charts register: called after the cells on every update.
  const drawers = [];
  function update() {
    const t0 = performance.now();
    memo = new Map();
    for (const el of document.querySelectorAll("[data-f]")) {
      try {
        const v = current(data.f[el.dataset.f]);
        if (el.dataset.w === undefined) {
          show(el, v);
          continue;
        }
        // A share: part / whole as a percentage with two decimals.
        const w = current(data.f[el.dataset.w]);
        const text = w === 0n ? "-" : (el.dataset.s && v > 0n ? "+" : "") + (Number(v) / Number(w) * 100).toFixed(2) + "%";
        el.dataset.v = w === 0n ? "0" : String(Number(v) / Number(w) * 100);
        if (el.textContent !== text) el.textContent = text;
      } catch (e) {
        el.textContent = data.f[el.dataset.f];
      }
    }
    for (const draw of drawers) draw();
    save();
    // The script's time, then the time until the browser has drawn the result (style, layout
    // and paint of the next frame included).
    const root = document.documentElement;
    root.dataset.evalMs = (performance.now() - t0).toFixed(2);
    requestAnimationFrame(() => setTimeout(() => {
      root.dataset.frameMs = (performance.now() - t0).toFixed(2);
    }, 0));
  }
  const given = readFragment();
  for (const d of data.free) env[d.name] = /^\d+$/.test(given[d.name] || "") ? BigInt(given[d.name]) : BigInt(d.start);
  for (const [k, v] of Object.entries(data.bound)) env[k] = BigInt(v);
  for (const [k, v] of Object.entries(given)) if (!(k in env) && v !== "") view[k] = v;
  for (const d of data.free) {
    const range = document.getElementById("dim-range-" + d.name);
    const box = document.getElementById("dim-box-" + d.name);
    range.value = box.value = env[d.name].toString();
    const set = (v) => {
      if (!/^\d+$/.test(v)) return;
      env[d.name] = BigInt(v);
      range.value = box.value = v;
      update();
    };
    range.addEventListener("input", () => set(range.value));
    box.addEventListener("change", () => set(box.value));
  }
  const dims = document.getElementById("dims");
  if (dims) dims.hidden = data.free.length === 0;
  // The page's own links scroll without replacing the fragment (it holds the view); a bare
  // `#id` opened from elsewhere still scrolls there.
  for (const a of document.querySelectorAll("nav a[href^='#']")) {
    a.addEventListener("click", (e) => {
      const target = document.getElementById(a.getAttribute("href").slice(1));
      if (!target) return;
      e.preventDefault();
      target.scrollIntoView();
    });
  }
  const anchor = Object.keys(given).find((k) => given[k] === "" && document.getElementById(k));
  if (anchor) requestAnimationFrame(() => document.getElementById(anchor).scrollIntoView());
  for (const el of document.querySelectorAll(".js[hidden]")) el.hidden = false;
  window.flopscope = {
    // For tests and the console: a formula's value at the given dims, as a decimal string.
    value: (text, bindings) => value(text, Object.fromEntries(
      Object.entries(bindings).map(([k, v]) => [k, BigInt(v)]))).toString(),
    // For the charts: the payload, a formula (by index) at the current dims or at `at`.
    data, env, view, drawers, update, save, show, exact, human, sortTable, filterTable,
    f: (i) => current(data.f[i]),
    at: (i, at) => value(data.f[i], at),
    cmp: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
  };
})();
