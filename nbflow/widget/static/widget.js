// nbflow's live graph. The kernel sends a Graphviz layout (only when steps are
// added or removed) and each step's summary status (StepStatus.to_json); this file recolours the nodes,
// fills the header, table and detail pane, and sends the buttons' actions.

const ORDER = ["pending", "waiting", "queued", "running", "retrying", "succeeded", "restored",
  "failed", "upstream-failed", "skipped", "cancelled", "stale"];
const DONE = new Set(["succeeded", "restored", "failed", "upstream-failed", "skipped", "cancelled"]);
// A view drawn from widget state saved in the notebook has no kernel behind it: the kernel
// answers this view's "hello" (see FlowWidget._on_message); without an answer in this time, the
// view says so and hides the buttons, which could do nothing. It does so at once when the widget
// manager marks the view disconnected (a model restored without a comm). The hello is repeated
// until answered, so a kernel busy at first (or a message sent before the comm was ready) still
// brings the view back.
const HELLO_MS = 5000;
const HELLO_EVERY_MS = 1000;
const OFFLINE = "not connected to a kernel: the graph as it was saved. Run the notebook for a live graph.";

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v);
  }
  for (const c of children) el.append(c);
  return el;
}

function fmtDuration(s) {
  if (s === null || s === undefined) return "";
  if (s < 1) return `${Math.round(s * 1000)}ms`;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${Math.round(s - 60 * m)}s` : `${Math.floor(m / 60)}h${m % 60}m`;
}

// One display of the step in the detail pane: images as images; HTML (a table) in a frame that runs no
// script and reaches nothing (sandbox with no permissions), so a step's HTML cannot act in the page.
function paneDisplay({ mime, data }) {
  if (mime === "text/html") {
    const frame = h("iframe", { class: "nbflow-display nbflow-display-html", sandbox: "", title: "display" });
    frame.srcdoc = data;
    return frame;
  }
  const src = mime === "image/svg+xml" ? "data:image/svg+xml;charset=utf-8," + encodeURIComponent(data)
    : `data:${mime};base64,${data.replace(/\n/g, "")}`;
  return h("img", { class: "nbflow-display nbflow-display-image", src, alt: "display" });
}

function detailLine(row) {
  const { state, duration, attempts } = row;
  const parts = [];
  if (state === "restored") parts.push("↺ restored");
  if (duration !== null && duration !== undefined) parts.push(fmtDuration(duration));
  if (attempts > 1) parts.push(`${attempts} tries`);
  if (!parts.length && state !== "pending") parts.push(state);
  return parts.join(" · ");
}

function render({ model, el }) {
  el.classList.add("nbflow-widget");
  const title = h("span", { class: "nbflow-title" }, "nbflow");
  const counts = h("span", { class: "nbflow-counts" });
  const progress = h("progress", { class: "nbflow-progress", max: "1", value: "0" });
  const saved = h("span", { class: "nbflow-saved" });
  const header = h("div", { class: "nbflow-header" }, title, progress, counts, saved);
  // An earlier run of this notebook whose kernel died mid-run (the kernel reads it from the manifest).
  const previous = h("div", { class: "nbflow-previous" });
  const graph = h("div", { class: "nbflow-graph" });
  const legend = h("div", { class: "nbflow-legend" });
  const select = h("select", { class: "nbflow-select", title: "show a step's details" });
  const button = (cls, label, action, tip) =>
    h("button", { class: `nbflow-button ${cls}`, title: tip, onclick: () => model.send({ action }) }, label);
  const controls = h("div", { class: "nbflow-controls" }, select,
    button("nbflow-run", "▶ Run pending", "run", "run pending and stale steps"),
    button("nbflow-cancel", "■ Cancel", "cancel", "cancel queued and running steps"),
    button("nbflow-retry", "↻ Retry failed", "retry", "run failed steps again"));
  const message = h("div", { class: "nbflow-message" });
  const detail = h("div", { class: "nbflow-detail" });
  const table = h("table", { class: "nbflow-table" });
  const tableBox = h("details", { class: "nbflow-table-box" }, h("summary", {}, "Steps"), table);
  el.append(header, previous, graph, legend, controls, message, detail, tableBox);

  let nodes = new Map(); // name -> {g, shape, texts}

  function choose(name) {
    model.set("selected", name);
    model.save_changes();
    showDetail();
  }

  select.addEventListener("change", () => choose(select.value));

  function drawGraph() {
    graph.innerHTML = model.get("layout_svg") || "";
    nodes = new Map();
    for (const g of graph.querySelectorAll("g.node")) {
      const t = g.querySelector("title");
      if (!t) continue;
      const name = t.textContent;
      g.setAttribute("data-nbflow-step", name);
      g.querySelector("title")?.remove(); // the browser tooltip would repeat the label
      const shape = g.querySelector("path, polygon, ellipse");
      const texts = g.querySelectorAll("text");
      g.addEventListener("click", () => choose(name));
      nodes.set(name, { g, shape, texts });
    }
    const svg = graph.querySelector("svg");
    if (svg) svg.classList.add("nbflow-svg");
  }

  // While a flow runs the kernel sends only the rows that changed (a custom message); they are
  // kept here over the model's last whole table, which the kernel replaces when the flow ends.
  let delta = {};
  let deltaSaved = null;
  function currentRows() {
    return Object.keys(delta).length ? { ...(model.get("steps") || {}), ...delta } : model.get("steps") || {};
  }

  function update() {
    const rows = currentRows();
    const palette = model.get("palette") || {};
    const tally = {};
    let done = 0;
    const names = Object.keys(rows);
    for (const name of names) {
      const row = rows[name];
      const state = row.state;
      tally[state] = (tally[state] || 0) + 1;
      if (DONE.has(state)) done += 1;
      const node = nodes.get(name);
      if (!node) continue;
      const [fill, ink] = palette[state] || ["#fff", "#000"];
      node.g.setAttribute("data-nbflow-state", state);
      if (node.shape) node.shape.setAttribute("fill", fill);
      node.texts.forEach((t) => t.setAttribute("fill", ink));
      if (node.texts.length > 1) node.texts[node.texts.length - 1].textContent = detailLine(row);
      node.g.classList.toggle("nbflow-selected", name === model.get("selected"));
    }
    progress.max = Math.max(names.length, 1);
    progress.value = done;
    counts.replaceChildren(...ORDER.filter((s) => tally[s]).map((s) =>
      h("span", { class: "nbflow-count", "data-state": s,
        style: `background:${(palette[s] || ["#eee"])[0]};color:${(palette[s] || ["", "#000"])[1]}` },
        `${s} ${tally[s]}`)));
    title.textContent = `nbflow · ${done}/${names.length} done`;
    const sv = (deltaSaved === null ? model.get("saved") : deltaSaved) || 0;
    saved.textContent = sv > 0 ? `time saved by restoring: ${fmtDuration(sv)}` : "";
    legend.replaceChildren(...ORDER.map((s) =>
      h("span", { class: "nbflow-legend-item" },
        h("span", { class: "nbflow-swatch", style: `background:${(palette[s] || ["#eee"])[0]}` }), s)));
    const current = model.get("selected");
    select.replaceChildren(h("option", { value: "" }, "— step details —"),
      ...names.map((n) => {
        const o = h("option", { value: n }, `${n} (${rows[n].state})`);
        if (n === current) o.selected = true;
        return o;
      }));
    table.replaceChildren(
      h("tr", {}, ...["step", "state", "attempts", "duration", "source", "error"].map((c) => h("th", {}, c))),
      ...names.map((n) => {
        const { state, duration, attempts } = rows[n];
        const source = rows[n].source || "";
        const error = rows[n].error || rows[n].reason || "";
        const tr = h("tr", { "data-nbflow-step": n, onclick: () => choose(n) },
          h("td", {}, n), h("td", { "data-state": state }, state), h("td", {}, String(attempts)),
          h("td", {}, fmtDuration(duration)), h("td", {}, source), h("td", {}, error));
        return tr;
      }));
    showDetail();
  }

  function showDetail() {
    const name = model.get("selected");
    if (!name) { detail.replaceChildren(); return; }
    const rows = currentRows();
    const row = rows[name];
    const d = model.get("detail") || {};
    const fresh = d.name === name;
    const items = [h("div", { class: "nbflow-detail-title" }, `${name}: ${row ? row.state : "unknown"}`)];
    const error = fresh ? d.error : row && row.state === "failed" ? row.error : "";
    if (error) items.push(h("div", { class: "nbflow-error" }, error));
    if (fresh && d.reason && !d.error) items.push(h("div", { class: "nbflow-reason" }, d.reason));
    if (fresh && d.traceback) items.push(h("div", { class: "nbflow-caption" }, "traceback"),
      h("pre", { class: "nbflow-traceback" }, d.traceback));
    if (fresh) {
      const facts = [];
      if (d.restored) facts.push(`restored: ${d.restored}`);  // the checkpoint's own figures, as in its cell
      else if (d.source) facts.push(`${d.source}${d.ended ? " at " + new Date(d.ended * 1000).toLocaleString() : ""}`);
      if (!d.restored && d.duration !== null && d.duration !== undefined) facts.push(`took ${fmtDuration(d.duration)}`);
      if (d.attempts && d.attempts.length > 1) facts.push(`${d.attempts.length} attempts`);
      const last = (d.attempts || [])[(d.attempts || []).length - 1];
      if (last && last[5]) facts.push(`${d.attempts.length > 1 ? "the last " : ""}ran in ${last[5]}`);
      if (!d.restored && d.time_saved) facts.push(`saved ${fmtDuration(d.time_saved)}`);
      if (d.checkpoint) facts.push(`checkpoint ${d.checkpoint}`);
      if (d.not_restorable) facts.push(`not restorable: ${d.not_restorable}`);
      if (facts.length) items.push(h("div", { class: "nbflow-provenance" }, facts.join(" · ")));
      const failed = (d.attempts || []).filter((a) => a[3]);
      if (failed.length && d.attempts.length > 1) {
        // every failed attempt with its traceback (its cell shows one line for it once a retry succeeded)
        items.push(h("div", { class: "nbflow-caption" }, "attempts"), h("ul", { class: "nbflow-attempts" },
          ...failed.map(([n, , , error, tb, where]) => h("li", { "data-nbflow-attempt": String(n) },
            `attempt ${n}${where ? ` (${where})` : ""}: ${error}`,
            ...(tb ? [h("details", {}, h("summary", {}, "traceback"), h("pre", { class: "nbflow-traceback" }, tb))]
              : [])))));
      }
      if (d.outputs && d.outputs.length) {
        items.push(h("ul", { class: "nbflow-outputs" },
          ...d.outputs.map(([n, s]) => h("li", {}, h("code", {}, n), s ? ` ${s}` : ""))));
      }
      if (d.text) items.push(h("div", { class: "nbflow-caption" }, "output"),
        h("pre", { class: "nbflow-output-text" }, d.text));
      if (d.displays && d.displays.length) {
        items.push(h("div", { class: "nbflow-caption" }, "displays"), ...d.displays.map(paneDisplay));
        if (d.displays_hidden) items.push(h("div", { class: "nbflow-caption" }, `${d.displays_hidden} more in the cell`));
      }
    }
    detail.replaceChildren(...items);
  }

  let live = false;
  const disconnected = () => el.closest(".jupyter-widgets-disconnected") !== null;
  function showPrevious() {
    const line = model.get("previous") || "";
    previous.textContent = line ? `⚠ ${line}` : "";
    previous.hidden = !line;
  }
  function showMessage() {
    message.textContent = el.classList.contains("nbflow-offline") ? OFFLINE : model.get("message") || "";
  }
  function setOffline(off) {
    if (el.classList.contains("nbflow-offline") === off) return;
    el.classList.toggle("nbflow-offline", off);
    showMessage();
  }
  function setLive() {
    live = true;
    clearInterval(hello);
    el.setAttribute("data-nbflow-live", "1"); // the kernel answered (tests wait for it)
    setOffline(disconnected());
  }
  function onCustom(msg) {
    if (msg && msg.hello) setLive();
    if (msg && msg.rows) {
      delta = { ...delta, ...msg.rows };
      deltaSaved = msg.saved;
      setLive();
      update();
    }
  }
  const offline = setTimeout(() => { if (!live) setOffline(true); }, HELLO_MS);
  const hello = setInterval(() => { if (!disconnected()) model.send({ action: "hello" }); }, HELLO_EVERY_MS);
  const watcher = new MutationObserver(() => { if (disconnected()) setOffline(true); else if (live) setOffline(false); });
  watcher.observe(el, { attributes: true, attributeFilter: ["class"] });

  drawGraph();
  update();
  showPrevious();
  showMessage();
  if (disconnected()) setOffline(true);
  const onLayout = () => { drawGraph(); update(); };
  const onSteps = () => { delta = {}; deltaSaved = null; setLive(); update(); }; // only a live kernel sends new states
  model.on("msg:custom", onCustom);
  model.send({ action: "hello" });
  model.on("change:layout_svg", onLayout);
  model.on("change:steps", onSteps);
  model.on("change:saved", update);
  model.on("change:detail", showDetail);
  model.on("change:selected", update);
  model.on("change:message", showMessage);
  model.on("change:previous", showPrevious);
  return () => {
    clearTimeout(offline);
    clearInterval(hello);
    watcher.disconnect();
    model.off("msg:custom", onCustom);
    model.off("change:layout_svg", onLayout);
    model.off("change:steps", onSteps);
    model.off("change:saved", update);
    model.off("change:detail", showDetail);
    model.off("change:selected", update);
    model.off("change:message", showMessage);
    model.off("change:previous", showPrevious);
  };
}

export default { render };
