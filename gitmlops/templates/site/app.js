// gitmlops site: draws every page from window.GITMLOPS_SITE (data.js, written by `gitmlops site build`).
// No libraries and no network: tables are DOM, charts are SVG drawn here. Text from the repository
// (tag messages, names) is set with textContent only, never parsed as HTML.
(function () {
  "use strict";
  var SITE = window.GITMLOPS_SITE;
  var REG = SITE.registry;
  var SVGNS = "http://www.w3.org/2000/svg";
  var COLORS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#0a7f86", "#9a6700", "#6e7781"];
  var VERDICT_Y = { no_drift: 0, possible_drift: 1, drift: 2 };
  var VERDICT_COLOR = { no_drift: "#1a7f37", possible_drift: "#9a6700", drift: "#cf222e" };

  // -- small DOM helpers -------------------------------------------------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; } else if (k === "cls") { node.className = attrs[k]; }
      else if (k === "onclick" || k === "onchange") { node[k] = attrs[k]; } else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c !== null && c !== undefined) { node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); } });
    return node;
  }
  function s(tag, attrs, text) {
    var node = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }
  function link(text, hash) { return el("a", { href: hash, text: text }); }
  function enc(text) { return encodeURIComponent(text); }
  function fmt(value) {
    if (value === null || value === undefined) { return "–"; }
    if (typeof value === "number") { return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6))); }
    if (typeof value === "object") { return JSON.stringify(value); }
    return String(value);
  }
  function day(iso) { return iso ? iso.replace("T", " ").replace("+00:00", " UTC") : "–"; }
  function short(text, n) { return text ? String(text).slice(0, n || 12) : "–"; }
  function empty(text) { return el("p", { cls: "empty", text: text }); }
  function chip(text, muted) { return el("span", { cls: muted ? "chip muted" : "chip", text: text }); }
  function versionHash(name, version) { return "#/version/" + enc(name) + "/" + enc(version); }
  function modelHash(name) { return "#/model/" + enc(name); }

  // A table whose columns sort when their header is clicked (numbers as numbers, missing last).
  function table(columns, rows, options) {
    var opts = options || {};
    var state = { key: opts.sortKey === undefined ? null : opts.sortKey, desc: !!opts.desc };
    var wrap = el("div", {});
    function value(row, col) { return col.value ? col.value(row) : row[col.key]; }
    function draw() {
      var sorted = rows.slice();
      if (state.key !== null) {
        var col = columns[state.key];
        sorted.sort(function (a, b) {
          var x = value(a, col), y = value(b, col);
          if (x === y) { return 0; }
          if (x === null || x === undefined) { return 1; }
          if (y === null || y === undefined) { return -1; }
          var r = (typeof x === "number" && typeof y === "number") ? x - y : String(x).localeCompare(String(y));
          return state.desc ? -r : r;
        });
      }
      var head = el("tr", {}, columns.map(function (col, i) {
        var cls = "sortable" + (state.key === i ? (state.desc ? " sorted-desc" : " sorted-asc") : "");
        return el("th", { cls: cls, text: col.title, onclick: function () {
          state.desc = state.key === i ? !state.desc : false; state.key = i; draw();
        } });
      }));
      var body = sorted.map(function (row) {
        return el("tr", {}, columns.map(function (col) {
          var shown = col.render ? col.render(row) : fmt(value(row, col));
          var v = value(row, col);
          return el("td", { cls: typeof v === "number" ? "num" : "" }, [shown]);
        }));
      });
      wrap.textContent = "";
      wrap.appendChild(el("table", { cls: opts.cls || "" }, [el("thead", {}, [head]), el("tbody", {}, body)]));
    }
    draw();
    return wrap;
  }

  function keyValues(obj, title) {
    var keys = Object.keys(obj || {}).sort();
    if (!keys.length) { return empty("no " + title); }
    return el("table", {}, [el("thead", {}, [el("tr", {}, [el("th", { text: "name" }), el("th", { text: title })])]),
      el("tbody", {}, keys.map(function (k) {
        var v = obj[k];
        return el("tr", {}, [el("td", { cls: "mono", text: k }), el("td", { cls: typeof v === "number" ? "num" : "mono", text: fmt(v) })]);
      }))]);
  }

  function select(label, values, current, onchange) {
    var node = el("select", { onchange: function () { onchange(node.value); } }, values.map(function (v) {
      var opt = el("option", { value: v, text: v });
      if (v === current) { opt.selected = true; }
      return opt;
    }));
    return el("label", {}, [label + " ", node]);
  }

  // -- charts ------------------------------------------------------------------------------------
  function scale(domain, range) {
    var d0 = domain[0], d1 = domain[1];
    if (d0 === d1) { d0 -= 1; d1 += 1; }
    return function (v) { return range[0] + (v - d0) / (d1 - d0) * (range[1] - range[0]); };
  }
  function extent(values) {
    var lo = Infinity, hi = -Infinity;
    values.forEach(function (v) { if (v < lo) { lo = v; } if (v > hi) { hi = v; } });
    return lo === Infinity ? [0, 1] : [lo, hi];
  }
  function ticks(domain, n) {
    var out = [], step = (domain[1] - domain[0]) / (n || 4);
    for (var i = 0; i <= (n || 4); i += 1) { out.push(domain[0] + i * (step || 0)); }
    return out;
  }
  // A frame with axes; returns {svg, x, y, plot} where x and y map data to pixels.
  function frame(width, height, xDomain, yDomain, labels, xFormat) {
    var m = { l: 52, r: 40, t: 12, b: 36 };
    var svg = s("svg", { "class": "chart", width: width, height: height, viewBox: "0 0 " + width + " " + height, role: "img" });
    var x = scale(xDomain, [m.l, width - m.r]), y = scale(yDomain, [height - m.b, m.t]);
    var axis = s("g", { "class": "axis" });
    ticks(yDomain).forEach(function (v) {
      axis.appendChild(s("line", { "class": "gridline", x1: m.l, x2: width - m.r, y1: y(v), y2: y(v) }));
      axis.appendChild(s("text", { x: m.l - 4, y: y(v) + 4, "text-anchor": "end" }, fmt(Number(v.toPrecision(3)))));
    });
    ticks(xDomain).forEach(function (v) {
      axis.appendChild(s("text", { x: x(v), y: height - m.b + 14, "text-anchor": "middle" },
        xFormat ? xFormat(v) : fmt(Number(v.toPrecision(3)))));
    });
    axis.appendChild(s("line", { x1: m.l, x2: width - m.r, y1: height - m.b, y2: height - m.b }));
    axis.appendChild(s("line", { x1: m.l, x2: m.l, y1: m.t, y2: height - m.b }));
    axis.appendChild(s("text", { x: (m.l + width - m.r) / 2, y: height - 4, "text-anchor": "middle" }, labels[0]));
    axis.appendChild(s("text", { x: 12, y: (m.t + height - m.b) / 2, "text-anchor": "middle",
      transform: "rotate(-90 12 " + (m.t + height - m.b) / 2 + ")" }, labels[1]));
    svg.appendChild(axis);
    var plot = s("g", { "class": "plot" });
    svg.appendChild(plot);
    return { svg: svg, x: x, y: y, plot: plot };
  }
  function legend(items) {
    return el("div", {}, items.map(function (item, i) {
      return el("span", { style: "margin-right:12px;color:" + COLORS[i % COLORS.length], text: "■ " + item });
    }));
  }
  function lineChart(series, labels) {
    var xs = [], ys = [];
    series.forEach(function (serie) { serie.points.forEach(function (p) { xs.push(p[0]); ys.push(p[1]); }); });
    var f = frame(420, 300, extent(xs), extent(ys), labels);
    series.forEach(function (serie, i) {
      var d = serie.points.map(function (p, j) { return (j ? "L" : "M") + f.x(p[0]).toFixed(1) + "," + f.y(p[1]).toFixed(1); }).join("");
      f.plot.appendChild(s("path", { d: d, fill: "none", stroke: COLORS[i % COLORS.length], "stroke-width": 2, "data-series": serie.name }));
    });
    return el("div", {}, [f.svg, legend(series.map(function (x) { return x.name; }))]);
  }
  function confusionChart(plot) {
    var actual = Object.keys(plot.cells).sort();
    var predicted = {};
    actual.forEach(function (a) { Object.keys(plot.cells[a]).forEach(function (p) { predicted[p] = true; }); });
    var cols = Object.keys(predicted).sort();
    var max = 0;
    actual.forEach(function (a) { cols.forEach(function (p) { max = Math.max(max, plot.cells[a][p] || 0); }); });
    var cell = Math.max(28, Math.min(64, Math.floor(320 / Math.max(cols.length, actual.length))));
    var m = { l: 90, t: 30 };
    var width = m.l + cell * cols.length + 10, height = m.t + cell * actual.length + 30;
    var svg = s("svg", { "class": "chart", width: width, height: height, viewBox: "0 0 " + width + " " + height, role: "img" });
    svg.appendChild(s("text", { x: m.l + cell * cols.length / 2, y: 12, "text-anchor": "middle" }, plot.y));
    svg.appendChild(s("text", { x: 4, y: m.t - 8 }, plot.x + " ↓"));
    cols.forEach(function (p, j) { svg.appendChild(s("text", { x: m.l + j * cell + cell / 2, y: m.t - 4, "text-anchor": "middle" }, p)); });
    actual.forEach(function (a, i) {
      svg.appendChild(s("text", { x: m.l - 6, y: m.t + i * cell + cell / 2 + 4, "text-anchor": "end" }, a));
      cols.forEach(function (p, j) {
        var n = plot.cells[a][p] || 0, share = max ? n / max : 0;
        svg.appendChild(s("rect", { x: m.l + j * cell, y: m.t + i * cell, width: cell - 1, height: cell - 1,
          fill: "rgba(9,105,218," + (0.08 + 0.85 * share).toFixed(3) + ")", "class": "cell" }));
        svg.appendChild(s("text", { x: m.l + j * cell + cell / 2, y: m.t + i * cell + cell / 2 + 4, "text-anchor": "middle",
          style: share > 0.55 ? "fill:#fff" : "" }, fmt(n)));
      });
    });
    return svg;
  }

  // -- lookups -----------------------------------------------------------------------------------
  function artifact(name) { return REG.artifacts.filter(function (a) { return a.name === name; })[0]; }
  function versionOf(a, version) { return a ? a.versions.filter(function (v) { return v.version === version; })[0] : undefined; }
  function registered(a) { return a.versions.filter(function (v) { return v.tag; }); }
  function commitFacts(v) { return REG.commits[v.commits_key] || { params: {}, plots: [] }; }
  function defaultVersion() {
    for (var i = 0; i < REG.artifacts.length; i += 1) {
      var a = REG.artifacts[i], v = a.latest || (registered(a)[0] || {}).version;
      if (v) { return [a.name, v]; }
    }
    return null;
  }

  // -- Models ------------------------------------------------------------------------------------
  function stageChips(stages) {
    var names = Object.keys(stages || {});
    if (!names.length) { return el("span", { cls: "muted", text: "none" }); }
    return el("span", {}, names.map(function (st) { return chip(st + ": " + (stages[st] || "–"), !stages[st]); }));
  }
  function pageModels(main) {
    main.appendChild(el("h1", { text: "Models" }));
    if (!REG.artifacts.length) { main.appendChild(empty("No registered models yet: `gitmlops registry register NAME`.")); return; }
    main.appendChild(table([
      { title: "model", key: "name", render: function (a) { return link(a.name, modelHash(a.name)); } },
      { title: "folder", value: function (a) { return a.base || "."; } },
      { title: "latest", key: "latest", render: function (a) { return a.latest ? link(a.latest, versionHash(a.name, a.latest)) : (a.versions.length ? "–" : el("span", { cls: "muted", text: "not registered yet" })); } },
      { title: "greatest", key: "greatest" },
      { title: "active versions", key: "active_versions" },
      { title: "stages now", value: function (a) { return JSON.stringify(a.stages); }, render: function (a) { return stageChips(a.stages); } },
      { title: "events", value: function (a) { return a.events.length; } },
      { title: "deprecated", value: function (a) { return a.deprecated ? "yes" : "no"; } }
    ], REG.artifacts, { cls: "models" }));
    main.appendChild(el("h2", { text: "Stages over time" }));
    REG.artifacts.forEach(function (a) {
      main.appendChild(el("h3", {}, [link(a.name, modelHash(a.name))]));
      main.appendChild(timelineChart(a));
    });
  }
  function timelineChart(a) {
    var stages = REG.stages.concat(Object.keys(a.timeline).filter(function (st) { return REG.stages.indexOf(st) < 0; }));
    var times = [];
    a.events.forEach(function (e) { times.push(Date.parse(e.created_at)); });
    var now = Date.parse(SITE.generated_at);
    times.push(now);
    var dom = extent(times);
    var width = 900, rowH = 26, m = { l: 80, r: 12, t: 8, b: 22 };
    var height = m.t + rowH * stages.length + m.b;
    var svg = s("svg", { "class": "chart timeline", width: width, height: height, viewBox: "0 0 " + width + " " + height, role: "img" });
    var x = scale(dom, [m.l, width - m.r]);
    var versions = registered(a).map(function (v) { return v.version; }).reverse();
    stages.forEach(function (st, i) {
      var y = m.t + i * rowH;
      svg.appendChild(s("text", { x: m.l - 6, y: y + 17, "text-anchor": "end" }, st));
      svg.appendChild(s("line", { "class": "gridline", x1: m.l, x2: width - m.r, y1: y + rowH, y2: y + rowH }));
      (a.timeline[st] || []).forEach(function (seg) {
        var x0 = x(Date.parse(seg.from)), x1 = x(seg.to ? Date.parse(seg.to) : now);
        var color = COLORS[Math.max(0, versions.indexOf(seg.version)) % COLORS.length];
        var rect = s("rect", { x: x0, y: y + 4, width: Math.max(2, x1 - x0), height: rowH - 8, fill: color, "class": "segment", "data-version": seg.version });
        rect.appendChild(s("title", {}, st + ": " + seg.version + " from " + day(seg.from) + (seg.to ? " to " + day(seg.to) : " (now)")));
        svg.appendChild(rect);
        if (x1 - x0 > 44) { svg.appendChild(s("text", { x: x0 + 4, y: y + 17, style: "fill:#fff" }, seg.version)); }
      });
    });
    [dom[0], (dom[0] + dom[1]) / 2, dom[1]].forEach(function (t, i) {
      svg.appendChild(s("text", { x: x(t), y: height - 6, "text-anchor": ["start", "middle", "end"][i] }, timeLabel(t, dom)));
    });
    return svg;
  }
  function pageModel(main, name) {
    var a = artifact(name);
    if (!a) { main.appendChild(empty("No model named " + name + ".")); return; }
    main.appendChild(el("h1", { text: "Model " + a.name }));
    main.appendChild(el("p", {}, ["folder ", el("code", { text: a.base || "." }), " · stages now: ", stageChips(a.stages),
      a.deprecated ? chip("deprecated", true) : null, " · ", link("plots", "#/plots/" + enc(a.name))]));
    if (!a.versions.length) {
      main.appendChild(empty("No version registered yet: `gitmlops registry register " + (a.model || a.name) + "`."));
      main.appendChild(el("h2", { text: "Drift of production data" }));
      main.appendChild(driftLinks(a));
      return;
    }
    main.appendChild(timelineChart(a));
    var metricKeys = {};
    a.versions.forEach(function (v) { Object.keys(v.metrics).forEach(function (k) { metricKeys[k] = true; }); });
    var columns = [
      { title: "version", key: "version", render: function (v) { return v.tag ? link(v.version, versionHash(a.name, v.version)) : short(v.version); } },
      { title: "registered", key: "registered_at", render: function (v) { return day(v.registered_at); } },
      { title: "by", key: "author" },
      { title: "stages", value: function (v) { return v.stages.join(" "); }, render: function (v) { return el("span", {}, v.stages.map(function (st) { return chip(st); })); } },
      { title: "status", value: function (v) { return v.deregistered ? "deregistered" : v.active ? "active" : "unregistered"; } },
      { title: "verify", value: function (v) { return v.verify ? (v.verify.reproduced ? "reproduced" : "failed") : null; } }
    ];
    Object.keys(metricKeys).sort().forEach(function (k) { columns.push({ title: k, value: function (v) { return v.metrics[k]; } }); });
    main.appendChild(el("h2", { text: "Versions" }));
    main.appendChild(table(columns, a.versions, { cls: "versions" }));
    main.appendChild(el("h2", { text: "Who promoted what when" }));
    main.appendChild(eventsTable(a.events.slice().reverse()));
  }
  function eventsTable(events) {
    return table([
      { title: "when", key: "created_at", render: function (e) { return day(e.created_at); } },
      { title: "event", key: "event" },
      { title: "version", key: "version" },
      { title: "stage", key: "stage" },
      { title: "who", value: function (e) { return e.author + (e.author_email ? " <" + e.author_email + ">" : ""); } },
      { title: "tag", key: "tag", render: function (e) { return el("code", { text: e.tag }); } },
      { title: "message", key: "message" }
    ], events, { cls: "events" });
  }
  function pageVersion(main, name, version) {
    var a = artifact(name), v = versionOf(a, version);
    if (!v) { main.appendChild(empty("No version " + version + " of " + name + ".")); return; }
    main.appendChild(el("h1", {}, [link(a.name, modelHash(a.name)), " " + v.version]));
    main.appendChild(el("p", {}, ["commit ", el("code", { text: v.commit }), " · tag ", el("code", { text: v.tag || "–" }),
      " · registered " + day(v.registered_at) + " by " + (v.author || "–") + " · ",
      v.stages.length ? el("span", {}, v.stages.map(function (st) { return chip(st); })) : el("span", { cls: "muted", text: "in no stage" }),
      v.deregistered ? chip("deregistered", true) : null,
      " · ", link("lineage", "#/lineage/" + enc(a.name) + "/" + enc(v.version))]));
    main.appendChild(el("h2", { text: "Verify" }));
    var verify = el("p", { cls: "verify" });
    if (v.verify) {
      verify.appendChild(el("span", { cls: v.verify.reproduced ? "ok" : "bad", text: v.verify.reproduced ? "reproduced byte for byte" : "did not reproduce" }));
      v.verify.problems.forEach(function (p) { verify.appendChild(el("div", { cls: "bad", text: "· " + p })); });
    } else {
      verify.appendChild(el("span", { cls: "muted", text: "not verified (pass `--verify-report FILE` to `gitmlops site build`)" }));
    }
    if (v.forced.length) { verify.appendChild(el("div", { cls: "bad", text: "registered with --force over: " + v.forced.join("; ") })); }
    main.appendChild(verify);
    var facts = commitFacts(v);
    var grid = el("div", { cls: "grid" });
    grid.appendChild(el("div", { cls: "card" }, [el("h3", { text: "Metrics" }), keyValues(v.metrics, "value")]));
    grid.appendChild(el("div", { cls: "card" }, [el("h3", { text: "Data (md5)" }), keyValues(v.data, "md5"),
      el("p", {}, ["model ", el("code", { text: (v.artifact.path || "–") + " " + short(v.artifact.md5, 32) }), " · params hash ", el("code", { text: short(v.params_hash, 16) })])]));
    grid.appendChild(el("div", { cls: "card" }, [el("h3", { text: "Feature schema" }), schemaTable(v)]));
    grid.appendChild(el("div", { cls: "card" }, [el("h3", { text: "Params" }), keyValues(facts.params, "value")]));
    main.appendChild(grid);
    main.appendChild(el("h2", { text: "Plots" }));
    main.appendChild(plotsOf(facts.plots, [[v.version, facts]]));
    main.appendChild(el("h2", { text: "Drift of production data" }));
    main.appendChild(driftLinks(a));
    main.appendChild(el("h2", { text: "Events" }));
    main.appendChild(eventsTable(a.events.filter(function (e) { return e.version === v.version; }).reverse()));
  }
  function schemaTable(v) {
    var schema = v.schema_md5 ? REG.schemas[v.schema_md5] : null;
    if (!schema) { return empty(v.schema_md5 ? "schema.json " + short(v.schema_md5) + " is not in the local DVC cache (`gitmlops data pull`)" : "no schema.json next to the model"); }
    var features = schema.features || schema.columns || [];
    if (!Array.isArray(features) || !features.length) { return keyValues(schema, "value"); }
    return table([
      { title: "feature", value: function (f) { return typeof f === "string" ? f : f.name; } },
      { title: "type", value: function (f) { return typeof f === "string" ? null : (f.type || f.kind || f.dtype); } },
      { title: "details", value: function (f) {
        if (typeof f === "string") { return null; }
        var rest = {};
        Object.keys(f).forEach(function (k) { if (["name", "type", "kind", "dtype"].indexOf(k) < 0) { rest[k] = f[k]; } });
        return Object.keys(rest).length ? JSON.stringify(rest).slice(0, 120) : null;
      } }
    ], features, { cls: "schema" });
  }
  function datasetLabel(d) { return d.base ? d.base + " · " + d.name : d.name; }
  // The datasets of a model's folder (all of them for a page that is not about one model).
  function datasetsOf(a) { return SITE.monitoring.datasets.filter(function (d) { return !a || d.base === a.base; }); }
  function driftLinks(a) {
    var sets = datasetsOf(a);
    if (!sets.length) { return empty("no committed profiles in this model's folder"); }
    return el("ul", {}, sets.map(function (d) {
      var last = d.profiles[d.profiles.length - 1];
      return el("li", {}, [el("b", { text: datasetLabel(d) }), ": newest profile " + last.stamp + " ",
        el("span", { cls: "verdict-" + last.verdict, text: last.verdict || "no verdict" }), " ",
        last.report ? el("a", { href: last.report, cls: "drift-report", text: "drift report" }) : el("span", { cls: "muted", text: last.note || "" }),
        " · ", link("over time", "#/monitoring")]);
    }));
  }

  // -- Plots -------------------------------------------------------------------------------------
  // plots: the plot list of one commit; runs: [label, facts] whose same-path line plots are overlaid.
  function plotsOf(plots, runs) {
    if (!plots.length) { return empty("no plots declared in dvc.yaml at this commit"); }
    var grid = el("div", { cls: "grid plots" });
    plots.forEach(function (plot) {
      var card = el("div", { cls: "card" }, [el("h3", { text: plot.path })]);
      if (plot.kind === "confusion") {
        card.appendChild(confusionChart(plot));
      } else {
        var series = [];
        runs.forEach(function (run) {
          var same = run[1].plots.filter(function (p) { return p.path === plot.path && p.kind === "line"; })[0];
          if (same) { series.push({ name: run[0], points: same.points }); }
        });
        card.appendChild(lineChart(series, [plot.x, plot.y]));
      }
      grid.appendChild(card);
    });
    return grid;
  }
  function pagePlots(main, name) {
    main.appendChild(el("h1", { text: "Plots" }));
    var names = REG.artifacts.map(function (a) { return a.name; });
    var a = artifact(name) || REG.artifacts[0];
    var runs = [];
    if (a) {
      main.appendChild(el("div", { cls: "controls" }, [select("model", names, a.name, function (n) { location.hash = "#/plots/" + enc(n); })]));
      registered(a).slice(0, 6).forEach(function (v) { runs.push([a.name + "@" + v.version, commitFacts(v)]); });
    }
    var head = a && a.head ? a.head : REG.head;  // HEAD as the model's own folder holds it
    if (head && REG.commits[head]) { runs.push(["HEAD", REG.commits[head]]); }
    if (!runs.length) { main.appendChild(empty("no registered versions and no commit yet")); return; }
    main.appendChild(el("p", { cls: "muted", text: "Line plots overlay the newest versions" + (REG.head ? " and HEAD" : "") + "; confusion matrices are per version." }));
    runs.forEach(function (run, i) {
      if (i && !run[1].plots.some(function (p) { return p.kind === "confusion"; })) { return; }
      main.appendChild(el("h2", { text: run[0] }));
      main.appendChild(plotsOf(i ? run[1].plots.filter(function (p) { return p.kind === "confusion"; }) : run[1].plots, runs));
    });
  }

  // -- Experiments -------------------------------------------------------------------------------
  function experimentRows() {
    var rows = SITE.experiments.map(function (e) {
      var of = e.of || "HEAD";
      return { source: e.baseline ? (of === "HEAD" ? "HEAD" : "baseline of " + of) : "experiment of " + of, kind: e.baseline && of === "HEAD" ? "HEAD" : "experiment",
        name: e.name, rev: e.rev, params: e.params, metrics: e.metrics, created: e.created, model: e.model || null };
    });
    REG.artifacts.forEach(function (a) {
      registered(a).forEach(function (v) {
        rows.push({ source: "registered", kind: "registered", name: a.name + "@" + v.version, rev: v.commit, params: commitFacts(v).params, metrics: v.metrics, created: v.registered_at, hash: versionHash(a.name, v.version), model: a.model ? a.name : null });
      });
    });
    return rows;
  }
  function varying(rows, field) {
    var keys = {};
    rows.forEach(function (r) { Object.keys(r[field]).forEach(function (k) { keys[k] = true; }); });
    return Object.keys(keys).sort().filter(function (k) {
      var seen = {};
      rows.forEach(function (r) { seen[JSON.stringify(r[field][k])] = true; });
      return field === "metrics" || Object.keys(seen).length > 1;
    });
  }
  function pageExperiments(main, query) {
    main.appendChild(el("h1", { text: "Experiments" }));
    var rows = experimentRows();
    // Several models (gitmlops.yaml): one model's rows at a time, its params and metrics are its own.
    var models = REG.artifacts.filter(function (a) { return a.model; }).map(function (a) { return a.name; });
    var model = null;
    if (models.length) {
      model = query.model && models.indexOf(query.model) >= 0 ? query.model : models.filter(function (n) { return rows.some(function (r) { return r.model === n; }); })[0] || models[0];
      rows = rows.filter(function (r) { return r.model === model; });
      main.appendChild(el("div", { cls: "controls" }, [select("model", models, model, function (n) { location.hash = "#/experiments///" + enc(n); })]));
    }
    if (!rows.length) { main.appendChild(empty("no experiments and no registered versions yet")); return; }
    var params = varying(rows, "params"), metrics = varying(rows, "metrics");
    var numericParams = params.filter(function (k) { return rows.some(function (r) { return typeof r.params[k] === "number"; }); });
    var metric = query.metric && metrics.indexOf(query.metric) >= 0 ? query.metric : metrics[0];
    var param = query.param && numericParams.indexOf(query.param) >= 0 ? query.param : numericParams[0];
    function go(m, p) { location.hash = "#/experiments/" + enc(m || "") + "/" + enc(p || "") + (model ? "/" + enc(model) : ""); }
    main.appendChild(el("p", { cls: "muted", text: rows.length + " rows: HEAD, every registered version, and their DVC experiments. Params shown are those that vary; click a header to sort." }));
    if (metric && param) {
      main.appendChild(el("div", { cls: "controls" }, [select("metric", metrics, metric, function (m) { go(m, param); }),
        select("param", numericParams, param, function (p) { go(metric, p); })]));
      var points = rows.filter(function (r) { return typeof r.metrics[metric] === "number" && typeof r.params[param] === "number"; });
      var f = frame(640, 320, extent(points.map(function (r) { return r.params[param]; })), extent(points.map(function (r) { return r.metrics[metric]; })), [param, metric]);
      var sources = ["HEAD", "experiment", "registered"];
      points.forEach(function (r) {
        var dot = s("circle", { cx: f.x(r.params[param]), cy: f.y(r.metrics[metric]), r: 5, fill: COLORS[sources.indexOf(r.kind)], "fill-opacity": 0.75, "class": "point" });
        dot.appendChild(s("title", {}, r.name + ": " + param + "=" + fmt(r.params[param]) + ", " + metric + "=" + fmt(r.metrics[metric])));
        f.plot.appendChild(dot);
      });
      main.appendChild(f.svg);
      main.appendChild(legend(sources));
    } else {
      main.appendChild(empty("no numeric param varies between the rows, so there is no chart of a metric against a param"));
    }
    var columns = [
      { title: "source", key: "source" },
      { title: "name", key: "name", render: function (r) { return r.hash ? link(r.name, r.hash) : r.name; } },
      { title: "rev", key: "rev", render: function (r) { return el("code", { text: short(r.rev, 8) }); } }
    ];
    metrics.forEach(function (k) { columns.push({ title: k, value: function (r) { return r.metrics[k]; } }); });
    params.forEach(function (k) { columns.push({ title: k, value: function (r) { return r.params[k]; } }); });
    main.appendChild(table(columns, rows, { cls: "experiments", sortKey: metric ? 3 + metrics.indexOf(metric) : null, desc: true }));
  }

  // -- Monitoring --------------------------------------------------------------------------------
  function pageMonitoring(main) {
    main.appendChild(el("h1", { text: "Monitoring" }));
    var mon = SITE.monitoring;
    main.appendChild(el("p", { cls: "muted", text: "Each committed profile of a dataset compared with its model folder's reference profile (paths.reference_profile)." }));
    if (!mon.datasets.length) { main.appendChild(empty("no committed profiles: `gitmlops monitor profile DATA --name DATASET`, then commit")); return; }
    mon.datasets.forEach(function (d) {
      main.appendChild(el("h2", { text: datasetLabel(d) }));
      main.appendChild(el("p", { cls: "muted", text: "reference profile: " + (d.reference || "missing (`gitmlops data pull`)") }));
      var judged = d.profiles.filter(function (p) { return p.verdict; });
      if (judged.length) {
        var times = d.profiles.map(function (p) { return stampTime(p.stamp); });
        var span = extent(times);
        var f = frame(760, 220, span, [0, 1], ["profile time (UTC)", "drifted share of columns"], function (t) { return timeLabel(t, span); });
        var path = judged.map(function (p, i) { return (i ? "L" : "M") + f.x(stampTime(p.stamp)).toFixed(1) + "," + f.y(p.drift_share || 0).toFixed(1); }).join("");
        f.plot.appendChild(s("path", { d: path, fill: "none", stroke: "#8c959f", "stroke-width": 1 }));
        judged.forEach(function (p) {
          var a = s("a", { href: p.report });
          var dot = s("circle", { cx: f.x(stampTime(p.stamp)), cy: f.y(p.drift_share || 0), r: 5, fill: VERDICT_COLOR[p.verdict], "class": "point verdict", "data-verdict": p.verdict });
          dot.appendChild(s("title", {}, p.stamp + ": " + p.verdict + " (" + p.drifted + " of " + p.compared + " columns)"));
          a.appendChild(dot);
          f.plot.appendChild(a);
        });
        main.appendChild(f.svg);
        main.appendChild(el("div", {}, Object.keys(VERDICT_Y).map(function (v) { return el("span", { style: "margin-right:12px;color:" + VERDICT_COLOR[v], text: "● " + v }); })));
      }
      main.appendChild(table([
        { title: "profile", key: "stamp" },
        { title: "rows", key: "rows" },
        { title: "verdict", key: "verdict", render: function (p) { return el("span", { cls: "verdict-" + p.verdict, text: p.verdict || "–" }); } },
        { title: "drifted columns", value: function (p) { return p.compared === null || p.compared === undefined ? null : p.drifted + " of " + p.compared; } },
        { title: "report", value: function (p) { return p.report; }, render: function (p) { return p.report ? el("a", { href: p.report, cls: "drift-report", text: "drift report" }) : el("span", { cls: "muted", text: p.note || "–" }); } }
      ], d.profiles.slice().reverse(), { cls: "profiles" }));
    });
  }
  // A date, or a date and time when the whole axis spans less than two days.
  function timeLabel(t, span) {
    var iso = new Date(t).toISOString();
    return span[1] - span[0] < 2 * 86400000 ? iso.slice(5, 16).replace("T", " ") : iso.slice(0, 10);
  }
  function stampTime(stamp) {
    var m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(stamp);
    return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : 0;
  }

  // -- Lineage -----------------------------------------------------------------------------------
  function pageLineage(main, name, version) {
    main.appendChild(el("h1", { text: "Lineage" }));
    var pick = name ? [name, version] : defaultVersion();
    var a = pick ? artifact(pick[0]) : null, v = versionOf(a, pick ? pick[1] : null);
    var choices = [];
    REG.artifacts.forEach(function (x) { registered(x).forEach(function (y) { choices.push(x.name + "@" + y.version); }); });
    if (!v) { main.appendChild(empty(choices.length ? "pick a version" : "no registered versions yet")); }
    if (choices.length) {
      main.appendChild(el("div", { cls: "controls" }, [select("version", choices, v ? a.name + "@" + v.version : choices[0], function (c) {
        var at = c.lastIndexOf("@"); location.hash = "#/lineage/" + enc(c.slice(0, at)) + "/" + enc(c.slice(at + 1));
      })]));
    }
    if (!v) { return; }
    main.appendChild(el("p", {}, ["The chain behind ", link(a.name + "@" + v.version, versionHash(a.name, v.version)), ": data → params → model → stages → deploys → drift."]));
    main.appendChild(lineageChart(a, v));
  }
  function lineageChart(a, v) {
    var facts = commitFacts(v);
    var deploys = a.events.filter(function (e) { return e.version === v.version && e.event === "assign" && e.stage === REG.deploy_stage; });
    var stagesEver = {};
    a.events.forEach(function (e) { if (e.version === v.version && e.event === "assign") { stagesEver[e.stage] = true; } });
    var columns = [
      ["data", Object.keys(v.data).sort().map(function (p) { return [p, short(v.data[p], 10)]; })],
      ["params", [["params hash", short(v.params_hash, 12)], [Object.keys(facts.params).length + " values", ""]]],
      ["model", [[a.name + "@" + v.version, short(v.artifact.md5, 10)], [v.artifact.path || "", "commit " + short(v.commit, 8)]]],
      ["stages", Object.keys(stagesEver).sort().map(function (st) { return [st, v.stages.indexOf(st) >= 0 ? "now" : "earlier"]; })],
      ["deploys", deploys.map(function (e) { return [REG.deploy_stage + " " + day(e.created_at).slice(0, 10), e.author]; })],
      ["drift", datasetsOf(a).map(function (d) { var p = d.profiles[d.profiles.length - 1]; return [datasetLabel(d), p.verdict || "no verdict"]; })]
    ];
    var boxW = 150, boxH = 38, gap = 46, m = 10;
    var rows = Math.max.apply(null, columns.map(function (c) { return Math.max(1, c[1].length); }));
    var width = m * 2 + columns.length * boxW + (columns.length - 1) * gap, height = 40 + rows * (boxH + 10) + m;
    var svg = s("svg", { "class": "chart lineage", width: width, height: height, viewBox: "0 0 " + width + " " + height, role: "img" });
    var defs = s("defs");
    var marker = s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" });
    marker.appendChild(s("path", { d: "M0,0L10,5L0,10z", fill: "#8c959f" }));
    defs.appendChild(marker);
    svg.appendChild(defs);
    columns.forEach(function (col, i) {
      var x = m + i * (boxW + gap);
      svg.appendChild(s("text", { x: x + boxW / 2, y: 20, "text-anchor": "middle", "font-weight": "bold" }, col[0]));
      var items = col[1].length ? col[1] : [["none", ""]];
      items.forEach(function (item, j) {
        var y = 30 + j * (boxH + 10);
        var drift = col[0] === "drift" ? VERDICT_COLOR[item[1]] : null;
        svg.appendChild(s("rect", { x: x, y: y, width: boxW, height: boxH, rx: 5, fill: col[1].length ? "#ddf4ff" : "#eaeef2",
          stroke: drift || "#54aeff", "class": "node", "data-column": col[0] }));
        svg.appendChild(s("text", { x: x + 6, y: y + 15 }, String(item[0]).slice(0, 24)));
        svg.appendChild(s("text", { x: x + 6, y: y + 30, style: "fill:" + (drift || "#656d76") }, String(item[1]).slice(0, 24)));
      });
      if (i < columns.length - 1) {
        var ay = 30 + boxH / 2;
        svg.appendChild(s("line", { x1: x + boxW + 4, y1: ay, x2: x + boxW + gap - 4, y2: ay, stroke: "#8c959f", "stroke-width": 2, "marker-end": "url(#arrow)", "class": "edge" }));
      }
    });
    return svg;
  }

  // -- routing -----------------------------------------------------------------------------------
  function route() {
    var parts = (location.hash || "#/models").replace(/^#\/?/, "").split("/").map(function (p) {
      try { return decodeURIComponent(p); } catch (e) { return p; }
    });
    var main = document.getElementById("main");
    main.textContent = "";
    var section = { model: "models", version: "models" }[parts[0]] || parts[0] || "models";
    Array.prototype.forEach.call(document.querySelectorAll("#nav a"), function (a) {
      a.className = a.getAttribute("data-section") === section ? "active" : "";
    });
    if (parts[0] === "model") { pageModel(main, parts[1]); }
    else if (parts[0] === "version") { pageVersion(main, parts[1], parts[2]); }
    else if (parts[0] === "experiments") { pageExperiments(main, { metric: parts[1], param: parts[2], model: parts[3] }); }
    else if (parts[0] === "plots") { pagePlots(main, parts[1]); }
    else if (parts[0] === "monitoring") { pageMonitoring(main); }
    else if (parts[0] === "lineage") { pageLineage(main, parts[1], parts[2]); }
    else { pageModels(main); }
    document.title = section.charAt(0).toUpperCase() + section.slice(1) + " · " + SITE.title + " · gitmlops";
    window.scrollTo(0, 0);
  }
  document.getElementById("repo").textContent = SITE.title;
  document.getElementById("footer").textContent = "Built by `gitmlops site build` at " + day(SITE.generated_at) +
    (SITE.notes.length ? " · " + SITE.notes.join(" · ") : "");
  window.addEventListener("hashchange", route);
  route();
}());
