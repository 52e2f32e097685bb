/* omie-otel dashboard: draws the panels of the Grafana dashboard model served by /api/config with the data of
 * /api/panels (one request per refresh; the server runs the PromQL), plus alerts, 425 blocks and traces.
 * Every value from telemetry goes into the page as text (textContent), never as HTML. */
"use strict";
(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const PALETTE = ["#73bf69", "#f2cc0c", "#5794f2", "#ff9830", "#f2495c", "#b877d9", "#8ab8ff", "#96d98d",
    "#ffb357", "#ca95e5", "#fade2a", "#ff7383"];
  const SEVERITY = { critical: "crítico", warning: "aviso", info: "info" };
  const COLORS = { green: "#2f9e44", orange: "#e8890c", red: "#e02f44", yellow: "#e0b400", blue: "#3274d9" };
  const nf = (d) => new Intl.NumberFormat("pt-BR", { maximumFractionDigits: d });
  const state = { config: null, services: [], service: "", range: "1h", refresh: 10, timer: null, busy: false,
    charts: new Map(), skew: 0, blocks: null, firstRender: null };

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }

  // ---- units (the Grafana units the dashboard uses) ------------------------------------------------------------
  function fmt(v, unit) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    const a = Math.abs(v);
    switch (unit) {
      case "percentunit": return nf(a >= 0.1 ? 1 : 2).format(v * 100) + " %";
      case "percent": return nf(1).format(v) + " %";
      case "reqps": return short(v) + " req/s";
      case "s": return a === 0 ? "0 s" : a < 1e-3 ? nf(0).format(v * 1e6) + " µs" : a < 1 ? nf(1).format(v * 1e3) + " ms"
        : nf(2).format(v) + " s";
      case "bytes": {
        const u = ["B", "KiB", "MiB", "GiB", "TiB"]; let i = 0, x = v;
        while (Math.abs(x) >= 1024 && i < u.length - 1) { x /= 1024; i++; }
        return nf(i ? 1 : 0).format(x) + " " + u[i];
      }
      case "x": return nf(2).format(v) + "×";
      default: return short(v);
    }
  }
  function short(v) {
    const a = Math.abs(v);
    if (a >= 1e9) return nf(1).format(v / 1e9) + " G";
    if (a >= 1e6) return nf(1).format(v / 1e6) + " M";
    if (a >= 1e4) return nf(1).format(v / 1e3) + " k";
    return nf(a >= 100 ? 0 : a >= 1 ? 2 : 3).format(v);
  }
  function thresholdColor(steps, v) {
    let color = null;
    for (const s of steps || []) if (s.value === null || s.value === undefined || v >= s.value) color = s.color;
    return COLORS[color] || color || COLORS.blue;
  }

  // ---- fetch ---------------------------------------------------------------------------------------------------
  function params(extra) {
    const p = new URLSearchParams({ range: state.range, ...(extra || {}) });
    if (state.service) p.append("service", state.service);
    return p.toString();
  }
  async function api(path) {
    let r;
    try { r = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } }); }
    catch (e) { throw new Error("o painel não respondeu (servidor do omie-otel dashboard parado?)"); }
    let body = null;
    try { body = await r.json(); } catch (e) { /* handled below */ }
    if (!r.ok || body === null) throw new Error((body && body.error) || `HTTP ${r.status} em ${path.split("?")[0]}`);
    return body;
  }

  // ---- layout --------------------------------------------------------------------------------------------------
  function buildRows(config) {
    const rows = $("#rows");
    rows.textContent = "";
    const byRow = new Map();
    for (const p of config.panels) {
      if (!byRow.has(p.row)) byRow.set(p.row, []);
      byRow.get(p.row).push(p);
    }
    for (const [title, panels] of byRow) {
      const grid = el("div", { class: "grid" });
      for (const p of panels) {
        const tip = [p.description, ...p.targets.map((t) => t.expr)].filter(Boolean).join("\n\n");
        const panel = el("div", { class: "panel" + (p.grid.w >= 16 ? " wide" : ""), "data-panel-id": String(p.id),
          "data-type": p.type, "data-state": "loading" },
        el("h3", { text: p.title, title: tip }), el("div", { class: "body" }, el("div", { class: "msg", text: "carregando…" })));
        panel.style.gridColumn = `span ${p.grid.w}`;
        panel.style.minHeight = `${Math.max(p.grid.h, 4) * 36}px`;
        grid.append(panel);
      }
      rows.append(el("section", { class: "row" }, el("h2", { text: title || "Painéis" }), grid));
    }
  }
  function setPanel(panel, stateName, ...content) {
    panel.dataset.state = stateName;
    const body = $(".body", panel);
    body.textContent = "";
    body.append(...content);
  }
  const msg = (text, cls) => el("div", { class: "msg" + (cls ? " " + cls : ""), text });

  // ---- Prometheus panels ---------------------------------------------------------------------------------------
  // The panels on screen first, the rest a frame later: the first meaningful render does not wait for charts
  // nobody sees yet.
  async function renderPanels(data) {
    const onScreen = (p) => { const n = $(`[data-panel-id="${p.id}"]`); return n && n.getBoundingClientRect().top < innerHeight; };
    const first = state.config.panels.filter(onScreen);
    renderSome(first, data);
    if (state.firstRender === null) state.firstRender = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 0));
    renderSome(state.config.panels.filter((p) => !first.includes(p)), data);
  }
  function renderSome(panels, data) {
    for (const p of panels) {
      const panel = $(`[data-panel-id="${p.id}"]`);
      const d = data[String(p.id)];
      if (!panel) continue;
      if (!d || d.error) {
        dropChart(p.id);
        setPanel(panel, "error", msg("Sem dados: " + ((d && d.error) || "resposta vazia"), "error"));
        continue;
      }
      const series = d.series.filter((s) => s.value !== undefined ? s.value !== null : s.values.some((v) => v !== null));
      if (!series.length) {
        dropChart(p.id);
        setPanel(panel, "empty", msg("Sem dados no período"));
        continue;
      }
      if (p.type === "timeseries") renderChart(panel, p, d.x, series);
      else if (p.type === "stat") renderStat(panel, p, series);
      else if (p.type === "bargauge") renderBars(panel, p, series);
      else renderTable(panel, p, series);
      if (d.warning) $(".body", panel).append(msg(d.warning, "error"));
      if (d.truncated) $(".body", panel).append(msg("mostrando as primeiras séries"));
    }
  }
  const lastOf = (s) => s.value !== undefined ? s.value : [...s.values].reverse().find((v) => v !== null);
  function renderStat(panel, p, series) {
    dropChart(p.id);
    const box = el("div", { class: "stats" });
    for (const s of series) {
      const v = lastOf(s);
      const card = el("div", { class: "stat" }, el("div", { class: "value", text: fmt(v, p.unit) }),
        el("div", { class: "name", text: s.name, title: s.name }));
      card.style.background = thresholdColor(p.thresholds, v);
      box.append(card);
    }
    setPanel(panel, "data", box);
  }
  function renderBars(panel, p, series) {
    dropChart(p.id);
    const vals = series.map(lastOf);
    const max = p.unit === "percentunit" ? 1 : Math.max(...vals.map((v) => Math.abs(v || 0)), 1e-9);
    const box = el("div", { class: "bars" });
    series.forEach((s, i) => {
      const v = vals[i];
      const fill = el("div", { class: "fill" });
      fill.style.width = `${Math.max(0, Math.min(100, ((v || 0) / max) * 100))}%`;
      fill.style.background = thresholdColor(p.thresholds, v);
      box.append(el("div", { class: "bar" }, el("span", { class: "name", text: s.name, title: s.name }),
        el("div", { class: "track" }, fill), el("span", { class: "v", text: fmt(v, p.unit) })));
    });
    setPanel(panel, "data", box);
  }
  function renderTable(panel, p, series) {
    dropChart(p.id);
    const keys = [...new Set(series.flatMap((s) => Object.keys(s.labels || {})))].filter((k) => k !== "__name__");
    const table = el("table", {}, el("thead", {}, el("tr", {}, ...keys.map((k) => el("th", { text: k })),
      el("th", { text: "valor" }))));
    const tbody = el("tbody");
    for (const s of series) {
      tbody.append(el("tr", {}, ...keys.map((k) => el("td", { text: (s.labels || {})[k] || "" })),
        el("td", { class: "num", text: fmt(lastOf(s), p.unit) })));
    }
    table.append(tbody);
    setPanel(panel, "data", table);
  }
  function dropChart(id) {
    const c = state.charts.get(id);
    if (c) { c.plot.destroy(); state.charts.delete(id); }
  }
  function thresholdPlugin(steps) {
    return { hooks: { draw: [(u) => {
      const ctx = u.ctx;
      for (const s of steps || []) {
        if (s.value === null || s.value === undefined) continue;
        const y = u.valToPos(s.value, "y", true);
        if (y < u.bbox.top || y > u.bbox.top + u.bbox.height) continue;
        ctx.save(); ctx.strokeStyle = COLORS[s.color] || s.color; ctx.setLineDash([4, 4]); ctx.lineWidth = 1;
        ctx.beginPath(); ctx.moveTo(u.bbox.left, y); ctx.lineTo(u.bbox.left + u.bbox.width, y); ctx.stroke(); ctx.restore();
      }
    }] } };
  }
  function renderChart(panel, p, x, series) {
    const body = $(".body", panel);
    const names = series.map((s) => s.name).join("\u0000");
    const data = [x, ...series.map((s) => s.values)];
    const width = Math.max(body.clientWidth || panel.clientWidth - 16, 200);
    const height = Math.max(140, Math.max(p.grid.h, 4) * 36 - 130);
    let c = state.charts.get(p.id);
    if (c && c.names === names && panel.contains(c.plot.root)) {
      c.plot.setData(data);
      c.legend.replaceWith(legend(p, series));
      c.legend = $(".legend", body);
    } else {
      dropChart(p.id);
      const holder = el("div", { class: "chart" });
      setPanel(panel, "data", holder);
      const tick = (u, vals) => vals.map((v) => fmt(v, p.unit));
      const long = x.length > 1 && x[x.length - 1] - x[0] > 2 * 86400;
      const timeTick = (u, vals) => vals.map((t) => new Date(t * 1000).toLocaleString("pt-BR", long
        ? { day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit" } : { hour: "2-digit", minute: "2-digit" }));
      const opts = {
        width, height, legend: { show: false }, cursor: { points: { size: 5 } },
        scales: { x: { time: true }, y: { range: (u, min, max) => [Math.min(0, min), max > min ? max : min + 1] } },
        axes: [
          { stroke: "#8e9297", grid: { stroke: "#2c3235", width: 1 }, ticks: { stroke: "#2c3235" }, values: timeTick,
            space: long ? 90 : 60, size: 30 },
          { stroke: "#8e9297", grid: { stroke: "#2c3235", width: 1 }, ticks: { stroke: "#2c3235" }, values: tick,
            size: (u, vals) => (vals ? Math.max(40, Math.max(...vals.map((v) => String(v).length)) * 7 + 18) : 40),
            space: 24 },
        ],
        series: [{}, ...series.map((s, i) => ({ label: s.name, stroke: PALETTE[i % PALETTE.length], width: 1.5,
          spanGaps: false, value: (u, v) => fmt(v, p.unit) }))],
        plugins: [thresholdPlugin(p.thresholds)],
      };
      const plot = new uPlot(opts, data, holder);
      const lg = legend(p, series);
      body.append(lg);
      c = { plot, names, legend: lg };
      state.charts.set(p.id, c);
    }
    panel.dataset.state = "data";
  }
  function legend(p, series) {
    const tbody = el("tbody");
    series.forEach((s, i) => {
      const vals = s.values.filter((v) => v !== null);
      const sw = el("span", { class: "swatch" });
      sw.style.background = PALETTE[i % PALETTE.length];
      tbody.append(el("tr", {}, el("td", {}, sw, s.name), el("td", { class: "num", text: fmt(vals[vals.length - 1], p.unit) }),
        el("td", { class: "num", text: fmt(vals.length ? Math.max(...vals) : null, p.unit) })));
    });
    return el("div", { class: "legend" }, el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "série" }),
      el("th", { class: "num", text: "último" }), el("th", { class: "num", text: "máx." }))), tbody));
  }
  function resizeCharts() {
    for (const [id, c] of state.charts) {
      const body = c.plot.root.parentElement && c.plot.root.parentElement.parentElement;
      if (body) c.plot.setSize({ width: Math.max(body.clientWidth, 200), height: c.plot.height });
      void id;
    }
  }

  // ---- alerts, blocks, traces ----------------------------------------------------------------------------------
  const when = (iso) => new Date(iso).toLocaleString("pt-BR", { dateStyle: "short", timeStyle: "medium" });
  function renderAlerts(body) {
    const panel = $("#alerts");
    if (!body.alerts.length) return setPanel(panel, "empty", msg("Nenhum alerta ativo", "ok"));
    const list = body.alerts.map((a) => el("div", { class: "alert " + a.severity, "data-testid": "alert",
      "data-alertname": a.alertname },
    el("div", { class: "head" }, el("span", { class: "badge " + a.severity, text: SEVERITY[a.severity] || a.severity || "?" }),
      el("span", { class: "name", text: a.alertname }), el("span", { class: "sum", text: a.job }),
      el("span", { class: "sum", text: "desde " + when(a.startsAt) }),
      a.runbook_url ? el("a", { href: a.runbook_url, target: "_blank", rel: "noopener noreferrer", text: "runbook" }) : null),
    el("div", { class: "sum", text: a.summary })));
    setPanel(panel, "data", ...list);
  }
  function leftText(seconds) {
    const s = Math.max(0, Math.round(seconds));
    return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  }
  function renderBlocks() {
    const panel = $("#blocks");
    if (state.blocks === null) return;
    const now = Date.now() / 1000 + state.skew;
    const live = state.blocks.filter((b) => b.until > now);
    if (!live.length) return setPanel(panel, "empty", msg("Nenhum bloqueio 425 em vigor", "ok"));
    setPanel(panel, "data", ...live.map((b) => el("div", { class: "block", "data-testid": "block" },
      el("div", { class: "left", text: "faltam " + leftText(b.until - now) }),
      el("div", { text: `${b.call} · ${b.service} · bloqueado às ${new Date(b.since * 1000).toLocaleTimeString("pt-BR")}` }))));
  }
  const dur = (us) => fmt(us / 1e6, "s");
  function traceTable(list, empty) {
    if (!list.length) return [msg(empty)];
    const tbody = el("tbody");
    for (const t of list) {
      tbody.append(el("tr", { class: "clickable", "data-testid": "trace", "data-trace-id": t.traceID,
        onclick: () => openTrace(t.traceID), title: "abrir a cascata de spans" },
      el("td", { text: new Date(t.start / 1000).toLocaleTimeString("pt-BR") }),
      el("td", { text: t.name }), el("td", { class: "num", text: dur(t.duration) }),
      el("td", { class: "err", text: t.errors.join(", ") }), el("td", { class: "num", text: String(t.spans) })));
    }
    return [el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "início" }), el("th", { text: "operação" }),
      el("th", { class: "num", text: "duração" }), el("th", { text: "erros" }), el("th", { class: "num", text: "spans" }))), tbody)];
  }
  function renderTraces(body) {
    setPanel($("#failed"), body.failed.length ? "data" : "empty", ...traceTable(body.failed, "Nenhum trace com falha no período"));
    $("#slow h3").textContent = `Lentos (≥ ${nf(1).format(body.slow_threshold_s)} s)`;
    setPanel($("#slow"), body.slow.length ? "data" : "empty", ...traceTable(body.slow, "Nenhum trace lento no período"));
  }

  // ---- trace waterfall -----------------------------------------------------------------------------------------
  async function openTrace(id) {
    const modal = $("#trace"), out = $("#trace-body");
    $("#trace-title").textContent = "Trace " + id;
    out.textContent = "";
    out.append(msg("carregando…"));
    modal.hidden = false;
    $("#trace-close").focus();
    let t;
    try { t = await api("/api/trace/" + encodeURIComponent(id)); }
    catch (e) { out.textContent = ""; out.append(msg(e.message, "error")); return; }
    out.textContent = "";
    out.append(el("div", { class: "msg", text: `${t.spans.length} spans · ${dur(t.duration)} · início ${new Date(t.start / 1000).toLocaleString("pt-BR")}` }));
    const wf = el("div", { class: "waterfall", "data-testid": "waterfall" });
    const detail = el("div", { class: "detail" });
    const total = Math.max(t.duration, 1);
    for (const s of t.spans) {
      const bar = el("div", { class: "wf-bar" + (s.error ? " error" : s.attributes["omie.call"] ? " omie" : "") });
      const left = (s.offset / total) * 100, width = Math.max((s.duration / total) * 100, 0.3);
      bar.style.left = `${left}%`; bar.style.width = `${width}%`;
      const label = el("span", { class: "wf-dur", text: dur(s.duration) });
      if (left + width <= 80) label.style.left = `calc(${left + width}% + 4px)`;  // after the bar
      else if (left > 15) label.style.right = `calc(${100 - left}% + 4px)`;  // before it
      else { label.style.right = `calc(${100 - left - width}% + 4px)`; label.classList.add("inside"); }
      const name = el("div", { class: "wf-name", title: s.name }, (s.error ? "⚠ " : "") + s.name, el("span", { class: "svc", text: s.service }));
      name.style.paddingLeft = `${s.depth * 14}px`;
      const row = el("div", { class: "wf-row", "data-testid": "span", "data-span-name": s.name, "data-depth": String(s.depth),
        onclick: () => { wf.querySelectorAll(".sel").forEach((r) => r.classList.remove("sel")); row.classList.add("sel"); showSpan(detail, s, t); } },
      name, el("div", { class: "wf-track" }, bar, label));
      wf.append(row);
    }
    out.append(wf, detail);
    const logs = el("div", { "data-testid": "trace-logs" }, el("h4", { text: "Logs deste trace (VictoriaLogs)" }));
    if (t.logs_error) logs.append(msg(t.logs_error, "error"));
    else if (!t.logs.length) logs.append(msg("Nenhum log com este trace_id"));
    else {
      const tbody = el("tbody");
      for (const r of t.logs) {
        tbody.append(el("tr", {}, el("td", { text: r._time ? new Date(r._time).toLocaleTimeString("pt-BR") : "" }),
          el("td", { text: r.severity_text || r.level || "" }), el("td", { text: r._msg || "" }), el("td", { text: r.span_id || "" })));
      }
      logs.append(el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "hora" }), el("th", { text: "nível" }),
        el("th", { text: "mensagem" }), el("th", { text: "span" }))), tbody));
    }
    out.append(logs);
    const first = t.spans.find((s) => s.error) || t.spans[0];
    if (first) showSpan(detail, first, t);
  }
  function showSpan(detail, s, t) {
    detail.textContent = "";
    const rows = Object.entries(s.attributes).sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => el("tr", {}, el("td", { text: k }), el("td", { text: String(v) })));
    detail.append(el("h4", { text: `Span ${s.name} (${s.kind || "?"}, ${dur(s.duration)})` }),
      el("table", { "data-testid": "attributes" }, el("tbody", {}, ...rows)));
    if (s.events.length) {
      detail.append(el("h4", { text: "Eventos" }));
      for (const e of s.events) {
        detail.append(el("table", {}, el("tbody", {}, el("tr", {}, el("td", { text: "+" + dur(e.offset - s.offset) }), el("td", {})),
          ...Object.entries(e.fields).map(([k, v]) => el("tr", {}, el("td", { text: k }), el("td", { text: String(v) }))))));
      }
    }
    const logs = (t.logs || []).filter((r) => r.span_id === s.spanID);
    if (logs.length) detail.append(el("div", { class: "msg", text: `${logs.length} linha(s) de log deste span abaixo` }));
  }
  function closeTrace() { $("#trace").hidden = true; }

  // ---- refresh loop --------------------------------------------------------------------------------------------
  async function section(ids, promise, render) {
    try { render(await promise); }
    catch (e) { for (const id of ids) setPanel($(id), "error", msg(e.message, "error")); throw e; }
  }
  async function refresh(prefetched) {
    if (state.busy) { state.pending = true; return; }  // a change of service or range while a refresh runs
    state.busy = true;
    const status = $("#status");
    const failures = [];
    const track = (p) => p.catch((e) => failures.push(e.message));
    const panels = (prefetched || api("/api/panels?" + params())).then(async (b) => {
      await renderPanels(b.panels);
      document.body.dataset.rendered = "1";
    }).catch((e) => {
      for (const p of state.config.panels) { dropChart(p.id); const n = $(`[data-panel-id="${p.id}"]`); if (n) setPanel(n, "error", msg(e.message, "error")); }
      document.body.dataset.rendered = "1";  // rendered: a message in every panel
      throw e;
    });
    await Promise.all([
      track(panels),
      track(section(["#alerts"], api("/api/alerts?" + params()), renderAlerts)),
      track(section(["#blocks"], api("/api/blocks?" + params()), (b) => { state.blocks = b.blocks; state.skew = b.time - Date.now() / 1000; renderBlocks(); })),
      // Traces after the panels: Jaeger's answers are the largest to parse, and the charts come first.
      track(panels.catch(() => {}).then(() => section(["#failed", "#slow"], api("/api/traces?" + params()), renderTraces))),
    ]);
    const time = new Date().toLocaleTimeString("pt-BR");
    status.textContent = failures.length ? `atualizado às ${time}, com falhas: ${failures[0]}` : `atualizado às ${time}`;
    status.classList.toggle("bad", failures.length > 0);
    state.busy = false;
    if (state.pending) { state.pending = false; refresh(); }
  }
  function schedule() {
    clearInterval(state.timer);
    if (state.refresh > 0) state.timer = setInterval(() => { if (!document.hidden) refresh(); }, state.refresh * 1000);
  }
  function saveUrl() {
    const p = new URLSearchParams({ range: state.range, refresh: String(state.refresh) });
    if (state.service) p.set("service", state.service);
    history.replaceState(null, "", "?" + p.toString());
  }
  async function loadServices() {
    try {
      const body = await api("/api/services");
      const sel = $("#service");
      for (const s of body.services) if (![...sel.options].some((o) => o.value === s)) sel.append(el("option", { value: s, text: s }));
      sel.value = state.service;
    } catch (e) { /* the panels say what is wrong with Prometheus */ }
  }

  async function boot() {
    const q = new URLSearchParams(location.search);
    state.range = q.get("range") || state.range;
    state.service = q.get("service") || "";
    state.refresh = q.has("refresh") ? Number(q.get("refresh")) : state.refresh;
    $("#range").value = state.range; $("#refresh").value = String(state.refresh);
    if (state.service) $("#service").append(el("option", { value: state.service, text: state.service }));
    $("#service").value = state.service;
    // The panels' data does not need their definitions: ask for both at once (first render sooner).
    const firstPanels = api("/api/panels?" + params());
    firstPanels.catch(() => {});
    try { state.config = await api("/api/config"); }
    catch (e) {
      $("#status").textContent = "erro: " + e.message; $("#status").classList.add("bad");
      $("#rows").append(msg("Não consegui carregar a definição dos painéis: " + e.message, "error"));
      return;
    }
    document.title = state.config.title + " · omie-otel";
    $("#title").textContent = state.config.title;
    buildRows(state.config);
    $("#service").addEventListener("change", (e) => { state.service = e.target.value; saveUrl(); refresh(); });
    $("#range").addEventListener("change", (e) => { state.range = e.target.value; saveUrl(); refresh(); });
    $("#refresh").addEventListener("change", (e) => { state.refresh = Number(e.target.value); saveUrl(); schedule(); });
    $("#trace-close").addEventListener("click", closeTrace);
    $("#trace").addEventListener("click", (e) => { if (e.target.id === "trace") closeTrace(); });
    document.addEventListener("keydown", (e) => { if (e.key === "Escape") closeTrace(); });
    let resizeTimer = null;
    window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(resizeCharts, 100); });
    setInterval(renderBlocks, 1000);
    loadServices();
    await refresh(firstPanels);
    schedule();
  }
  window.omieDashboard = { state, refresh, openTrace };
  boot();
})();
